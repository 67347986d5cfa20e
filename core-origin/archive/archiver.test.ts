/**
 * The origin's archiver with the real push routes and a stand-in edge: what a recorded stream
 * uploads (keys, bytes, metadata, order), persist-before-ack and journal replay after a "crash",
 * retries, idempotency, DVR conversion and the status endpoint.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ARCHIVE_HEADERS as AH, originArchivePath, type ArchiveManifest, type ArchiveStatus } from "../../shared/archive-protocol.ts";
import type { StreamManifest } from "../../shared/push-protocol.ts";
import { signNodeToken, verifyNodeToken } from "../../shared/tokens.ts";
import { createOrigin, type Origin } from "../app.ts";
import { asBody, initSegment, MANIFEST, metricValue, NODE_SECRET, partBytes, PARTS, PDT0, Pusher, TD, type TestOrigin } from "../../test/support/origin-harness.ts";
import { concatBytes } from "../../shared/bytes.ts";

const REC = "rec0000000a1";
const recorded = (mode: "record" | "dvr" = "record", id = REC): StreamManifest => ({ ...MANIFEST, dvrWindowS: 600, recording: { id, mode } });
const TWO: StreamManifest = { ...MANIFEST, renditions: [MANIFEST.renditions[1]!, MANIFEST.renditions[2]!] };

interface Upload {
  path: string;
  bytes: Uint8Array;
  headers: Headers;
}

/** The edge stand-in: records uploads by path; `mode` makes it fail. */
class FakeEdge {
  readonly uploads: Upload[] = [];
  readonly stored = new Map<string, Uint8Array>();
  mode: "ok" | "down" | "503" = "ok";
  /** Paths answered with this status for good. */
  readonly refuse = new Map<string, number>();
  attempts = 0;

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    this.attempts++;
    const url = new URL(String(input));
    if (this.mode === "down") throw new TypeError("fetch failed: ECONNREFUSED");
    if (this.mode === "503") return new Response('{"error":"unavailable"}', { status: 503 });
    const headers = new Headers(init?.headers);
    const token = (headers.get("authorization") ?? "").replace(/^Bearer /, "");
    if ((await verifyNodeToken(NODE_SECRET, token)) !== "origin") return new Response("{}", { status: 401 });
    const refused = this.refuse.get(url.pathname);
    if (refused) return new Response('{"error":"refused"}', { status: refused });
    const bytes = new Uint8Array(init!.body as Uint8Array);
    this.uploads.push({ path: url.pathname, bytes, headers });
    this.stored.set(url.pathname, bytes);
    return new Response('{"ok":true}', { status: 201 });
  }) as typeof fetch;

  paths(): string[] {
    return this.uploads.map((u) => u.path.replace(`/api/v1/edge/recordings/${REC}/`, ""));
  }
}

interface Harness extends TestOrigin {
  edge: FakeEdge;
  logs: Array<Record<string, unknown>>;
}

const bases: string[] = [];
afterEach(async () => {
  for (const b of bases.splice(0)) await rm(b, { recursive: true, force: true });
});

/** An origin archiving to the fake edge; `base` reuses a storage directory (a restart). */
const startArchiving = async (o: { edge?: FakeEdge; base?: string; archiveUrl?: string | null } = {}): Promise<Harness> => {
  const base = o.base ?? (await mkdtemp(path.join(tmpdir(), "cascade-archive-unit-")));
  if (!o.base) bases.push(base);
  const edge = o.edge ?? new FakeEdge();
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const origin: Origin = createOrigin({
    host: "127.0.0.1",
    port: 0,
    nodeSecret: NODE_SECRET,
    storageDir: path.join(base, "store"),
    memorySegments: 8,
    playlistSegments: 15,
    archiveUrl: o.archiveUrl === undefined ? "http://edge.test" : o.archiveUrl,
    archive: { fetch: edge.fetch, backoff: { baseMs: 5, maxMs: 20 }, posterIntervalMs: 60_000 },
    logger: pino({ level: "info" }, sink),
  });
  await origin.archiver.start();
  const token = await signNodeToken(NODE_SECRET, "unit-node");
  const request = async (p: string, init?: RequestInit) => origin.app.request(p, init);
  return {
    origin,
    base,
    storageDir: path.join(base, "store"),
    storage: null as never,
    token,
    request,
    get: async (p, headers = {}) => {
      const res = await request(p, { headers });
      return { res, text: await res.text() };
    },
    playlist: () => Promise.reject(new Error("not used")),
    close: async () => {
      origin.archiver.close();
    },
    edge,
    logs,
  };
};

