import { describe, expect, it } from "vitest";
import { defaultSagaDeps, type SagaDeps } from "../do/stream-control/deps.ts";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { putInit, putManifest, putSegments, recordingRow, testEnv, VIDEO_360 } from "../../test/support/edge/recordings.ts";
import { fakeDeps, useFakeSagaDeps } from "../../test/support/edge/saga-fakes.ts";
import { addNode, controlStub, waitForState } from "../../test/support/edge/saga-state.ts";
import { archiveVod } from "./archive-vod.ts";
import { streamOptions } from "./stream-options.ts";

const api = apiClient();
const T0 = Date.UTC(2026, 3, 5, 6, 7, 8, 0);

/** The origin's archive status for every recording (shared/archive-protocol.ts), settable per test. */
const origin = { pending: 0, ended: true, status: 200, asked: 0 };
const originFetch = async (req: Request): Promise<Response> => {
  const url = new URL(req.url);
  if (/^\/ingest\/v1\/streams\/[^/]+\/archive$/.test(url.pathname)) {
    origin.asked++;
    if (origin.status !== 200) return new Response("down", { status: origin.status });
    return Response.json({ stream_id: "x", recording_id: url.searchParams.get("recording_id"), mode: "record", ended: origin.ended, pending: origin.pending, uploaded: 3, rejected: 0, lag_ms: [] });
  }
  return Response.json({ error: "not found" }, { status: 404 });
};
const reset = (o: Partial<typeof origin> = {}) => Object.assign(origin, { pending: 0, ended: true, status: 200, asked: 0 }, o);

/** A stream whose configure step opened its recording row (as the saga does), with two segments archived. */
const recordedStream = async (json: Record<string, unknown> = { title: "Recorded", enable_recording: true }) => {
  const u = await api.signUp("arch");
  const s = await api.createStream(u.token, json);
  const opts = await streamOptions(testEnv().DB!, s.stream_id);
  const id = opts.recording_id!;
  await putManifest(id, s.stream_id, [VIDEO_360]);
  await putInit(id, "360p", 0);
  await putSegments(id, "360p", [0, 1].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000 })));
  return { user: u, streamId: s.stream_id, id, record: opts.record };
};

const fast = { pollMs: 10, inlineMs: 50 };
const silent = () => undefined;

describe("archive_vod: the stream's recording after it ends", () => {
  it("ends the open recording, waits for the origin, writes the VOD and marks it ready with its expiry", async () => {
    reset();
    const t = await recordedStream();
    expect(await recordingRow(t.id)).toMatchObject({ status: "recording", ended_at: null });
    await archiveVod(testEnv(), t.streamId, { fetch: originFetch, timing: fast, log: silent });
    const row = (await recordingRow(t.id))!;
    expect(row).toMatchObject({ status: "ready", duration_s: 4, retention_days: 30 });
    expect(Date.parse(row.expires_at as string) - Date.parse(row.ended_at as string)).toBe(30 * 86_400_000);
    expect(origin.asked).toBe(1);
    // Retried after success (the saga never does, but it must be harmless): nothing changes.
    await archiveVod(testEnv(), t.streamId, { fetch: originFetch, timing: fast, log: silent });
    expect(await recordingRow(t.id)).toEqual(row);
  });

  it("keeps a DVR-only broadcast as dvr (ended, convertible) and writes nothing", async () => {
    reset();
    const u = await api.signUp("archdvr");
    const s = await api.createStream(u.token, { title: "DVR only", dvr_window: 600 });
    const opts = await streamOptions(testEnv().DB!, s.stream_id);
    expect(opts).toMatchObject({ record: false, recording_id: expect.any(String) });
    await archiveVod(testEnv(), s.stream_id, { fetch: originFetch, timing: fast, log: silent });
    expect(await recordingRow(opts.recording_id!)).toMatchObject({ status: "dvr", ended_at: expect.any(String), expires_at: null });
    expect(origin.asked).toBe(0);
  });

  it("throws (the saga retries) while the origin still uploads or has not seen the end, then finishes; gives up waiting after the bound", async () => {
    const t = await recordedStream();
    for (const o of [{ pending: 3 }, { pending: 0, ended: false }, { status: 503 }]) {
      reset(o);
      await expect(archiveVod(testEnv(), t.streamId, { fetch: originFetch, timing: fast, log: silent })).rejects.toThrow(/still archiving/);
      expect(await recordingRow(t.id)).toMatchObject({ status: "finalizing", ended_at: expect.any(String) });
    }
    reset();
    await archiveVod(testEnv(), t.streamId, { fetch: originFetch, timing: fast, log: silent });
    expect(await recordingRow(t.id)).toMatchObject({ status: "ready" });

    // Past the bound, the VOD is written with what R2 has even though the origin still reports work.
    const late = await recordedStream();
    reset({ pending: 7 });
    await expect(archiveVod(testEnv(), late.streamId, { fetch: originFetch, timing: { ...fast, waitMs: 60_000 }, log: silent })).rejects.toThrow(/7/);
    const lines: string[] = [];
    await archiveVod(testEnv(), late.streamId, { fetch: originFetch, timing: { ...fast, waitMs: 60_000 }, now: () => Date.now() + 61_000, log: (l) => lines.push(l) });
    expect(await recordingRow(late.id)).toMatchObject({ status: "ready" });
    expect(JSON.parse(lines[0]!)).toMatchObject({ event: "recording_ready", recording_id: late.id, duration_s: 4 });
  });

  it("runs as the saga's archive_vod step: stop → the recording is ready", async () => {
    reset();
    const t = await recordedStream();
    const nodeId = await addNode(2);
    const { deps } = fakeDeps();
    // The real hook from the saga's dependencies, with the origin stood in for.
    const real = defaultSagaDeps(testEnv(), (input, init) => originFetch(new Request(input, init)));
    const sagaDeps: SagaDeps = { ...deps, archiveVod: real.archiveVod };
    useFakeSagaDeps(t.streamId, sagaDeps);
    const stub = controlStub(t.streamId);
    await stub.begin(t.streamId, nodeId);
    await waitForState(t.streamId, (s) => s.phase === "live", "live");
    expect((await api.call("POST", `/api/v1/streams/${t.streamId}/stop`, { token: t.user.token })).status).toBe(200);
    const ended = await waitForState(t.streamId, (s) => s.phase === "ended", "ended");
    expect(ended.archiveDone).toEqual(["stop_encoder", "release_slot", "mark_ended", "archive_vod"]);
    expect(await recordingRow(t.id)).toMatchObject({ status: "ready", duration_s: 4 });
    const listed = await api.call<{ recordings: Array<{ recording_id: string; vod_url: string }> }>("GET", `/api/v1/streams/${t.streamId}/recordings`);
    expect(listed.body.recordings).toEqual([expect.objectContaining({ recording_id: t.id, vod_url: `/vod/${t.id}/master.m3u8` })]);
  });
});
