/**
 * Fault: the StreamControl Durable Object reset (evicted) at every go-live saga step, before the
 * step runs and right after its side effect (before the object stored that it was done) → the saga
 * resumes and reaches `live` exactly once: one reservation, one stream_started, one notification
 * per follower. edge/do/stream-control.test.ts covers one reset while warmup_cdn waits and a
 * re-instantiated object mid-compensation; this extends it to every step. The stop is in
 * do-eviction-stop.test.ts, chat in chat-eviction.test.ts (one file each: a reset leaves the
 * local runtime's alarms for that object wedged, see test/support/edge/eviction.ts resume()).
 */
import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { SAGA_STEPS } from "../do/stream-control/deps.ts";
import { controlStub, eventsOf, nodeSlots, reservationOf, streamRow } from "../../test/support/edge/saga-state.ts";
import { count, notificationsPerFollower, resume, setup, type Point } from "../../test/support/edge/eviction.ts";

describe("fault: StreamControl evicted at every saga step", () => {
  const points: Point[] = [];
  for (const step of SAGA_STEPS) {
    points.push(`before:${step}`);
    if (step === "configure_encoders") points.push("after:configure");
    // (after:prewarm / after:probe, inside warmup_cdn after its own storage writes, are left out:
    // there abortAllDurableObjects() never returns in the local runtime.)
    if (step === "go_live") points.push("after:notify");
  }
  const figures: string[] = [];

  for (const point of points) {
    it(`reset at ${point} → resumes, live exactly once`, async () => {
      const t = await setup();
      const parked = t.holdAt(point);
      await t.stub.begin(t.id, t.nodeId);
      await parked;
      await abortAllDurableObjects();
      const started = Date.now();
      const s = await resume(t.id, (st) => st.phase === "live", `live after a reset at ${point}`);
      const resumeMs = Date.now() - started;
      expect(s.completed).toEqual([...SAGA_STEPS]);
      expect(s.history.filter((h) => h.stage === "go_live" && h.outcome === "ok")).toHaveLength(1);
      expect(s.history.filter((h) => h.outcome === "failed" || h.outcome === "compensated")).toEqual([]);
      // One reservation, one slot, one go_live event, one notification per follower.
      expect(await reservationOf(t.id)).toMatchObject({ node_id: t.nodeId, state: "configured" });
      expect(await nodeSlots(t.nodeId)).toBe(1);
      expect(await streamRow(t.id)).toMatchObject({ status: "live", node_id: t.nodeId });
      expect((await eventsOf(t.id)).map((e) => e.event_type)).toEqual(["stream_started"]);
      expect(await notificationsPerFollower(t.id)).toEqual([1, 1, 1]);
      // A step's side effect is redone only when the reset came after it and before it was stored.
      const configures = count(t.ctl.calls, (c) => c.startsWith("configure:"));
      const notifies = count(t.ctl.calls, (c) => c === "notify");
      expect(configures).toBe(point === "after:configure" ? 2 : 1);
      expect(notifies).toBe(point === "after:notify" ? 2 : 1);
      expect(t.ctl.calls).not.toContain(`stop:${t.nodeId}`);
      expect(t.ctl.calls.some((c) => c.startsWith("purge:"))).toBe(false);
      // The begin of a second publish while live does not start another saga.
      expect((await controlStub(t.id).begin(t.id, t.nodeId)).phase).toBe("live");
      figures.push(`${point} ${resumeMs} ms (configure ×${configures}, notify batches ×${notifies}, notifications/follower 1)`);
    });
  }

  it("figure", () => {
    console.log(`FAULT do-eviction-saga: ${figures.length} reset points, each live exactly once (1 reservation, 1 stream_started, 1 notification per follower); ${figures.join("; ")}`);
  });
});
