import type { StreamEvent } from "../shared/events.ts";
import { PUSH_HEADERS } from "../shared/push-protocol.ts";
import type { TranscoderMetrics } from "./metrics.ts";
import type { PipelineState } from "./pipeline/stream-pipeline.ts";

/** What the scrape-time gauges need to know about one stream on this node. */
export interface StreamView {
  /** The pipeline itself: a new broadcast under the same id is a new key. */
  key: object;
  id: string;
  state: PipelineState;
  /** Instantaneous encoding speed (1 = real time). */
  speed: number;
  /** Media seconds the current ffmpeg run has encoded (0 again after a restart). */
  encodedSeconds: number;
  /** Renditions the running ladder encodes; 0 while no ffmpeg runs (reconnecting, restarting). */
  renditions: number;
  /** Items waiting in the push queues. */
  queueDepth: number;
  /** When the oldest part not yet acknowledged by the origin was cut (epoch ms), or null. */
  oldestPendingAtMs: number | null;
}

/**
 * Turns each run's out_time (which starts at 0 again whenever ffmpeg restarts) into the monotonic
 * `cascade_transcoder_encoded_seconds_total`. Sampled at scrape time: what a run encoded after the
 * last scrape before it was replaced is not counted, a small undercount next to a restart event.
 */
export class EncodedSecondsCounter {
  private readonly last = new WeakMap<object, number>();

  observe(m: TranscoderMetrics, s: StreamView): void {
    const prev = this.last.get(s.key) ?? 0;
    const delta = s.encodedSeconds >= prev ? s.encodedSeconds - prev : s.encodedSeconds;
    if (delta > 0) m.encodedSeconds.inc({ stream: s.id }, delta);
    this.last.set(s.key, s.encodedSeconds);
  }
}

/**
 * Sets the per-stream gauges from the streams as they are now; a stream that is gone loses its
 * series at once (reset), so a dashboard never shows a stale value for an ended stream.
 */
export const refreshStreamGauges = (m: TranscoderMetrics, streams: Iterable<StreamView>, nowMs: number, encoded?: EncodedSecondsCounter): void => {
  m.speed.reset();
  m.pushQueueDepth.reset();
  m.pushOldestPending.reset();
  m.activeRenditions.reset();
  // By state at scrape time: a pipeline goes from starting to live inside the pipeline, where no
  // event updates a gauge.
  const byState = { starting: 0, live: 0, reconnecting: 0 };
  for (const s of streams) {
    if (s.state === "ended" || s.state === "failed") continue;
    byState[s.state]++;
    encoded?.observe(m, s);
    const labels = { stream: s.id };
    // Without a running encoder there is no speed: reporting 0 would read as "slower than real
    // time" for a publisher who is merely reconnecting.
    if (s.state === "live" && s.renditions > 0) m.speed.set(labels, s.speed);
    m.activeRenditions.set(labels, s.renditions);
    m.pushQueueDepth.set(labels, s.queueDepth);
    m.pushOldestPending.set(labels, s.oldestPendingAtMs === null ? 0 : Math.max(0, nowMs - s.oldestPendingAtMs) / 1000);
  }
  for (const [state, n] of Object.entries(byState)) m.streams.set({ state }, n);
};

/** Counts the pipeline events that mean trouble: encoder restarts and rung drops. */
export const countStreamEvent = (m: TranscoderMetrics, e: StreamEvent): void => {
  if (e.type === "quality_changed" && typeof e.data.dropped === "string") {
    m.rungDrops.inc({ stream: e.streamId, rung: e.data.dropped });
  } else if (e.type === "error" && e.data.reason === "encoder exited") {
    m.pipelineRestarts.inc({ stream: e.streamId });
  }
};

/** Seconds from a part being cut (its `cascade-produced-at` header) to now; null for other items. */
export const partDeliverySeconds = (item: { kind: string; headers: Record<string, string> }, nowMs: number): number | null => {
  if (item.kind !== "part") return null;
  const produced = Number(item.headers[PUSH_HEADERS.producedAt]);
  return Number.isFinite(produced) ? Math.max(0, nowMs - produced) / 1000 : null;
};