const status = async (t: Harness, stream = "demo", query = ""): Promise<ArchiveStatus> => {
  const res = await t.request(`${originArchivePath(stream)}${query}`, { headers: { authorization: `Bearer ${t.token}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as ArchiveStatus;
};

const concatParts = (stream: string, rendition: string, msn: number): Uint8Array =>
  concatBytes(Array.from({ length: PARTS }, (_, p) => partBytes(stream, rendition, msn, p)));

describe("archiver: a recorded stream", () => {
  it("uploads manifest.json, every init and every complete segment with its metadata, init before segments", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", recorded());
    await p.announce();
    await p.pushSegments(0, 2);
    await t.origin.archiver.idle();
    const paths = t.edge.paths();
    expect(paths.sort()).toEqual(
      ["manifest.json", ...MANIFEST.renditions.flatMap((r) => [`${r.name}/init-0.mp4`, `${r.name}/seg-0.m4s`, `${r.name}/seg-1.m4s`, `${r.name}/seg-2.m4s`])].sort(),
    );
    // Order: the manifest first; a rendition's init before its segments.
    const order = t.edge.paths();
    expect(order[0]).toBe("manifest.json");
    for (const r of MANIFEST.renditions) expect(order.indexOf(`${r.name}/init-0.mp4`)).toBeLessThan(order.indexOf(`${r.name}/seg-0.m4s`));
    // Bytes: the init as pushed, a segment = its parts concatenated; metadata in headers.
    const seg1 = t.edge.uploads.find((u) => u.path.endsWith("/720p/seg-1.m4s"))!;
    expect(seg1.bytes).toEqual(concatParts("demo", "720p", 1));
    expect(Object.fromEntries([AH.duration, AH.programDateTime, AH.discontinuity, AH.initVersion].map((h) => [h, seg1.headers.get(h)]))).toEqual({
      [AH.duration]: "2.000000",
      [AH.programDateTime]: new Date(PDT0 + 1 * TD * 1000).toISOString(),
      [AH.discontinuity]: "0",
      [AH.initVersion]: "0",
    });
    expect(seg1.headers.get("content-type")).toBe("video/iso.segment");
    expect(seg1.headers.get("x-content-sha256")).toMatch(/^[0-9a-f]{64}$/);
    expect(t.edge.uploads.find((u) => u.path.endsWith("/audio/init-0.mp4"))!.bytes).toEqual(initSegment("audio"));
    const manifest = JSON.parse(new TextDecoder().decode(t.edge.stored.get(`/api/v1/edge/recordings/${REC}/manifest.json`)!)) as ArchiveManifest;
    expect(manifest).toEqual({ version: 1, recordingId: REC, streamId: "demo", targetDuration: 2, partTarget: 0.5, segmentDuration: 2, renditions: MANIFEST.renditions });

    const s = await status(t);
    expect(s).toMatchObject({ enabled: true, stream_id: "demo", recording_id: REC, mode: "record", ended: false, pending: 0, uploaded: 13, rejected: 0 });
    expect(s.lag_ms).toHaveLength(9);
    expect(await metricValue(t, "cascade_origin_archive_uploaded_total", { kind: "segment" })).toBe(9);
    expect(await metricValue(t, "cascade_origin_archive_queue_depth")).toBe(0);
    expect(await metricValue(t, "cascade_origin_archive_lag_seconds_count")).toBe(9);
    // Nothing left in the journal.
    expect(await readdir(path.join(t.storageDir, "_archive", "journal"))).toEqual([]);
  });

  it("a retried segment boundary or init does not upload twice; the end archives the segment it closes", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", { ...recorded(), renditions: [MANIFEST.renditions[1]!] });
    await p.announce();
    await p.pushSegment(0, ["360p"]);
    await t.origin.archiver.idle();
    // The node retries the boundary (same seq) and the init: duplicates, nothing new to archive.
    expect((await p.segment("360p", 0, { seq: p.nextSeq("360p") - 1 })).status).toBe(200);
    expect((await p.putInit("360p")).status).toBe(200);
    // Two parts of segment 1, then the stream ends: the end closes segment 1 (1 s).
    await p.pushPart(1, 0, ["360p"]);
    await p.pushPart(1, 1, ["360p"]);
    expect((await p.end()).status).toBe(200);
    await t.origin.archiver.idle();
    expect(t.edge.paths().sort()).toEqual(["360p/init-0.mp4", "360p/seg-0.m4s", "360p/seg-1.m4s", "manifest.json"]);
    expect(t.edge.uploads.find((u) => u.path.endsWith("seg-1.m4s"))!.headers.get(AH.duration)).toBe("1.000000");
    expect(await status(t)).toMatchObject({ ended: true, pending: 0 });
  });

  it("configure_encoders after the first segments: a manifest that starts the recording archives what came before", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", TWO);
    await p.announce();
    await p.pushSegments(0, 1);
    await t.origin.archiver.idle();
    expect(t.edge.uploads).toEqual([]);
    expect((await p.putManifest({ ...TWO, recording: { id: REC, mode: "record" } })).status).toBe(200);
    await p.pushSegment(2);
    await t.origin.archiver.idle();
    expect(t.edge.paths().sort()).toEqual(["manifest.json", ...["360p", "audio"].flatMap((r) => [`${r}/init-0.mp4`, `${r}/seg-0.m4s`, `${r}/seg-1.m4s`, `${r}/seg-2.m4s`])].sort());
  });

  it("a rung dropped mid-stream stays in manifest.json (renditions accumulate)", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", recorded());
    await p.announce();
    await p.pushSegment(0);
    expect((await p.putManifest({ ...recorded(), renditions: TWO.renditions })).status).toBe(200);
    await t.origin.archiver.idle();
    const last = t.edge.uploads.filter((u) => u.path.endsWith("manifest.json")).at(-1)!;
    expect((JSON.parse(new TextDecoder().decode(last.bytes)) as ArchiveManifest).renditions.map((r) => r.name)).toEqual(["720p", "360p", "audio"]);
  });
});

describe("archiver: durability", () => {
  it("acknowledges while the edge is down, and a restarted origin uploads everything it acknowledged (journal replay)", async () => {
    const edge = new FakeEdge();
    edge.mode = "down";
    const a = await startArchiving({ edge });
    const p = new Pusher(a, "demo", recorded());
    await p.announce();
    await p.pushSegments(0, 3);
    expect(edge.uploads).toEqual([]);
    expect((await status(a)).pending).toBe(1 + 3 + 12);
    expect(await metricValue(a, "cascade_origin_archive_queue_depth")).toBe(16);
    expect(await metricValue(a, "cascade_origin_archive_failures_total", { outcome: "retry" })).toBeGreaterThan(0);
    expect(a.logs.some((l) => l.event === "archive_upload_failed" && typeof l.problem === "string" && (l.problem as string).includes("ECONNREFUSED"))).toBe(true);
    // "kill -9": the process stops uploading and its memory is gone; only the storage dir remains.
    await a.close();

    edge.mode = "ok";
    const b = await startArchiving({ edge, base: a.base });
    expect(b.origin.archiver.replayedAtStart).toBe(16);
    expect(await metricValue(b, "cascade_origin_archive_replayed_total")).toBe(16);
    await b.origin.archiver.idle();
    expect(edge.paths().sort()).toEqual(["manifest.json", ...MANIFEST.renditions.flatMap((r) => [0, 1, 2, 3].map((m) => `${r.name}/seg-${m}.m4s`).concat(`${r.name}/init-0.mp4`))].sort());
    expect(edge.uploads.find((u) => u.path.endsWith("/720p/seg-3.m4s"))!.bytes).toEqual(concatParts("demo", "720p", 3));
    expect((await status(b, "demo", `?recording_id=${REC}`)).pending).toBe(0);
    expect(await readdir(path.join(b.storageDir, "_archive", "journal"))).toEqual([]);
  });

  it("an upload that reached R2 before the crash is sent again after it with the same bytes (idempotent)", async () => {
    const edge = new FakeEdge();
    const a = await startArchiving({ edge });
    const p = new Pusher(a, "demo", { ...recorded(), renditions: [MANIFEST.renditions[1]!] });
    await p.announce();
    await p.pushSegment(0, ["360p"]);
    await a.origin.archiver.idle();
    const before = new Map(edge.stored);
    // A crash right after R2 stored an object but before its journal entry went: simulate by
    // journaling it again in a fresh process (the same key, the same bytes).
    await a.close();
    const b = await startArchiving({ edge, base: a.base });
    const q = new Pusher(b, "demo", { ...recorded(), renditions: [MANIFEST.renditions[1]!] });
    await q.announce();
    await q.part("360p", 1, 0, { resync: true });
    await b.origin.archiver.idle();
    for (const [k, v] of before) expect(edge.stored.get(k)).toEqual(v);
    expect(edge.uploads.filter((u) => u.path.endsWith("360p/init-0.mp4"))).toHaveLength(2);
  });

  it("answers 503 (the node retries) when the journal cannot be written, and journals on the retry", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", { ...recorded(), renditions: [MANIFEST.renditions[1]!] });
    await p.announce();
    for (let part = 0; part < PARTS; part++) await p.pushPart(0, part, ["360p"]);
    const journal = (t.origin.archiver as unknown as { journal: { append: (...a: unknown[]) => Promise<unknown> } }).journal;
    const append = journal.append.bind(journal);
    journal.append = () => Promise.reject(new Error("ENOSPC: no space left on device"));
    const seq = p.nextSeq("360p");
    const refused = await p.segment("360p", 0, { seq });
    expect(refused.status).toBe(503);
    expect(await metricValue(t, "cascade_origin_archive_failures_total", { outcome: "journal" })).toBe(1);
    journal.append = append;
    expect((await p.segment("360p", 0, { seq })).status).toBe(200);
    await t.origin.archiver.idle();
    expect(t.edge.paths()).toContain("360p/seg-0.m4s");
  });

  it("retries a failing edge with backoff; drops an upload the edge refuses for good, with an error line", async () => {
    const edge = new FakeEdge();
    edge.mode = "503";
    const t = await startArchiving({ edge });
    const p = new Pusher(t, "demo", { ...recorded(), renditions: [MANIFEST.renditions[1]!] });
    edge.refuse.set(`/api/v1/edge/recordings/${REC}/360p/seg-1.m4s`, 409);
    await p.announce();
    await p.pushSegments(0, 1, ["360p"]);
    await new Promise((r) => setTimeout(r, 60));
    expect(edge.uploads).toEqual([]);
    edge.mode = "ok";
    await t.origin.archiver.idle();
    expect(t.edge.paths().sort()).toEqual(["360p/init-0.mp4", "360p/seg-0.m4s", "manifest.json"]);
    expect(await metricValue(t, "cascade_origin_archive_failures_total", { outcome: "rejected" })).toBe(1);
    expect(t.logs.filter((l) => l.event === "archive_upload_rejected")).toEqual([expect.objectContaining({ level: 50, recording: REC, rendition: "360p", file: "seg-1.m4s", status: 409 })]);
    expect(await status(t)).toMatchObject({ pending: 0, rejected: 1 });
  });
});

describe("archiver: DVR-only recordings and configuration", () => {
  it("archives nothing for mode dvr until converted; convert queues what the origin holds and archives from then on", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo", { ...recorded("dvr"), renditions: [MANIFEST.renditions[1]!] });
    await p.announce();
    await p.pushSegments(0, 2, ["360p"]);
    await t.origin.archiver.idle();
    expect(t.edge.uploads).toEqual([]);
    expect(await status(t)).toMatchObject({ recording_id: REC, mode: "dvr", pending: 0 });

    const post = (body: unknown, token: string | null = t.token, stream = "demo") =>
      t.request(originArchivePath(stream), { method: "POST", headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" }, body: asBody(new TextEncoder().encode(JSON.stringify(body))) });
    expect((await post({ recording_id: REC }, null)).status).toBe(401);
    expect((await post({ recording_id: "NOT VALID" })).status).toBe(400);
    expect((await post({ recording_id: "rec0000000zz" })).status).toBe(409);
    expect((await post({ recording_id: REC }, t.token, "nosuchstream")).status).toBe(404);
    const res = await post({ recording_id: REC });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stream_id: "demo", recording_id: REC, queued: 5 });
    await p.pushSegment(3, ["360p"]);
    await t.origin.archiver.idle();
    expect(t.edge.paths().sort()).toEqual(["360p/init-0.mp4", "360p/seg-0.m4s", "360p/seg-1.m4s", "360p/seg-2.m4s", "360p/seg-3.m4s", "manifest.json"]);
    // Converting again queues nothing new.
    expect(await (await post({ recording_id: REC })).json()).toMatchObject({ queued: 0 });
  });

  it("without CASCADE_ARCHIVE_URL: one warning per recording, no journal, status says disabled, convert is 503", async () => {
    const t = await startArchiving({ archiveUrl: null });
    const p = new Pusher(t, "demo", recorded());
    await p.announce();
    await p.pushSegment(0);
    await p.putManifest(recorded());
    expect(t.logs.filter((l) => l.event === "archive_disabled")).toEqual([expect.objectContaining({ level: 40, stream: "demo", recording: REC })]);
    expect(existsSync(path.join(t.storageDir, "_archive"))).toBe(false);
    expect(await status(t)).toMatchObject({ enabled: false, pending: 0 });
    const res = await t.request(originArchivePath("demo"), { method: "POST", headers: { authorization: `Bearer ${t.token}` }, body: asBody(new TextEncoder().encode(`{"recording_id":"${REC}"}`)) });
    expect(res.status).toBe(503);
  });

  it("a stream without a recording (the local demo) is not archived", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo");
    await p.announce();
    await p.pushSegments(0, 1);
    await t.origin.archiver.idle();
    expect(t.edge.attempts).toBe(0);
    expect(await status(t)).toMatchObject({ recording_id: null, mode: null, pending: 0 });
  });

  it("the manifest's recording and DVR window are validated strictly", async () => {
    const t = await startArchiving();
    const p = new Pusher(t, "demo");
    for (const bad of [
      { ...MANIFEST, recording: { id: "../etc", mode: "record" } },
      { ...MANIFEST, recording: { id: REC, mode: "archive" } },
      { ...MANIFEST, recording: { id: REC, mode: "record", extra: 1 } },
      { ...MANIFEST, recording: "rec" },
      { ...MANIFEST, dvrWindowS: -1 },
      { ...MANIFEST, dvrWindowS: 14_401 },
      { ...MANIFEST, dvrWindowS: 1.5 },
    ]) {
      const res = await p.putManifest(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    expect((await p.putManifest({ ...MANIFEST, dvrWindowS: 0, recording: null })).status).toBe(201);
  });
});
