import { abortAllDurableObjects, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signNodeToken } from "../../../shared/tokens.ts";
import { apiClient } from "../../../test/support/edge/api-client.ts";
import { fakeDeps, testSagaDeps, useFakeSagaDeps } from "../../../test/support/edge/saga-fakes.ts";
import { addNode, controlStub, eventsOf, nodeSlots, reservationOf, streamRow, testEnv, waitForState } from "../../../test/support/edge/saga-state.ts";
import { SAGA_STEPS, type SagaStep } from "./deps.ts";
import { StreamControl } from "./stream-control.ts";

const api = apiClient();

/** A streamer, a stream, a node with free slots and fake dependencies for the stream's saga. */
const setup = async (timing: Parameters<typeof fakeDeps>[0] = {}) => {
  const owner = await api.signUp("saga");
  const stream = await api.createStream(owner.token, { title: "Saga test", category: "gaming" });
  const nodeId = await addNode(2);
  const { deps, ctl } = fakeDeps(timing);
  useFakeSagaDeps(stream.stream_id, deps);
  const id = stream.stream_id;
  return { owner, id, key: stream.stream_key, nodeId, deps, ctl, stub: controlStub(id) };
};

const goLive = async (timing: Parameters<typeof fakeDeps>[0] = {}) => {
  const t = await setup(timing);
  await t.stub.begin(t.id, t.nodeId);
  await waitForState(t.id, (s) => s.phase === "live", "live");
  return t;
};

