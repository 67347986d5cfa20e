/**
 * The archive upload route inside workerd: core-origin's PUTs of a recording's inits, segments,
 * manifest and poster land in the RECORDINGS bucket (miniflare's real R2) at the contract key with
 * their metadata, only after every check passed, and recordings.bytes counts each object once.
 */
import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ARCHIVE_HEADERS as AH, ARCHIVE_LIMITS, segmentMetadataFromR2, type ArchiveListing, type ArchiveManifest } from "../../shared/archive-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { createEdgeApp } from "../app.ts";
import { apiClient, testEnv } from "../../test/support/edge/api-client.ts";
import { concat, fragment, initSegment } from "../../test/support/mp4-boxes.ts";

const api = apiClient();
const { app } = createEdgeApp();
const bucket = () => testEnv().RECORDINGS!;
const db = () => testEnv().DB!;

// ---- tiny but valid fMP4 and JPEG bodies ----
const enc = (s: string) => new TextEncoder().encode(s);
/** A segment: its parts (moof+mdat pairs) concatenated. */
const segment = (label: string) => concat(fragment(`${label}.0`), fragment(`${label}.1`), fragment(`${label}.2`));
const jpeg = (n: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x03, n, 0xff, 0xd9]);
const sha256 = async (b: Uint8Array) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("");

const PDT = "2026-01-01T12:00:00.000Z";
const segHeaders = (o: Partial<Record<string, string>> = {}) => ({ [AH.duration]: "2.000000", [AH.programDateTime]: PDT, [AH.discontinuity]: "0", [AH.initVersion]: "1", ...o });

const nodeToken = () => signNodeToken(testEnv().NODE_SECRET!, "origin");

const send = async (method: string, path: string, o: { body?: Uint8Array; token?: string | null; headers?: Record<string, string>; env?: Partial<WorkerEnv> } = {}) => {
  const headers: Record<string, string> = { ...o.headers };
  const token = o.token === undefined ? await nodeToken() : o.token;
  if (token) headers.authorization = `Bearer ${token}`;
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, { method, headers, body: o.body as Uint8Array<ArrayBuffer> | undefined }), { ...env, ...o.env }, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { status: res.status, body, text };
};

let n = 0;
/** A recording row (with its owner and stream) in the given status. */
const newRecording = async (status = "recording") => {
  const owner = await api.signUp("archiver");
  const s = await api.createStream(owner.token, { title: "Archived", enable_recording: true });
  const id = `rec${Date.now().toString(36)}${(n++).toString(36)}`.padEnd(12, "0").slice(0, 20);
  const at = new Date().toISOString();
  await db()
    .prepare("INSERT INTO recordings (id, stream_id, user_id, title, status, started_at, retention_days, created_at, updated_at) VALUES (?1, ?2, ?3, 'Archived', ?4, ?5, 30, ?5, ?5)")
    .bind(id, s.stream_id, owner.user.id, status, at)
    .run();
  return { id, streamId: s.stream_id };
};
const bytesOf = async (id: string) => (await db().prepare("SELECT bytes FROM recordings WHERE id = ?1").bind(id).first<{ bytes: number }>())!.bytes;
const P = (id: string, rest: string) => `/api/v1/edge/recordings/${id}/${rest}`;

