/**
 * The push client against two real origins: when the first dies, the standby gets the stream from
 * the recent complete segments on (not only the current one), so a segment the dead origin had
 * acknowledged but not yet archived is not lost; a node that took over from another continues the
 * origin's numbering (next_msn).
 */
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { initSegment, MANIFEST, partBytes, PARTS, PDT0, PT, startOrigin, TD, type TestOrigin } from "../../test/support/origin-harness.ts";
import { PushClient } from "./push-client.ts";

const SINGLE = { ...MANIFEST, renditions: [MANIFEST.renditions[1]!] };
const R = SINGLE.renditions[0]!.name;
const log = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
const open: TestOrigin[] = [];
const clients: PushClient[] = [];

afterEach(async () => {
  clients.splice(0).forEach((c) => c.close());
  await Promise.all(open.splice(0).map(async (o) => {
    await o.origin.close().catch(() => undefined);
    await o.close();
  }));
});

const listening = async () => {
  const t = await startOrigin();
  open.push(t);
  const { port } = await t.origin.listen();
  return { t, url: `http://127.0.0.1:${port}` };
};

const pushSegment = (c: PushClient, msn: number, pdtMs = PDT0 + msn * TD * 1000) => {
  for (let p = 0; p < PARTS; p++) {
    c.pushPart(R, { msn, part: p, duration: PT, independent: p === 0, bytes: partBytes("demo", R, msn, p), ...(p === 0 ? { programDateTimeMs: pdtMs, initVersion: 0 } : {}) });
  }
  c.pushSegment(R, { msn, duration: TD, peakBitrate: 1000, averageBitrate: 1000 });
};

const waitFor = async (what: string, check: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

const segmentsOn = async (t: TestOrigin): Promise<number[]> => {
  const res = await t.request(`/live/demo/${R}/index.m3u8`);
  if (res.status !== 200) return [];
  const pl = (await t.playlist(`/live/demo/${R}/index.m3u8`)).segments;
  return pl.filter((s) => s.uri).map((s) => Number(/seg(\d+)/.exec(s.uri!)![1]));
};

/** A node's push client to `origin` for stream `demo`, closed after the test. */
const nodeClient = (origin: { t: TestOrigin; url: string }, o: { onNextMsn?: (msn: number) => void } = {}) => {
  const c = new PushClient({ streamId: "demo", origins: [origin.url], token: origin.t.token, logger: log, ...o });
  clients.push(c);
  return c;
};

/** Another node ran the stream on `origin` up to `segments` − 1, then died. */
const earlierNodeRan = async (origin: { t: TestOrigin; url: string }, segments: number) => {
  const first = nodeClient(origin);
  await first.setManifest(SINGLE);
  first.pushInit(R, 0, initSegment(R));
  for (let msn = 0; msn < segments; msn++) pushSegment(first, msn);
  await waitFor(`${segments} segments`, async () => (await segmentsOn(origin.t)).length === segments);
  first.close();
};

describe("push client: origin failover and takeover", () => {
  it("a standby origin gets the last complete segments again, then everything after", async () => {
    const primary = await listening();
    const standby = await listening();
    const failovers: string[] = [];
    const c = new PushClient({ streamId: "demo", origins: [primary.url, standby.url], token: primary.t.token, logger: log, failoverAfter: 2, requestTimeoutMs: 1000, onFailover: (_f, to) => failovers.push(to) });
    clients.push(c);
    await c.setManifest(SINGLE);
    c.pushInit(R, 0, initSegment(R));
    for (let msn = 0; msn < 5; msn++) pushSegment(c, msn);
    await waitFor("5 segments on the primary", async () => (await segmentsOn(primary.t)).length === 5);
    await primary.t.origin.close();
    for (let msn = 5; msn < 7; msn++) pushSegment(c, msn);
    await waitFor("the standby to reach segment 6", async () => (await segmentsOn(standby.t)).includes(6));
    expect(failovers).toEqual([standby.url]);
    // Segments 3 and 4 (acknowledged by the primary) are on the standby too, then 5 and 6.
    expect(await segmentsOn(standby.t)).toEqual([3, 4, 5, 6]);
    const bytes = new Uint8Array(await (await standby.t.request(`/live/demo/${R}/part3.0.m4s`)).arrayBuffer());
    expect(bytes).toEqual(partBytes("demo", R, 3, 0));
  });

  it("a node taking over a stream another node ran continues at the origin's next MSN, as a discontinuity", async () => {
    const origin = await listening();
    await earlierNodeRan(origin, 3);

    const told: number[] = [];
    const second = nodeClient(origin, { onNextMsn: (msn) => told.push(msn) });
    await second.setManifest(SINGLE);
    expect(told).toEqual([3]);
    // Its encoder's init differs from the first node's; it goes up as version 1, not over version 0.
    second.pushInit(R, 0, initSegment("another encoder"));
    // What a pipeline does with the answer (PartCutter.continueAt): the next segment is 3, discontinuous.
    for (let p = 0; p < PARTS; p++) {
      second.pushPart(R, { msn: 3, part: p, duration: PT, independent: p === 0, bytes: partBytes("demo", R, 3, p), ...(p === 0 ? { programDateTimeMs: PDT0 + 60_000, initVersion: 0, discontinuity: true } : {}) });
    }
    second.pushSegment(R, { msn: 3, duration: TD, peakBitrate: 1000, averageBitrate: 1000 });
    await waitFor("segment 3", async () => (await segmentsOn(origin.t)).includes(3));
    const pl = await origin.t.playlist(`/live/demo/${R}/index.m3u8`);
    expect(pl.segments.map((s) => s.discontinuity)).toEqual([false, false, false, true]);
    expect(pl.segments.map((s) => s.map)).toEqual(["init0.mp4", "init0.mp4", "init0.mp4", "init1.mp4"]);
    expect(new Uint8Array(await (await origin.t.request(`/live/demo/${R}/init1.mp4`)).arrayBuffer())).toEqual(initSegment("another encoder"));
    expect(new Uint8Array(await (await origin.t.request(`/live/demo/${R}/init0.mp4`)).arrayBuffer())).toEqual(initSegment(R));
  });

  it("a node that starts over at MSN 0 is told where to continue by the refusal", async () => {
    const origin = await listening();
    await earlierNodeRan(origin, 2);
    const told: number[] = [];
    const second = nodeClient(origin, { onNextMsn: (msn) => told.push(msn) });
    second.pushInit(R, 0, initSegment(R));
    // Its parts raced ahead of the manifest answer: msn 0 again, an hour later.
    pushSegment(second, 0, PDT0 + 3_600_000);
    await second.setManifest(SINGLE);
    await waitFor("the refusal", async () => told.length >= 2);
    expect(told).toEqual([2, 2]);
    expect(await segmentsOn(origin.t)).toEqual([0, 1]);
  });
});
