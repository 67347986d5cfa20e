import { describe, expect, it } from "vitest";
import { HeartbeatAggregator, MAX_BATCH_SESSIONS, type FlushFn } from "./aggregator.ts";
import type { HeartbeatBatch } from "./sessions.ts";

/** A clock the test moves, and sleeps that end only when the clock passes them. */
const fakeTime = () => {
  let t = 1_000_000;
  const sleepers: Array<{ until: number; wake: () => void }> = [];
  return {
    now: () => t,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ until: t + ms, wake })),
    advance: async (ms: number) => {
      t += ms;
      for (const s of sleepers.filter((x) => x.until <= t)) {
        sleepers.splice(sleepers.indexOf(s), 1);
        s.wake();
      }
      // Let the woken flushes run to their next sleep.
      await new Promise((r) => setTimeout(r, 0));
    },
  };
};

const sid = (i: number) => `session-${String(i).padStart(10, "0")}`;

const harness = (flushImpl?: FlushFn) => {
  const time = fakeTime();
  const agg = new HeartbeatAggregator(time.now, time.sleep);
  const batches: HeartbeatBatch[] = [];
  const pending: Array<Promise<unknown>> = [];
  const flush: FlushFn = flushImpl ?? (async (b) => (batches.push(b), { viewers: b.sessions.length, peak: b.sessions.length, updated_at: null }));
  const ctx = { intervalMs: 5_000, edge: "edge-t", flush, waitUntil: (p: Promise<unknown>) => void pending.push(p) };
  return { time, agg, batches, ctx, settled: () => Promise.all(pending) };
};

describe("heartbeat aggregator (one isolate)", () => {
  it("flushes a quiet stream's first heartbeat at once, then at most once per interval, ages included", async () => {
    const h = harness();
    h.agg.heartbeat("s1", sid(0), h.ctx);
    await h.time.advance(0);
    expect(h.batches).toEqual([{ streamId: "s1", edge: "edge-t", sessions: [[sid(0), 0]] }]);
    // 999 more within the interval: batched into one scheduled flush.
    for (let i = 1; i < 1000; i++) {
      if (i === 500) await h.time.advance(1_000);
      h.agg.heartbeat("s1", sid(i), h.ctx);
    }
    await h.time.advance(3_999);
    expect(h.batches).toHaveLength(1);
    expect(h.agg.pendingFor("s1")).toBe(999);
    await h.time.advance(1);
    expect(h.batches).toHaveLength(2);
    const second = h.batches[1]!.sessions;
    expect(second).toHaveLength(999);
    // Sent 5 s after the first flush: seen with it, 5 s old; seen after the clock moved 1 s, 4 s old.
    expect(second.find(([id]) => id === sid(1))).toEqual([sid(1), 5_000]);
    expect(second.find(([id]) => id === sid(999))).toEqual([sid(999), 4_000]);
    expect(h.agg.flushes).toBe(2);
    // Counts from the flush are remembered for readers.
    expect(h.agg.cached("s1")).toMatchObject({ viewers: 999 });
    await h.time.advance(5_001);
    expect(h.agg.cached("s1")).toBeNull();
    await h.settled();
  });

  it("keeps streams apart and repeats of a session within a batch are one entry", async () => {
    const h = harness();
    for (let i = 0; i < 3; i++) {
      h.agg.heartbeat("a", sid(1), h.ctx);
      h.agg.heartbeat("b", sid(1), h.ctx);
      h.agg.heartbeat("b", sid(2), h.ctx);
    }
    await h.time.advance(5_000);
    const by = (s: string) => h.batches.filter((b) => b.streamId === s).flatMap((b) => b.sessions.map(([id]) => id));
    expect(by("a")).toEqual([sid(1), sid(1)]);
    expect(by("b").sort()).toEqual([sid(1), sid(1), sid(2)]);
    await h.settled();
  });

  it("a full batch goes early, so one isolate's memory and batch size stay bounded", async () => {
    const h = harness();
    h.agg.heartbeat("big", sid(-1), h.ctx);
    for (let i = 0; i < MAX_BATCH_SESSIONS; i++) h.agg.heartbeat("big", sid(i), h.ctx);
    await h.time.advance(0);
    expect(h.batches.map((b) => b.sessions.length)).toEqual([1, MAX_BATCH_SESSIONS]);
    expect(h.agg.pendingFor("big")).toBe(0);
    await h.time.advance(5_000);
    await h.settled();
  });

  it("a failed flush keeps its sessions and retries; sessions past 60 s are dropped", async () => {
    let fail = true;
    const got: HeartbeatBatch[] = [];
    const h = harness(async (b) => {
      if (fail) throw new Error("counter down");
      got.push(b);
      return null;
    });
    h.agg.heartbeat("s", sid(1), h.ctx);
    await h.time.advance(0);
    expect(h.agg.pendingFor("s")).toBe(1);
    h.agg.heartbeat("s", sid(2), h.ctx);
    await h.time.advance(5_000);
    expect(h.agg.pendingFor("s")).toBe(2);
    fail = false;
    await h.time.advance(5_000);
    expect(got).toHaveLength(1);
    expect(got[0]!.sessions.map(([id]) => id).sort()).toEqual([sid(1), sid(2)]);
    expect(got[0]!.sessions.find(([id]) => id === sid(1))![1]).toBe(10_000);
    expect(h.agg.pendingFor("s")).toBe(0);

    // A counter down for over a minute: the retries stop once nothing young is left.
    fail = true;
    h.agg.heartbeat("s", sid(3), h.ctx);
    for (let i = 0; i < 14; i++) await h.time.advance(5_000);
    expect(h.agg.pendingFor("s")).toBe(0);
    await h.settled();
  });
});