describe("archive uploads (PUT /api/v1/edge/recordings/…)", () => {
  it("stores an init and a segment at the contract keys with their metadata, and counts their bytes", async () => {
    const rec = await newRecording();
    const init = initSegment("720p");
    const r1 = await send("PUT", P(rec.id, "720p/init-1.mp4"), { body: init });
    expect(r1.status, r1.text).toBe(201);
    expect(r1.body).toEqual({ ok: true, key: `recordings/${rec.id}/720p/init-1.mp4`, size: init.byteLength, duplicate: false, replaced: false });
    const seg = segment("s7");
    const r2 = await send("PUT", P(rec.id, "720p/seg-7.m4s"), { body: seg, headers: { ...segHeaders({ [AH.discontinuity]: "1" }), "x-content-sha256": await sha256(seg) } });
    expect(r2.status, r2.text).toBe(201);

    const initObj = await bucket().get(`recordings/${rec.id}/720p/init-1.mp4`);
    expect(new Uint8Array(await initObj!.arrayBuffer())).toEqual(init);
    expect(initObj!.httpMetadata?.contentType).toBe("video/mp4");
    expect(initObj!.customMetadata).toEqual({ init: "1", sha256: await sha256(init) });
    const segObj = await bucket().get(`recordings/${rec.id}/720p/seg-7.m4s`);
    expect(new Uint8Array(await segObj!.arrayBuffer())).toEqual(seg);
    expect(segObj!.httpMetadata?.contentType).toBe("video/iso.segment");
    expect(segObj!.customMetadata).toEqual({ duration: "2", pdt: PDT, discontinuity: "1", init: "1", sha256: await sha256(seg) });
    expect(segmentMetadataFromR2(segObj!.customMetadata)).toEqual({ duration: 2, programDateTimeMs: Date.parse(PDT), discontinuity: true, initVersion: 1 });
    expect(await bytesOf(rec.id)).toBe(init.byteLength + seg.byteLength);
  });

  it("is idempotent: the same bytes again answer duplicate and add nothing; different bytes under an immutable key are a 409", async () => {
    const rec = await newRecording();
    const seg = segment("a");
    expect((await send("PUT", P(rec.id, "360p/seg-0.m4s"), { body: seg, headers: segHeaders() })).status).toBe(201);
    const again = await send("PUT", P(rec.id, "360p/seg-0.m4s"), { body: seg, headers: segHeaders() });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ok: true, duplicate: true });
    // Concurrent retries of one upload: exactly one creates the object, the byte count is right.
    const seg1 = segment("b");
    const racing = await Promise.all([0, 1, 2].map(() => send("PUT", P(rec.id, "360p/seg-1.m4s"), { body: seg1, headers: segHeaders() })));
    expect(racing.map((r) => r.status).sort()).toEqual([200, 200, 201]);
    expect(await bytesOf(rec.id)).toBe(seg.byteLength + seg1.byteLength);
    const other = await send("PUT", P(rec.id, "360p/seg-0.m4s"), { body: segment("different"), headers: segHeaders() });
    expect(other.status).toBe(409);
    expect(new Uint8Array(await (await bucket().get(`recordings/${rec.id}/360p/seg-0.m4s`))!.arrayBuffer())).toEqual(seg);
    expect(await bytesOf(rec.id)).toBe(seg.byteLength + seg1.byteLength);
  });

  it("replaces manifest.json and poster.jpg, keeping the byte count equal to what R2 holds", async () => {
    const rec = await newRecording("dvr");
    const manifest = (renditions: ArchiveManifest["renditions"]): Uint8Array =>
      enc(JSON.stringify({ version: 1, recordingId: rec.id, streamId: rec.streamId, targetDuration: 2, partTarget: 0.5, segmentDuration: 2, renditions } satisfies ArchiveManifest));
    const v720 = { name: "720p", type: "video" as const, codecs: "avc1.64001f", bitrate: 3_000_000, width: 1280, height: 720, fps: 30 };
    const m1 = manifest([v720]);
    const m2 = manifest([v720, { name: "audio", type: "audio", codecs: "mp4a.40.2", bitrate: 128_000, channels: 2 }]);
    expect((await send("PUT", P(rec.id, "manifest.json"), { body: m1 })).status).toBe(201);
    const replaced = await send("PUT", P(rec.id, "manifest.json"), { body: m2 });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ duplicate: false, replaced: true });
    expect((await send("PUT", P(rec.id, "poster.jpg"), { body: jpeg(1) })).status).toBe(201);
    expect((await send("PUT", P(rec.id, "poster.jpg"), { body: jpeg(2) })).status).toBe(200);
    expect(JSON.parse(await (await bucket().get(`recordings/${rec.id}/manifest.json`))!.text())).toMatchObject({ renditions: [{ name: "720p" }, { name: "audio" }] });
    expect((await bucket().get(`recordings/${rec.id}/poster.jpg`))!.httpMetadata?.contentType).toBe("image/jpeg");
    expect(await bytesOf(rec.id)).toBe(m2.byteLength + jpeg(2).byteLength);
  });

  it("401 without a valid node token (a user token or the admin token is not one); 503 without NODE_SECRET or R2", async () => {
    const rec = await newRecording();
    const user = await api.signUp("notanode");
    const foreign = await signNodeToken("another-secret-0123456789", "origin");
    for (const token of [null, "garbage", foreign, user.token, testEnv().EDGE_ADMIN_TOKEN!]) {
      const r = await send("PUT", P(rec.id, "720p/init-0.mp4"), { body: initSegment("x"), token });
      expect(r.status, String(token)).toBe(401);
    }
    expect((await send("PUT", P(rec.id, "720p/init-0.mp4"), { body: initSegment("x"), env: { NODE_SECRET: "" } })).status).toBe(503);
    expect((await send("PUT", P(rec.id, "720p/init-0.mp4"), { body: initSegment("x"), env: { RECORDINGS: undefined } })).status).toBe(503);
    expect(await bucket().head(`recordings/${rec.id}/720p/init-0.mp4`)).toBeNull();
  });

  it("400 naming the bad part of the path, the headers or the body, 413 over the limits; nothing is written", async () => {
    const rec = await newRecording();
    const bad = async (path: string, o: Parameters<typeof send>[2], fields: Record<string, unknown>, status = 400) => {
      const r = await send("PUT", path, o);
      expect(r.status, `${path} ${r.text}`).toBe(status);
      if (status === 400) expect(r.body.fields, path).toEqual(fields);
    };
    await bad(P("Bad_Id", "720p/seg-1.m4s"), { body: segment("x"), headers: segHeaders() }, { recording_id: expect.any(String) });
    await bad(P(rec.id, "720P/seg-1.m4s"), { body: segment("x"), headers: segHeaders() }, { rendition: expect.any(String) });
    await bad(P(rec.id, "720p/seg-01.m4s"), { body: segment("x"), headers: segHeaders() }, { file: "must be init-<n>.mp4 or seg-<n>.m4s" });
    await bad(P(rec.id, "720p/index.m3u8"), { body: segment("x"), headers: segHeaders() }, { file: "must be init-<n>.mp4 or seg-<n>.m4s" });
    await bad(P(rec.id, "master.m3u8"), { body: enc("#EXTM3U") }, { file: "must be manifest.json or poster.jpg" });
    await bad(P("x", "..%2F..%2Fseg-1.m4s"), { body: segment("x") }, { recording_id: expect.any(String), file: expect.any(String) });
    await bad(
      P(rec.id, "720p/seg-1.m4s"),
      { body: segment("x"), headers: { [AH.duration]: "-1", [AH.programDateTime]: "yesterday", [AH.discontinuity]: "yes", [AH.initVersion]: "v1" } },
      { [AH.duration]: expect.any(String), [AH.programDateTime]: expect.any(String), [AH.discontinuity]: "must be 0 or 1", [AH.initVersion]: expect.any(String) },
    );
    await bad(P(rec.id, "720p/seg-1.m4s"), { body: initSegment("x"), headers: segHeaders() }, { body: expect.stringMatching(/ftyp|moof/) });
    await bad(P(rec.id, "720p/init-1.mp4"), { body: segment("x") }, { body: expect.stringMatching(/init segment/) });
    await bad(P(rec.id, "poster.jpg"), { body: enc("not a jpeg") }, { body: expect.stringMatching(/JPEG/) });
    await bad(P(rec.id, "manifest.json"), { body: enc("{") }, { body: "not valid JSON" });
    await bad(P(rec.id, "manifest.json"), { body: enc(JSON.stringify({ version: 1, recordingId: "someoneelse1", streamId: "s", targetDuration: 2, partTarget: 0.5, segmentDuration: 2, renditions: [] })) }, { body: expect.stringMatching(/recordingId/) });
    await bad(P(rec.id, "720p/seg-1.m4s"), { body: segment("x"), headers: { ...segHeaders(), "x-content-sha256": "00".repeat(32) } }, { "x-content-sha256": "does not match the body" });
    await bad(P(rec.id, "720p/init-1.mp4"), { body: new Uint8Array(ARCHIVE_LIMITS.initBytes + 1) }, {}, 413);
    await bad(P(rec.id, "poster.jpg"), { body: new Uint8Array(ARCHIVE_LIMITS.posterBytes + 10) }, {}, 413);
    expect((await bucket().list({ prefix: `recordings/${rec.id}/` })).objects).toEqual([]);
    expect(await bytesOf(rec.id)).toBe(0);
  });

  it("404 for an unknown recording, 409 for one that takes no more uploads", async () => {
    const unknown = await send("PUT", P("nosuchrecording", "720p/init-1.mp4"), { body: initSegment("x") });
    expect(unknown.status).toBe(404);
    expect(await bucket().head("recordings/nosuchrecording/720p/init-1.mp4")).toBeNull();
    for (const status of ["ready", "failed"]) {
      const rec = await newRecording(status);
      const r = await send("PUT", P(rec.id, "720p/seg-3.m4s"), { body: segment("x"), headers: segHeaders() });
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ status });
      expect(await bucket().head(`recordings/${rec.id}/720p/seg-3.m4s`)).toBeNull();
    }
    for (const status of ["dvr", "finalizing"]) {
      const rec = await newRecording(status);
      expect((await send("PUT", P(rec.id, "720p/init-1.mp4"), { body: initSegment("x") })).status).toBe(201);
    }
  });

  it("lists a recording's objects with their metadata for the admin token only", async () => {
    const rec = await newRecording();
    await send("PUT", P(rec.id, "720p/init-1.mp4"), { body: initSegment("x") });
    for (let msn = 0; msn < 3; msn++) await send("PUT", P(rec.id, `720p/seg-${msn}.m4s`), { body: segment(`l${msn}`), headers: segHeaders() });
    expect((await send("GET", P(rec.id, "objects"), { token: null })).status).toBe(401);
    expect((await send("GET", P(rec.id, "objects"))).status).toBe(401);
    const admin = testEnv().EDGE_ADMIN_TOKEN!;
    const r = await send("GET", P(rec.id, "objects?limit=2"), { token: admin });
    expect(r.status).toBe(200);
    const page1 = r.body as unknown as ArchiveListing;
    expect(page1.recording).toEqual({ id: rec.id, status: "recording", bytes: await bytesOf(rec.id) });
    expect(page1.objects).toHaveLength(2);
    expect(page1.cursor).toEqual(expect.any(String));
    const page2 = (await send("GET", P(rec.id, `objects?limit=2&cursor=${encodeURIComponent(page1.cursor!)}`), { token: admin })).body as unknown as ArchiveListing;
    const all = [...page1.objects, ...page2.objects];
    expect(all.map((o) => o.key).sort()).toEqual([`recordings/${rec.id}/720p/init-1.mp4`, ...[0, 1, 2].map((m) => `recordings/${rec.id}/720p/seg-${m}.m4s`)].sort());
    expect(all.find((o) => o.key.endsWith("seg-1.m4s"))!.custom_metadata).toMatchObject({ duration: "2", pdt: PDT, discontinuity: "0", init: "1" });
    expect(all.reduce((a, o) => a + o.size, 0)).toBe(page1.recording.bytes);
    expect((await send("GET", P("nosuchrecording", "objects"), { token: admin })).status).toBe(404);
    expect((await send("GET", P(rec.id, "objects?limit=0"), { token: admin })).status).toBe(400);
  });
});
