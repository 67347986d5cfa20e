/**
 * Fault: an edge instance restarted cold. Origin + transcoder (this process, the 2-rung test
 * ladder), one edge (`wrangler dev`) in front of a counting proxy to the origin. The edge is
 * stopped and started again on the same port with a new state directory (an empty Cache API, as a
 * fresh POP instance), and 20 concurrent clients then ask for the same objects: the master
 * playlist, an init segment, a blocking media playlist reload (_HLS_msn/_HLS_part of the next
 * part), that part (held open until it exists), and a whole segment → exactly one origin request
 * per object, as edge-e2e asserts before any restart.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { exited, publish, startStack, STREAM_KEY, waitFor, type LiveStack } from "../live-path/harness.ts";
import { ROOT, startCountingProxy } from "./fault-stack.ts";

const CLIENTS = 20;

let live: LiveStack;
let proxy: Awaited<ReturnType<typeof startCountingProxy>>;
let edge: EdgeProcess;
let edgePort: number;
let publisher: ChildProcess | null = null;
const stateDirs: string[] = [];

const startEdge = async (): Promise<EdgeProcess> => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "cascade-cold-edge-"));
  stateDirs.push(stateDir);
  // The edge reads D1 (stream visibility) on viewer routes: a fresh state directory needs the schema.
  await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
  const e = startEdgeProcess({ index: 1, port: edgePort, originUrl: proxy.url, adminToken: EDGE_ADMIN_TOKEN, stateDir, root: ROOT });
  await e.ready(90_000);
  return e;
};

beforeAll(async () => {
  live = await startStack({ graceSeconds: 5 });
  proxy = await startCountingProxy(live.originUrl);
  edgePort = await freePort();
  edge = await startEdge();
  publisher = publish(live.rtmpUrl, STREAM_KEY);
  let last = "";
  await waitFor(
    "the stream through the edge",
    async () => {
      const res = await fetch(`${edge.url}/hls/it/180p/index.m3u8`);
      const text = await res.text();
      last = `${res.status} ${text.slice(0, 300)}`;
      return res.ok && parseMediaPlaylist(text).segments.filter((s) => s.uri).length >= 2;
    },
    60_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last answer ${last}; origin requests ${JSON.stringify([...proxy.counts].slice(0, 10))}`);
  });
}, 180_000);

afterAll(async () => {
  if (publisher && publisher.exitCode === null) {
    publisher.kill("SIGTERM");
    await exited(publisher);
  }
  await edge?.stop();
  await proxy?.close();
  await live?.close();
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
});

/** `CLIENTS` concurrent GETs of one edge path; every answer must be a 200 with the same body. */
const fanIn = async (p: string): Promise<Buffer> => {
  const results = await Promise.all(
    Array.from({ length: CLIENTS }, () => fetch(`${edge.url}/hls/it/${p}`).then(async (r) => ({ status: r.status, body: Buffer.from(await r.arrayBuffer()) }))),
  );
  for (const r of results) expect(r.status, p).toBe(200);
  for (const r of results) expect(r.body.equals(results[0]!.body), `${p}: every client got the same bytes`).toBe(true);
  return results[0]!.body;
};

/** Origin requests (through the proxy) for one stream path with exactly this query ("" for none). */
const originRequests = (p: string, query = ""): number => proxy.count((u) => u === `/live/it/${p}${query}`);

describe("fault: edge restarted cold", () => {
  it(`after a cold restart, ${CLIENTS} concurrent clients per object → one origin request per object`, async () => {
    // Warm the first instance with the objects the test asks for afterwards.
    await fanIn("master.m3u8");
    await fanIn("180p/init0.mp4");

    await edge.stop();
    const t0 = Date.now();
    edge = await startEdge();
    const restartMs = Date.now() - t0;
    const before = new Map(proxy.counts);
    const since = (p: string, query = "") => originRequests(p, query) - (before.get(`/live/it/${p}${query}`) ?? 0);

    // Cold objects that the old instance had cached.
    await fanIn("master.m3u8");
    await fanIn("180p/init0.mp4");
    // The next part: a blocking reload for it, then the part itself (held until it exists).
    const text = await (await fetch(`${live.originUrl}/live/it/180p/index.m3u8`)).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"/.exec(text);
    expect(hint).not.toBeNull();
    const msn = Number(hint![1]);
    const part = Number(hint![2]);
    const blockingQuery = `?_HLS_msn=${msn}&_HLS_part=${part}`;
    const [reload, partBytes] = await Promise.all([fanIn(`180p/index.m3u8${blockingQuery}`), fanIn(`180p/part${msn}.${part}.m4s`)]);
    expect(reload.toString()).toContain(`part${msn}.${part}.m4s`);
    expect(partBytes.byteLength).toBeGreaterThan(0);
    // A whole segment the new instance has not seen.
    const playlist = parseMediaPlaylist(reload.toString());
    const segment = playlist.segments.filter((s) => s.uri).at(-1)!;
    await fanIn(`180p/${segment.uri!}`);

    const counts = {
      master: since("master.m3u8"),
      init: since("180p/init0.mp4"),
      blockingPlaylist: proxy.count((u) => u.startsWith("/live/it/180p/index.m3u8?") && u.includes(`_HLS_msn=${msn}`) && u.includes(`_HLS_part=${part}`)) - [...before.entries()].filter(([u]) => u.startsWith("/live/it/180p/index.m3u8?") && u.includes(`_HLS_msn=${msn}`) && u.includes(`_HLS_part=${part}`)).reduce((a, [, n]) => a + n, 0),
      part: since(`180p/part${msn}.${part}.m4s`),
      segment: since(`180p/${segment.uri!}`),
    };
    expect(counts).toEqual({ master: 1, init: 1, blockingPlaylist: 1, part: 1, segment: 1 });
    console.log(
      `FAULT edge-cold-restart: restart ${(restartMs / 1000).toFixed(1)} s (new state dir), ${CLIENTS} clients per object → origin requests master ${counts.master}, init ${counts.init}, blocking playlist ${counts.blockingPlaylist}, part ${counts.part}, segment ${counts.segment}`,
    );
  }, 180_000);
});
