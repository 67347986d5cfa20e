import pino from "pino";
import { describe, expect, it } from "vitest";
import { streamEvent } from "../shared/events.ts";
import { PUSH_HEADERS } from "../shared/push-protocol.ts";
import { createTranscoderMetrics } from "./metrics.ts";
import { PushClient } from "./push/push-client.ts";
import { countStreamEvent, EncodedSecondsCounter, partDeliverySeconds, refreshStreamGauges, type StreamView } from "./stream-metrics.ts";

const value = async (m: ReturnType<typeof createTranscoderMetrics>, name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
  const metric = (await m.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (metric?.values as Array<{ value: number; labels: Record<string, string | number> }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want),
  );
  return v?.value;
};

const view = (o: Partial<StreamView> & { id: string }): StreamView => ({ key: {}, state: "live", speed: 1.02, encodedSeconds: 0, renditions: 3, queueDepth: 0, oldestPendingAtMs: null, ...o });

describe("refreshStreamGauges", () => {
  it("sets speed, renditions, queue depth and the oldest unsent part's age per stream", async () => {
    const m = createTranscoderMetrics();
    refreshStreamGauges(m, [view({ id: "a", speed: 0.8, queueDepth: 7, oldestPendingAtMs: 10_000 })], 12_500);
    expect(await value(m, "cascade_transcoder_speed", { stream: "a" })).toBe(0.8);
    expect(await value(m, "cascade_transcoder_active_renditions", { stream: "a" })).toBe(3);
    expect(await value(m, "cascade_transcoder_push_queue_depth", { stream: "a" })).toBe(7);
    expect(await value(m, "cascade_transcoder_push_oldest_pending_seconds", { stream: "a" })).toBe(2.5);
  });

  it("counts streams by their state now (starting → live happens inside the pipeline)", async () => {
    const m = createTranscoderMetrics();
    refreshStreamGauges(m, [view({ id: "a" }), view({ id: "b", state: "starting", renditions: 0 }), view({ id: "c", state: "reconnecting" }), view({ id: "d", state: "ended" })], 0);
    expect(await value(m, "cascade_transcoder_streams", { state: "live" })).toBe(1);
    expect(await value(m, "cascade_transcoder_streams", { state: "starting" })).toBe(1);
    expect(await value(m, "cascade_transcoder_streams", { state: "reconnecting" })).toBe(1);
  });

  it("reports no speed while no encoder runs (reconnecting, or between runs), rather than a false 0", async () => {
    const m = createTranscoderMetrics();
    refreshStreamGauges(m, [view({ id: "r", state: "reconnecting", speed: 0, renditions: 0 }), view({ id: "x", renditions: 0, speed: 0 })], 0);
    expect(await value(m, "cascade_transcoder_speed", { stream: "r" })).toBeUndefined();
    expect(await value(m, "cascade_transcoder_speed", { stream: "x" })).toBeUndefined();
    expect(await value(m, "cascade_transcoder_active_renditions", { stream: "r" })).toBe(0);
    expect(await value(m, "cascade_transcoder_push_oldest_pending_seconds", { stream: "r" })).toBe(0);
  });

  it("drops the series of streams that are gone or ended", async () => {
    const m = createTranscoderMetrics();
    refreshStreamGauges(m, [view({ id: "a" }), view({ id: "b" })], 0);
    refreshStreamGauges(m, [view({ id: "b" }), view({ id: "c", state: "ended" })], 0);
    expect(await value(m, "cascade_transcoder_speed", { stream: "a" })).toBeUndefined();
    expect(await value(m, "cascade_transcoder_speed", { stream: "b" })).toBe(1.02);
    expect(await value(m, "cascade_transcoder_push_queue_depth", { stream: "c" })).toBeUndefined();
  });
});

describe("cascade_transcoder_encoded_seconds_total", () => {
  it("adds what each run encoded since the last scrape, across ffmpeg restarts and a new broadcast", async () => {
    const m = createTranscoderMetrics();
    const encoded = new EncodedSecondsCounter();
    const pipeline = {};
    const scrape = (key: object, encodedSeconds: number, state: StreamView["state"] = "live") => refreshStreamGauges(m, [view({ key, id: "s", encodedSeconds, state })], 0, encoded);
    scrape(pipeline, 10);
    scrape(pipeline, 25);
    expect(await value(m, "cascade_transcoder_encoded_seconds_total", { stream: "s" })).toBe(25);
    // A restart: out_time starts at 0 again.
    scrape(pipeline, 4);
    expect(await value(m, "cascade_transcoder_encoded_seconds_total", { stream: "s" })).toBe(29);
    // Reconnecting (no run): nothing new, and the counter never goes back.
    scrape(pipeline, 0, "reconnecting");
    expect(await value(m, "cascade_transcoder_encoded_seconds_total", { stream: "s" })).toBe(29);
    // The next broadcast of the same stream id is another pipeline, counted from its own 0.
    scrape({}, 40);
    expect(await value(m, "cascade_transcoder_encoded_seconds_total", { stream: "s" })).toBe(69);
  });
});

describe("countStreamEvent", () => {
  it("counts rung drops by stream and rung, and encoder restarts by stream", async () => {
    const m = createTranscoderMetrics();
    countStreamEvent(m, streamEvent("quality_changed", "s1", "warning", { dropped: "720p", speed: 0.8, renditions: ["480p"] }));
    countStreamEvent(m, streamEvent("error", "s1", "error", { reason: "encoder exited", code: 1, restarts: 1 }));
    countStreamEvent(m, streamEvent("error", "s1", "error", { reason: "encoder exited", code: 1, restarts: 2 }));
    countStreamEvent(m, streamEvent("error", "s1", "error", { reason: "something else" }));
    countStreamEvent(m, streamEvent("stream_started", "s1", "info", {}));
    expect(await value(m, "cascade_transcoder_rung_drops_total", { stream: "s1", rung: "720p" })).toBe(1);
    expect(await value(m, "cascade_transcoder_pipeline_restarts_total", { stream: "s1" })).toBe(2);
  });
});

describe("part delivery", () => {
  it("is measured from the part's cascade-produced-at header, for parts only", () => {
    expect(partDeliverySeconds({ kind: "part", headers: { [PUSH_HEADERS.producedAt]: "1000" } }, 1250)).toBe(0.25);
    expect(partDeliverySeconds({ kind: "segment", headers: {} }, 1250)).toBeNull();
    expect(partDeliverySeconds({ kind: "part", headers: {} }, 1250)).toBeNull();
  });

  it("the push client reports when its oldest unacknowledged part was cut", () => {
    // No manifest yet: nothing can be sent, so everything stays queued.
    const push = new PushClient({ streamId: "q", origins: ["http://127.0.0.1:9"], token: "t", logger: pino({ level: "silent" }) });
    try {
      expect(push.oldestPendingPartAt()).toBeNull();
      push.pushInit("180p", 0, new Uint8Array([1]));
      expect(push.oldestPendingPartAt()).toBeNull();
      const before = Date.now();
      push.pushPart("180p", { msn: 0, part: 0, duration: 0.5, independent: true, bytes: new Uint8Array([1]) });
      const after = Date.now();
      push.pushPart("audio", { msn: 0, part: 0, duration: 0.5, independent: true, bytes: new Uint8Array([1]) });
      const at = push.oldestPendingPartAt()!;
      expect(at).toBeGreaterThanOrEqual(before);
      expect(at).toBeLessThanOrEqual(after);
      expect(push.pendingCount()).toBe(3);
    } finally {
      push.close();
    }
  });
});
