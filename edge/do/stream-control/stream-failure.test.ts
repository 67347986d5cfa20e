import { describe, expect, it } from "vitest";
import { signNodeToken } from "../../../shared/tokens.ts";
import { apiClient } from "../../../test/support/edge/api-client.ts";
import { fakeDeps, useFakeSagaDeps } from "../../../test/support/edge/saga-fakes.ts";
import { addNode, controlStub, eventsOf, nodeSlots, reservationOf, streamRow, testEnv, waitForState } from "../../../test/support/edge/saga-state.ts";

const api = apiClient();

const REASON = "ffmpeg exited 5 times in a row within 10 s of starting (last: code 1): [Parsed_scale_2] Option 'force_divisible_by' not found / Error initializing complex filters.";

const setup = async (timing: Parameters<typeof fakeDeps>[0] = {}) => {
  const owner = await api.signUp("fail");
  const stream = await api.createStream(owner.token, { title: "Failing encoder", category: "gaming" });
  const nodeId = await addNode(2);
  const { deps, ctl } = fakeDeps(timing);
  useFakeSagaDeps(stream.stream_id, deps);
  const id = stream.stream_id;
  const token = await signNodeToken(testEnv().NODE_SECRET!, nodeId);
  /** What the node's StreamReporter posts when its pipeline gives up (gpu-transcoder/pipeline/stream-pipeline.ts). */
  const reportFailure = () =>
    api.call<{ ok: boolean; phase: string }>("POST", "/api/v1/nodes/events", {
      token,
      json: { stream_id: id, type: "stream_failed", severity: "error", data: { reason: REASON, code: 1, quickFailures: 5, stderr: "[Parsed_scale_2 @ 0x1] Option 'force_divisible_by' not found" } },
    });
  return { owner, id, nodeId, ctl, stub: controlStub(id), reportFailure };
};

type SagaView = { status: string; phase: string | null; failure: { step: string; error: string } | null };

describe("a stream whose encoder failed (the node's stream_failed)", () => {
  it("after the pivot: live → failed with the reason, the node stopped and its slot released; publishing again retries", async () => {
    const t = await setup();
    await t.stub.begin(t.id, t.nodeId);
    await waitForState(t.id, (s) => s.phase === "live", "live");
    expect((await t.reportFailure()).status).toBe(200);
    const s = await waitForState(t.id, (st) => st.phase === "idle" && st.archiveDone.length === 4, "stopped and settled");
    expect(s.failure).toEqual({ step: "monitor_stream", error: `encoder failed: ${REASON}` });
    expect(s.history.find((h) => h.stage === "monitor_stream" && h.outcome === "failed")).toMatchObject({ error: REASON });
    expect(s.archiveDone).toEqual(["stop_encoder", "release_slot", "mark_ended", "archive_vod"]);
    expect(t.ctl.calls.slice(-3)).toEqual([`stop:${t.nodeId}`, "chat_closed", "archive"]);
    expect(await streamRow(t.id)).toMatchObject({ status: "failed", node_id: null, ended_at: expect.any(String) });
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(await reservationOf(t.id)).toBeNull();
    const events = await eventsOf(t.id);
    expect(events.map((e) => `${e.event_type}:${e.severity}`)).toEqual(["stream_started:info", "stream_failed:error"]);
    expect(events[1]!.message).toBe(`Stream failed: ${REASON}`);
    const details = await testEnv().DB!.prepare("SELECT details FROM stream_events WHERE stream_id = ?1 AND event_type = 'stream_failed'").bind(t.id).first<{ details: string }>();
    expect(JSON.parse(details!.details)).toMatchObject({ reason: REASON, code: 1, quickFailures: 5, node_id: t.nodeId, stderr: expect.stringContaining("force_divisible_by") });

    // The creator dashboard's saga panel reads this.
    const view = await api.call<SagaView>("GET", `/api/v1/streams/${t.id}/saga`, { token: t.owner.token });
    expect(view.body).toMatchObject({ status: "failed", phase: "idle", failure: { step: "monitor_stream", error: `encoder failed: ${REASON}` } });
    const listed = await api.call<{ streams: Array<{ stream_id: string; status: string }> }>("GET", `/api/v1/streams?status=failed&limit=100`);
    expect(listed.body.streams.find((x) => x.stream_id === t.id)?.status).toBe("failed");

    // A repeated report changes nothing; a new publish is a new go-live.
    expect((await t.reportFailure()).status).toBe(200);
    expect((await eventsOf(t.id)).filter((e) => e.event_type === "stream_failed")).toHaveLength(1);
    expect(await t.stub.begin(t.id, t.nodeId)).toEqual({ accepted: true, phase: "running" });
    const again = await waitForState(t.id, (st) => st.phase === "live", "live on the second run");
    expect(again).toMatchObject({ runs: 2, failure: null });
    expect(await streamRow(t.id)).toMatchObject({ status: "live", node_id: t.nodeId, ended_at: null });
  });

  it("before the pivot: the go-live is compensated in reverse and the stream is failed (not idle) with the reason", async () => {
    const t = await setup();
    t.ctl.probeReady = false; // no part yet: the saga waits in warmup_cdn, as when ffmpeg never starts
    await t.stub.begin(t.id, t.nodeId);
    await waitForState(t.id, (st) => st.step === "warmup_cdn" && st.attempts > 0, "waiting in warmup_cdn");
    expect((await t.reportFailure()).status).toBe(200);
    const s = await waitForState(t.id, (st) => st.phase === "idle", "idle after compensation");
    expect(s.failure).toEqual({ step: "warmup_cdn", error: `encoder failed: ${REASON}` });
    expect(s.history.filter((h) => h.outcome === "compensated").map((h) => h.stage)).toEqual([
      "compensate:warmup_cdn",
      "compensate:configure_encoders",
      "compensate:reserve_capacity",
      "compensate:validate_event",
    ]);
    expect(t.ctl.calls).toContain(`stop:${t.nodeId}`);
    expect(t.ctl.calls).not.toContain("notify");
    expect(await streamRow(t.id)).toMatchObject({ status: "failed", node_id: null, started_at: null });
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(await reservationOf(t.id)).toBeNull();
    expect((await eventsOf(t.id)).map((e) => `${e.event_type}:${e.message.slice(0, 40)}`)).toEqual([
      `stream_failed:${`Stream failed: ${REASON}`.slice(0, 40)}`,
      `error:${`Go-live failed at warmup_cdn: encoder failed: ${REASON}`.slice(0, 40)}`,
    ]);
  });

  it("from another node, or with no stream on air, it is recorded and changes nothing", async () => {
    const t = await setup();
    await t.stub.begin(t.id, t.nodeId);
    await waitForState(t.id, (s) => s.phase === "live", "live");
    const other = await addNode(2);
    const token = await signNodeToken(testEnv().NODE_SECRET!, other);
    const r = await api.call<{ phase: string }>("POST", "/api/v1/nodes/events", { token, json: { stream_id: t.id, type: "stream_failed", severity: "error", data: { reason: "elsewhere" } } });
    expect(r.body.phase).toBe("live");
    expect(await streamRow(t.id)).toMatchObject({ status: "live" });
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started", "stream_failed"]);
  });
});