describe("go-live saga: happy path", () => {
  it("an authorised publish runs every step to live; stop archives and ends", async () => {
    const t = await setup();
    // The trigger: the node's authorize call for the stream's key.
    const token = await signNodeToken(testEnv().NODE_SECRET!, t.nodeId);
    const auth = await api.call<{ allowed: boolean; saga: string }>("POST", "/api/v1/ingest/authorize", { token, json: { stream_key: t.key } });
    expect(auth.body).toMatchObject({ allowed: true, saga: "running" });
    const s = await waitForState(t.id, (st) => st.phase === "live", "live");
    expect(s.completed).toEqual([...SAGA_STEPS]);
    expect(s.history.filter((h) => h.outcome === "ok").map((h) => h.stage)).toEqual([...SAGA_STEPS]);
    expect(t.ctl.calls).toEqual([`configure:${t.nodeId}`, "chat", "prewarm:http://edge-a.test", "prewarm:http://edge-b.test", "probe", "notify"]);
    expect(await streamRow(t.id)).toMatchObject({ status: "live", node_id: t.nodeId, started_at: expect.any(String) });
    expect(await nodeSlots(t.nodeId)).toBe(1);
    expect(await reservationOf(t.id)).toMatchObject({ node_id: t.nodeId, state: "configured" });
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started"]);
    // Listed in discovery.
    const listed = await api.call<{ streams: Array<{ stream_id: string }> }>("GET", "/api/v1/streams?status=live&limit=100");
    expect(listed.body.streams.map((x) => x.stream_id)).toContain(t.id);
    const progress = await api.call<{ phase: string; completed: string[]; history: Array<{ stage: string; ms?: number }> }>("GET", `/api/v1/streams/${t.id}/saga`, { token: t.owner.token });
    expect(progress.body).toMatchObject({ phase: "live", completed: [...SAGA_STEPS], node_id: t.nodeId });
    expect((await api.call("GET", `/api/v1/streams/${t.id}/saga`)).status).toBe(401);
    // A second authorize while it runs does not start a second saga.
    expect((await t.stub.begin(t.id, t.nodeId)).phase).toBe("live");

    const stop = await api.call<{ status: string; ended_at: string }>("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token });
    expect(stop.status).toBe(200);
    expect(stop.body).toMatchObject({ status: "ended", ended_at: expect.any(String) });
    const ended = await waitForState(t.id, (st) => st.phase === "ended", "ended");
    expect(ended.archiveDone).toEqual(["stop_encoder", "release_slot", "mark_ended", "archive_vod"]);
    expect(t.ctl.calls.slice(-3)).toEqual([`stop:${t.nodeId}`, "chat_closed", "archive"]);
    expect(await streamRow(t.id)).toMatchObject({ status: "ended", ended_at: stop.body.ended_at });
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(await reservationOf(t.id)).toBeNull();
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started", "stream_ended"]);
    expect((await api.call("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token })).status).toBe(409);
  });

  it("stopping an idle stream goes through the object and ends it", async () => {
    const t = await setup();
    const stop = await api.call<{ status: string }>("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token });
    expect(stop.status).toBe(200);
    expect((await t.stub.getState())?.phase).toBe("ended");
    expect((await streamRow(t.id))?.status).toBe("ended");
    expect((await t.stub.begin(t.id, t.nodeId)).accepted).toBe(false);
  });
});

describe("go-live saga: failure before the pivot compensates in reverse order", () => {
  const reversibleBefore = (step: SagaStep): SagaStep[] => SAGA_STEPS.slice(0, SAGA_STEPS.indexOf(step));

  for (const step of SAGA_STEPS) {
    it(`a failure at ${step} undoes ${reversibleBefore(step).join(", ") || "nothing"}, in reverse, and leaks nothing`, async () => {
      const t = await setup();
      t.ctl.failAt.add(step);
      await t.stub.begin(t.id, t.nodeId);
      const s = await waitForState(t.id, (st) => st.phase === "idle", "idle after compensation");
      expect(s.failure).toMatchObject({ step, error: `injected failure at ${step}` });
      const compensated = s.history.filter((h) => h.outcome === "compensated").map((h) => h.stage);
      expect(compensated).toEqual(reversibleBefore(step).reverse().map((x) => `compensate:${x}`));
      expect(s.completed).toEqual([]);
      // Nothing leaks: no slot, no reservation, the node told to stop, edges purged.
      expect(await nodeSlots(t.nodeId)).toBe(0);
      expect(await reservationOf(t.id)).toBeNull();
      const configured = reversibleBefore(step).includes("configure_encoders");
      expect(t.ctl.calls.includes(`stop:${t.nodeId}`)).toBe(configured);
      if (reversibleBefore(step).includes("warmup_cdn")) {
        expect(t.ctl.calls.filter((c) => c.startsWith("purge:"))).toEqual(["purge:http://edge-b.test", "purge:http://edge-a.test"]);
        expect(t.ctl.calls.indexOf("purge:http://edge-a.test")).toBeLessThan(t.ctl.calls.indexOf(`stop:${t.nodeId}`));
      } else expect(t.ctl.calls.some((c) => c.startsWith("purge:"))).toBe(false);
      expect(await streamRow(t.id)).toMatchObject({ status: "idle", node_id: null, started_at: null });
      const events = await eventsOf(t.id);
      expect(events).toEqual([{ event_type: "error", severity: "error", message: `Go-live failed at ${step}: injected failure at ${step}` }]);
      expect(t.ctl.calls).not.toContain("notify");
    });
  }

  it("real failures: no free slot on the publisher's node; a probe that never sees a part times out (edges purged)", async () => {
    const full = await setup();
    await testEnv().DB!.prepare("UPDATE transcoder_nodes SET slots = 0 WHERE id = ?1").bind(full.nodeId).run();
    await full.stub.begin(full.id, full.nodeId);
    const s1 = await waitForState(full.id, (st) => st.phase === "idle", "idle");
    expect(s1.failure?.step).toBe("reserve_capacity");
    expect((await streamRow(full.id))?.status).toBe("idle");

    const slow = await setup({ warmupTimeoutMs: 200 });
    slow.ctl.probeReady = false;
    await slow.stub.begin(slow.id, slow.nodeId);
    const s2 = await waitForState(slow.id, (st) => st.phase === "idle", "idle");
    expect(s2.failure).toMatchObject({ step: "warmup_cdn", error: expect.stringContaining("no part came through the edge") });
    expect(slow.ctl.calls.filter((c) => c.startsWith("purge:"))).toHaveLength(2);
    expect(await nodeSlots(slow.nodeId)).toBe(0);
    // Publishing again retries the go-live.
    slow.ctl.probeReady = true;
    await slow.stub.begin(slow.id, slow.nodeId);
    const s3 = await waitForState(slow.id, (st) => st.phase === "live", "live on the second run");
    expect(s3.runs).toBe(2);
  });

  it("a stop before the pivot compensates and ends the stream", async () => {
    const t = await setup();
    t.ctl.probeReady = false;
    await t.stub.begin(t.id, t.nodeId);
    await waitForState(t.id, (st) => st.step === "warmup_cdn" && st.attempts > 0, "waiting in warmup_cdn");
    const stop = await api.call("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token });
    expect(stop.status).toBe(200);
    const s = await t.stub.getState();
    expect(s?.phase).toBe("ended");
    expect(await streamRow(t.id)).toMatchObject({ status: "ended" });
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(t.ctl.calls).toContain(`stop:${t.nodeId}`);
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_ended"]);
  });
});

describe("go-live saga: eviction", () => {
  it("an object reset in the middle of the saga resumes from storage without redoing completed steps", async () => {
    const t = await setup();
    t.ctl.probeReady = false;
    await t.stub.begin(t.id, t.nodeId);
    const before = await waitForState(t.id, (st) => st.step === "warmup_cdn" && st.attempts > 1, "waiting in warmup_cdn");
    expect(before.completed).toEqual(["validate_event", "reserve_capacity", "configure_encoders"]);
    await abortAllDurableObjects();
    t.ctl.probeReady = true;
    // A fresh instance: its alarm continues from storage.
    const s = await waitForState(t.id, (st) => st.phase === "live", "live after the reset");
    expect(s.completed).toEqual([...SAGA_STEPS]);
    expect(t.ctl.calls.filter((c) => c.startsWith("configure:"))).toHaveLength(1);
    expect(await nodeSlots(t.nodeId)).toBe(1);
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started"]);
  });

  it("a re-instantiated object on the same storage continues the step it was at", async () => {
    const t = await setup();
    t.ctl.failAt.add("configure_encoders");
    t.ctl.probeReady = false;
    await t.stub.begin(t.id, t.nodeId);
    await waitForState(t.id, (st) => st.step === "configure_encoders" && st.phase === "compensating", "compensating", 5_000).catch(() => null);
    const s = await runInDurableObject(t.stub, async (_instance, state) => {
      const fresh = new StreamControl(state, testEnv(), testSagaDeps);
      const current = await fresh.getState();
      // Whatever point it was at, driving the fresh object's alarm finishes the compensation.
      for (let i = 0; i < 10 && current && (await fresh.getState())!.phase === "compensating"; i++) await fresh.alarm();
      return fresh.getState();
    });
    expect(s?.phase).toBe("idle");
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(await reservationOf(t.id)).toBeNull();
    // Each compensation ran once.
    expect(s!.history.filter((h) => h.stage === "compensate:reserve_capacity" && h.outcome === "compensated")).toHaveLength(1);
  });
});

describe("go-live saga: after the pivot, forward recovery only", () => {
  it("a failed follower notification is CONTINUE: the stream stays live", async () => {
    const t = await setup();
    t.ctl.notifyFails = true;
    await t.stub.begin(t.id, t.nodeId);
    const s = await waitForState(t.id, (st) => st.phase === "live", "live");
    expect(s.history.find((h) => h.strategy)).toMatchObject({ strategy: "CONTINUE", stage: "go_live" });
    expect((await streamRow(t.id))?.status).toBe("live");
  });

  it("encoder speed below 1.0× is SKIP (a rung dropped, high_latency); origin health failure and monitor errors are CONTINUE", async () => {
    const t = await goLive({ monitorMs: 30 });
    await testEnv().DB!.prepare("UPDATE transcoder_nodes SET speed = 0.7 WHERE id = ?1").bind(t.nodeId).run();
    t.ctl.originUp = false;
    let s = await waitForState(t.id, (st) => st.history.some((h) => h.strategy === "SKIP") && st.history.some((h) => h.strategy === "CONTINUE"), "SKIP and CONTINUE");
    t.ctl.failAt.add("monitor_stream");
    s = await waitForState(t.id, (st) => st.history.some((h) => h.detail?.startsWith("monitoring failed") ?? false), "monitor failure");
    expect(s.phase).toBe("live");
    expect((await streamRow(t.id))?.status).toBe("live");
    const events = await eventsOf(t.id);
    expect(events).toContainEqual(expect.objectContaining({ event_type: "high_latency", severity: "warning" }));
    expect(events.filter((e) => e.message.startsWith("CONTINUE: origin health"))).toHaveLength(1); // once per outage
  });

  it("a node that stops heartbeating is RETRY_WITH_ALTERNATE: the slot moves to another node", async () => {
    const t = await goLive({ monitorMs: 30 });
    const alternate = await addNode(2);
    await testEnv().DB!.prepare("UPDATE transcoder_nodes SET last_heartbeat_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1").bind(t.nodeId).run();
    const s = await waitForState(t.id, (st) => st.history.some((h) => h.strategy === "RETRY_WITH_ALTERNATE"), "RETRY_WITH_ALTERNATE");
    expect(s.phase).toBe("live");
    expect(s.node?.id).not.toBe(t.nodeId);
    expect(await nodeSlots(t.nodeId)).toBe(0);
    const row = await streamRow(t.id);
    expect(row?.node_id).toBe(s.node?.id);
    expect(t.ctl.calls).toContain(`configure:${s.node!.id}`);
    void alternate;
  });

  it("a publisher that reconnects through another node moves the stream there at once (RETRY_WITH_ALTERNATE), configured first", async () => {
    const t = await goLive({ graceMs: 60_000 });
    const other = await addNode(2);
    const token = await signNodeToken(testEnv().NODE_SECRET!, t.nodeId);
    // The old node saw the publisher go (when it is still alive to say so): reconnecting.
    await api.call("POST", "/api/v1/nodes/events", { token, json: { stream_id: t.id, type: "connection_lost", severity: "warning", data: {} } });
    expect((await streamRow(t.id))?.status).toBe("reconnecting");
    const answer = await t.stub.begin(t.id, other);
    expect(answer).toEqual({ accepted: true, phase: "live" });
    const s = await waitForState(t.id, (st) => st.node?.id === other, "moved");
    expect(s.history.filter((h) => h.strategy === "RETRY_WITH_ALTERNATE").map((h) => h.detail)).toEqual([`publisher reconnected through node ${other}; moved from ${t.nodeId}`]);
    expect(t.ctl.calls).toContain(`configure:${other}`);
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect(await nodeSlots(other)).toBe(1);
    expect(await streamRow(t.id)).toMatchObject({ status: "live", node_id: other });
    expect(await reservationOf(t.id)).toMatchObject({ node_id: other });
    // The same node again changes nothing.
    expect(await t.stub.begin(t.id, other)).toEqual({ accepted: true, phase: "live" });
    expect(await nodeSlots(other)).toBe(1);
  });

  it("parts that stop arriving are MANUAL_INTERVENTION: the stream ends gracefully", async () => {
    const t = await goLive({ monitorMs: 20, stallChecks: 3 });
    t.ctl.stalled = true;
    const s = await waitForState(t.id, (st) => st.phase === "ended", "ended");
    expect(s.history.find((h) => h.strategy === "MANUAL_INTERVENTION")?.detail).toMatch(/no new part/);
    expect(t.ctl.calls).toContain(`stop:${t.nodeId}`);
    expect(await streamRow(t.id)).toMatchObject({ status: "ended", ended_at: expect.any(String) });
    expect(await nodeSlots(t.nodeId)).toBe(0);
    const types = (await eventsOf(t.id)).map((e) => `${e.event_type}:${e.severity}`);
    expect(types).toEqual(["stream_started:info", "error:critical", "stream_ended:info"]);
  });

  it("an origin outage longer than the stall checks is not a stall: the playlist cannot be read, the stream stays live", async () => {
    // The origin-kill fault (kill -9, restarted on a loaded machine) once ended the stream here:
    // every check of the outage counted as "no new part" and MANUAL_INTERVENTION stopped it.
    const t = await goLive({ monitorMs: 20, stallChecks: 3 });
    const readable = t.deps.playlistProgress;
    const from = (await t.stub.getState())!.monitor.checks;
    t.ctl.originUp = false;
    t.deps.playlistProgress = async () => null;
    await waitForState(t.id, (st) => st.phase !== "live" || st.monitor.checks >= from + 10, "ten monitor checks during the outage");
    t.deps.playlistProgress = readable;
    t.ctl.originUp = true;
    const s = await waitForState(t.id, (st) => st.phase !== "live" || st.monitor.checks >= from + 14, "checks after the outage");
    expect(s.phase).toBe("live");
    expect(s.history.filter((h) => h.strategy).map((h) => h.strategy)).toEqual(["CONTINUE"]);
    expect(s.monitor.stalls).toBe(0);
    expect(t.ctl.calls).not.toContain(`stop:${t.nodeId}`);
    expect((await streamRow(t.id))?.status).toBe("live");
  });

  it("a broadcaster disconnect is reconnecting for the grace period: restored → live, then gone → ended", async () => {
    const t = await goLive({ graceMs: 300 });
    const token = await signNodeToken(testEnv().NODE_SECRET!, t.nodeId);
    const report = (type: string, severity = "warning") => api.call<{ phase: string }>("POST", "/api/v1/nodes/events", { token, json: { stream_id: t.id, type, severity, data: { reason: "test" } } });
    expect((await report("connection_lost")).body.phase).toBe("reconnecting");
    expect((await streamRow(t.id))?.status).toBe("reconnecting");
    expect((await report("connection_restored", "info")).body.phase).toBe("live");
    expect((await streamRow(t.id))?.status).toBe("live");
    expect((await report("quality_changed")).status).toBe(200);
    await report("connection_lost");
    const s = await waitForState(t.id, (st) => st.phase === "ended", "ended after the grace period");
    expect(s.stopReason).toMatch(/grace period/);
    expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started", "connection_lost", "connection_restored", "quality_changed", "connection_lost", "stream_ended"]);
    expect(await nodeSlots(t.nodeId)).toBe(0);
    expect((await report("bogus")).status).toBe(400);
  });
});
