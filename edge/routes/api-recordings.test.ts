import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { verifyNodeToken } from "../../shared/tokens.ts";
import { createEdgeApp } from "../app.ts";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { bucket, insertRecording, JPEG, objectKeys, putInit, putManifest, putSegments, recordingRow, testEnv, VIDEO_360 } from "../../test/support/edge/recordings.ts";
import type { RecordingStatus } from "../recordings/recording-store.ts";

/** A stand-in origin for the archive endpoints (shared/archive-protocol.ts) that records every call. */
const origin = {
  calls: [] as Array<{ method: string; path: string; node: string | null; body: string }>,
  queueStatus: 200,
  pending: 0,
  ended: true,
  thumbnail: null as Uint8Array | null,
};
const upstream = async (req: Request): Promise<Response> => {
  const url = new URL(req.url);
  const token = (req.headers.get("authorization") ?? "").replace(/^Bearer /, "");
  origin.calls.push({ method: req.method, path: url.pathname + url.search, node: await verifyNodeToken(testEnv().NODE_SECRET!, token), body: req.method === "POST" ? await req.text() : "" });
  const archive = /^\/ingest\/v1\/streams\/([^/]+)\/archive$/.exec(url.pathname);
  if (archive && req.method === "POST") {
    if (origin.queueStatus !== 200) return Response.json({ error: "refused" }, { status: origin.queueStatus });
    return Response.json({ queued: 12 });
  }
  if (archive) return Response.json({ stream_id: archive[1], recording_id: url.searchParams.get("recording_id"), mode: "dvr", ended: origin.ended, pending: origin.pending, uploaded: 0, rejected: 0, lag_ms: [] });
  if (url.pathname.endsWith("/thumbnail.jpg") && origin.thumbnail) return new Response(origin.thumbnail, { headers: { "content-type": "image/jpeg" } });
  return Response.json({ error: "not found" }, { status: 404 });
};
const api = apiClient({ upstream });
const { app } = createEdgeApp({ upstream });
const vod = async (path: string) => {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`), testEnv(), ctx);
  await res.arrayBuffer();
  await waitOnExecutionContext(ctx);
  return res.status;
};

const T0 = Date.UTC(2026, 2, 4, 5, 6, 7, 0);

/** Archived objects of a one-rendition recording (what the origin would have uploaded). */
const archive = async (id: string, streamId: string) => {
  await putManifest(id, streamId, [VIDEO_360]);
  await putInit(id, "360p", 0);
  await putSegments(id, "360p", [0, 1].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000, size: 300 })));
};

/** A streamer with a stream and one recording per status (the ready one archived and readable at /vod). */
const channel = async (prefix: string) => {
  const user = await api.signUp(prefix);
  const stream = await api.createStream(user.token, { title: `${prefix} stream` });
  const rec = async (status: RecordingStatus, startedAt: string, extra: { endedAt?: string | null } = {}) => {
    const id = await insertRecording({ streamId: stream.stream_id, userId: user.user.id, status: status === "ready" ? "finalizing" : status, startedAt, endedAt: extra.endedAt });
    if (status === "ready") {
      await archive(id, stream.stream_id);
      await bucket().put(`recordings/${id}/poster.jpg`, JPEG);
      // Finalised the way the saga does it.
      const { finalizeRecording } = await import("../recordings/finalize.ts");
      const { getRecording } = await import("../recordings/recording-store.ts");
      await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
    }
    return id;
  };
  const ready = await rec("ready", "2026-03-04T10:00:00.000Z");
  const dvr = await rec("dvr", "2026-03-04T09:00:00.000Z");
  const failed = await rec("failed", "2026-03-04T08:00:00.000Z");
  const recording = await rec("recording", "2026-03-04T11:00:00.000Z", { endedAt: null });
  return { user, token: user.token, streamId: stream.stream_id, ready, dvr, failed, recording };
};

type Listing = { recordings: Array<{ recording_id: string; status: string; vod_url: string | null; retention_days?: number }>; next_cursor: string | null };
const ids = (body: Listing) => body.recordings.map((r) => r.recording_id);

/** What must not change when a request is refused. */
const snapshot = async (id: string) => ({ row: await recordingRow(id), keys: await objectKeys(id) });

describe("recordings API", () => {
  it("lists ready recordings to everyone and every status to the owner and admins, newest first, in keyset pages", async () => {
    const a = await channel("reca");
    const b = await api.signUp("recb");
    const admin = await api.signUp("recadm");
    const adminToken = await api.withRole(admin, "admin");
    const path = `/api/v1/streams/${a.streamId}/recordings`;
    for (const token of [null, b.token]) {
      const r = await api.call<Listing>("GET", path, { token });
      expect(r.status).toBe(200);
      expect(ids(r.body)).toEqual([a.ready]);
      expect(r.body.recordings[0]).toEqual({
        recording_id: a.ready,
        stream_id: a.streamId,
        title: "A recording",
        status: "ready",
        started_at: "2026-03-04T10:00:00.000Z",
        ended_at: expect.any(String),
        duration_s: 4,
        bytes: expect.any(Number),
        expires_at: expect.any(String),
        created_at: expect.any(String),
        vod_url: `/vod/${a.ready}/master.m3u8`,
        poster_url: `/vod/${a.ready}/poster.jpg`,
      });
    }
    for (const token of [a.token, adminToken]) {
      const r = await api.call<Listing>("GET", path, { token });
      expect(ids(r.body)).toEqual([a.recording, a.ready, a.dvr, a.failed]);
      expect(r.body.recordings.find((x) => x.recording_id === a.dvr)).toMatchObject({ status: "dvr", vod_url: null, retention_days: 30 });
    }
    // Keyset pages.
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: Listing } = await api.call<Listing>("GET", `${path}?limit=3${cursor ? `&cursor=${cursor}` : ""}`, { token: a.token });
      expect(page.status).toBe(200);
      seen.push(...ids(page.body));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([a.recording, a.ready, a.dvr, a.failed]);
    // Bad input names its field.
    expect((await api.call("GET", `${path}?limit=0`)).body).toMatchObject({ fields: { limit: expect.any(String) } });
    expect((await api.call("GET", `${path}?cursor=nope`)).body).toMatchObject({ fields: { cursor: expect.any(String) } });
    expect((await api.call("GET", "/api/v1/streams/NOT_AN_ID/recordings")).status).toBe(400);
    expect((await api.call("GET", "/api/v1/streams/nosuchstream1/recordings")).status).toBe(404);
  });

  it("reads one recording with its VOD and poster URLs; other streams' recordings and hidden ones are 404", async () => {
    const a = await channel("onea");
    const b = await channel("oneb");
    const r = await api.call<Record<string, unknown>>("GET", `/api/v1/streams/${a.streamId}/recordings/${a.ready}`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ recording_id: a.ready, status: "ready", vod_url: `/vod/${a.ready}/master.m3u8`, poster_url: `/vod/${a.ready}/poster.jpg`, duration_s: 4 });
    expect(r.body.bytes).toBeGreaterThan(600);
    expect(r.body.expires_at).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(r.headers.get("cache-control")).toBe("no-store");
    // The owner sees the DVR-only one; others do not learn it exists.
    expect((await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}`, { token: a.token })).status).toBe(200);
    for (const token of [null, b.token]) {
      const hidden = await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}`, { token });
      expect(hidden.status).toBe(404);
      expect(hidden.body).toEqual({ error: "recording not found", code: "not_found" });
    }
    // A ready recording of stream B is not found under stream A, for anyone, the owner of both streams' peers included.
    for (const token of [null, a.token, b.token]) {
      const cross = await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${b.ready}`, { token });
      expect(cross.status).toBe(404);
      expect(cross.body).toEqual({ error: "recording not found", code: "not_found" });
    }
    const bad = await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/..%2F${b.ready}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ fields: { recording_id: expect.any(String) } });
    expect((await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/UPPERCASE123`)).status).toBe(400);
    expect((await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/abcdefgh2345`)).status).toBe(404);
  });

  it("deletes a recording's R2 objects and row for its owner or an admin; others get 401/403/404 and nothing changes", async () => {
    const a = await channel("dela");
    const b = await channel("delb");
    const admin = await api.signUp("deladm");
    const adminToken = await api.withRole(admin, "admin");
    const before = await snapshot(a.ready);
    const beforeB = await snapshot(b.ready);
    expect(before.keys.length).toBeGreaterThanOrEqual(6);
    expect(await vod(`/vod/${a.ready}/master.m3u8`)).toBe(200);

    const refusals: Array<[string | null, string, number]> = [
      [null, `/api/v1/streams/${a.streamId}/recordings/${a.ready}`, 401],
      [b.token, `/api/v1/streams/${a.streamId}/recordings/${a.ready}`, 403],
      // B's own recording under A's stream: B does not manage A's stream.
      [b.token, `/api/v1/streams/${a.streamId}/recordings/${b.ready}`, 403],
      // A manages A's stream, but B's recording is not one of its recordings.
      [a.token, `/api/v1/streams/${a.streamId}/recordings/${b.ready}`, 404],
      [adminToken, `/api/v1/streams/${a.streamId}/recordings/${b.ready}`, 404],
      [a.token, `/api/v1/streams/${a.streamId}/recordings/${a.recording}`, 409],
      [a.token, `/api/v1/streams/${a.streamId}/recordings/bad..id`, 400],
    ];
    for (const [token, path, status] of refusals) {
      const r = await api.call("DELETE", path, { token });
      expect(r.status, `${path} ${status}`).toBe(status);
    }
    expect(await snapshot(a.ready)).toEqual(before);
    expect(await snapshot(b.ready)).toEqual(beforeB);
    expect(await recordingRow(a.recording)).toMatchObject({ status: "recording" });

    const del = await api.call("DELETE", `/api/v1/streams/${a.streamId}/recordings/${a.ready}`, { token: a.token });
    expect(del.status).toBe(204);
    expect(await objectKeys(a.ready)).toEqual([]);
    expect(await recordingRow(a.ready)).toBeNull();
    expect(await vod(`/vod/${a.ready}/master.m3u8`)).toBe(404);
    expect(await vod(`/vod/${a.ready}/360p/seg-0.m4s`)).toBe(404);
    expect((await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${a.ready}`, { token: a.token })).status).toBe(404);
    expect((await api.call("DELETE", `/api/v1/streams/${a.streamId}/recordings/${a.ready}`, { token: a.token })).status).toBe(404);
    // An admin deletes anyone's; a DVR-only row of an ended broadcast (nothing in R2) too.
    expect((await api.call("DELETE", `/api/v1/streams/${b.streamId}/recordings/${b.ready}`, { token: adminToken })).status).toBe(204);
    expect(await objectKeys(b.ready)).toEqual([]);
    expect((await api.call("DELETE", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}`, { token: a.token })).status).toBe(204);
  });

  it("converts a DVR-only broadcast: 202 finalizing, the origin archives it (node token), then ready once nothing is pending", async () => {
    const a = await channel("conva");
    const b = await channel("convb");
    origin.calls = [];
    origin.queueStatus = 200;
    origin.pending = 0;
    origin.ended = true;
    // Refusals first: nothing reaches the origin, nothing changes.
    const dvrBefore = await snapshot(a.dvr);
    const refusals: Array<[string | null, string, number]> = [
      [null, a.dvr, 401],
      [b.token, a.dvr, 403],
      [a.token, b.dvr, 404],
      [a.token, a.ready, 409],
      [a.token, a.failed, 409],
      [a.token, a.recording, 409],
    ];
    for (const [token, id, status] of refusals) {
      const r = await api.call("POST", `/api/v1/streams/${a.streamId}/recordings/${id}/convert`, { token });
      expect(r.status, `${id} ${status}`).toBe(status);
    }
    expect(origin.calls).toEqual([]);
    expect(await snapshot(a.dvr)).toEqual(dvrBefore);
    // A DVR row whose broadcast still runs cannot be converted yet.
    const running = await insertRecording({ streamId: a.streamId, userId: a.user.user.id, status: "dvr", endedAt: null });
    expect((await api.call("POST", `/api/v1/streams/${a.streamId}/recordings/${running}/convert`, { token: a.token })).status).toBe(409);

    // The origin uploads the DVR window (here: already in R2) and reports nothing pending.
    await archive(a.dvr, a.streamId);
    origin.thumbnail = JPEG;
    const r = await api.call<Record<string, unknown>>("POST", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}/convert`, { token: a.token });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ recording_id: a.dvr, status: "finalizing", queued: 12, vod_url: null });
    expect(r.headers.get("location")).toBe(`/api/v1/streams/${a.streamId}/recordings/${a.dvr}`);
    expect(origin.calls[0]).toEqual({ method: "POST", path: `/ingest/v1/streams/${a.streamId}/archive`, node: "control-plane", body: JSON.stringify({ recording_id: a.dvr }) });
    expect(origin.calls[1]).toMatchObject({ method: "GET", path: `/ingest/v1/streams/${a.streamId}/archive?recording_id=${a.dvr}`, node: "control-plane" });
    // Finished in the background (waitUntil): ready, with the origin's thumbnail as its poster.
    const done = await api.call<Record<string, unknown>>("GET", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}`);
    expect(done.body).toMatchObject({ status: "ready", vod_url: `/vod/${a.dvr}/master.m3u8`, duration_s: 4 });
    expect(await vod(`/vod/${a.dvr}/master.m3u8`)).toBe(200);
    expect(await vod(`/vod/${a.dvr}/poster.jpg`)).toBe(200);
    // Converting again is a conflict.
    expect((await api.call("POST", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}/convert`, { token: a.token })).status).toBe(409);
  });

  it("keeps a conversion finalizing while the origin still uploads, finishes it in the background, or on a later read", async () => {
    const a = await channel("convw");
    origin.queueStatus = 200;
    origin.pending = 5;
    origin.ended = true;
    await archive(a.dvr, a.streamId);
    const ctx = createExecutionContext();
    const res = await app.fetch(
      new Request(`http://edge.test/api/v1/streams/${a.streamId}/recordings/${a.dvr}/convert`, { method: "POST", headers: { authorization: `Bearer ${a.token}` } }),
      testEnv(),
      ctx,
    );
    expect(res.status).toBe(202);
    expect(await recordingRow(a.dvr)).toMatchObject({ status: "finalizing" });
    // Not visible to the public while it is finalizing.
    expect((await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}`)).status).toBe(404);
    origin.pending = 0;
    await waitOnExecutionContext(ctx);
    expect(await recordingRow(a.dvr)).toMatchObject({ status: "ready" });

    // A conversion whose background wait ran out is pushed on by the next read.
    const stalled = await insertRecording({ streamId: a.streamId, userId: a.user.user.id, status: "finalizing" });
    await archive(stalled, a.streamId);
    const read = await api.call("GET", `/api/v1/streams/${a.streamId}/recordings/${stalled}`, { token: a.token });
    expect(read.body).toMatchObject({ status: "finalizing" });
    expect(await recordingRow(stalled)).toMatchObject({ status: "ready" });
  });

  it("puts the row back to dvr when the origin cannot convert (502) or no longer has the DVR window (409)", async () => {
    const a = await channel("convf");
    for (const [originStatus, status] of [
      [500, 502],
      [404, 409],
    ] as const) {
      origin.queueStatus = originStatus;
      const r = await api.call("POST", `/api/v1/streams/${a.streamId}/recordings/${a.dvr}/convert`, { token: a.token });
      expect(r.status, String(originStatus)).toBe(status);
      expect(r.body).toMatchObject({ origin_status: originStatus });
      expect(await recordingRow(a.dvr)).toMatchObject({ status: "dvr" });
    }
    origin.queueStatus = 200;
  });
});
