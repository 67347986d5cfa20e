/**
 * Fault: the StreamControl Durable Object reset while it monitors a live stream and during each
 * task of the stop (stop_encoder, archive_vod) → the stream reaches `ended` exactly once: one
 * stream_ended, slot released, reservation gone, archive once (twice only when the reset came
 * after it and before the object stored it).
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signNodeToken } from "../../shared/tokens.ts";
import { controlStub, eventsOf, nodeSlots, reservationOf, streamRow, testEnv, waitForState } from "../../test/support/edge/saga-state.ts";
import { api, count, resume, setup, type Point } from "../../test/support/edge/eviction.ts";

describe("fault: StreamControl evicted while live and while stopping", () => {
  const figures: string[] = [];
  // The stop that the node reports (the alarm runs the archive tasks). A reset while the stop API's
  // own call is inside the object (it drives the tasks inline after writing storage) is left out:
  // there abortAllDurableObjects() never returns in the local runtime.
  const endings: Array<{ label: string; park: Point; stop: "api" | "node" }> = [
    { label: "monitor_stream", park: "before:monitor_stream", stop: "api" },
    { label: "stop_encoder (node ended)", park: "after:stop", stop: "node" },
    { label: "archive_vod (before)", park: "before:archive_vod", stop: "node" },
    { label: "archive_vod (after)", park: "after:archive", stop: "node" },
  ];
  for (const e of endings) {
    it(`reset during ${e.label} → ended exactly once`, async () => {
      const t = await setup({ monitorMs: 50 });
      await t.stub.begin(t.id, t.nodeId);
      await waitForState(t.id, (st) => st.phase === "live", "live");
      const parked = t.holdAt(e.park);
      let stopCall: Promise<unknown> | null = null;
      const stop = () =>
        e.stop === "api"
          ? api.call("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token }).catch((err: unknown) => err)
          : signNodeToken(testEnv().NODE_SECRET!, t.nodeId).then((token) => api.call("POST", "/api/v1/nodes/events", { token, json: { stream_id: t.id, type: "stream_ended", severity: "info", data: { reason: "test" } } }));
      if (e.park !== "before:monitor_stream") stopCall = stop();
      await parked;
      await abortAllDurableObjects();
      // The stop call that was inside the reset object fails or finishes; what matters is the end state.
      await stopCall;
      if (e.park === "before:monitor_stream") {
        const checks = (await controlStub(t.id).getState())!.monitor.checks;
        const live = await resume(t.id, (st) => st.monitor.checks >= checks + 2, "monitoring after the reset");
        expect(live.phase).toBe("live");
        await stop();
      }
      const s = await resume(t.id, (st) => st.phase === "ended", `ended after a reset at ${e.label}`);
      expect(s.archiveDone).toEqual(["stop_encoder", "release_slot", "mark_ended", "archive_vod"]);
      expect(await streamRow(t.id)).toMatchObject({ status: "ended", ended_at: expect.any(String) });
      expect(await nodeSlots(t.nodeId)).toBe(0);
      expect(await reservationOf(t.id)).toBeNull();
      expect((await eventsOf(t.id)).map((x) => x.event_type)).toEqual(["stream_started", "stream_ended"]);
      expect(count(t.ctl.calls, (c) => c === "chat_closed")).toBe(1);
      expect(count(t.ctl.calls, (c) => c === "archive")).toBe(e.park === "after:archive" ? 2 : 1);
      expect(count(t.ctl.calls, (c) => c.startsWith("stop:"))).toBe(e.park === "after:stop" ? 2 : 1);
      // Ended stays ended: a late report or stop changes nothing.
      expect((await api.call("POST", `/api/v1/streams/${t.id}/stop`, { token: t.owner.token })).status).toBe(409);
      figures.push(`${e.label} → ended once`);
    });
  }

  it("figure", () => {
    console.log(`FAULT do-eviction-stop: ${figures.length} reset points, each ended exactly once (1 stream_ended, slot released); ${figures.join("; ")}`);
  });
});
