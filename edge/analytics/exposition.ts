/**
 * Prometheus text exposition (format 0.0.4) of each live stream's latest complete minute. All
 * series are gauges: each is that minute's figure, not a running total, so a scrape that misses a
 * minute loses nothing a rate() would need.
 */
import { EDGE_METRIC_NAMES as N, type EdgeMetricKey } from "./metric-names.ts";
import type { AnalyticsRow } from "./store.ts";

export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * The counter writes a finished minute at its next alarm (at most 10 s later): the exposition
 * waits this long into a minute before it calls the previous one complete.
 */
export const SETTLE_MS = 15_000;

export const exposedMinute = (now: number): number => Math.floor((now - SETTLE_MS) / 60_000) - 1;

const HELP: Record<EdgeMetricKey, string> = {
  viewers: "Viewers of the stream in its latest complete minute (peak of distinct sessions in the trailing 60 s)",
  latencySeconds: "Players' capture-to-display latency in the latest complete minute",
  playerBufferSeconds: "Players' buffer ahead of the playhead in the latest complete minute, 10th percentile",
  errors: "Player errors and node error events in the latest complete minute",
  encoderSpeed: "Encoder speed (1 = real time) averaged over the latest complete minute",
  ingestBitrateBps: "Bits per second received from the publisher, averaged over the latest complete minute",
  droppedFrames: "Frames the encoder dropped in the latest complete minute",
};

const label = (v: string): string => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

const num = (v: number): string => (Number.isFinite(v) ? String(v) : v > 0 ? "+Inf" : v < 0 ? "-Inf" : "NaN");

/**
 * One sample per live stream and figure the minute has. A live stream with no row for the minute
 * had no viewer counted by its counter: it shows 0 viewers and nothing else (absent, not zero, for
 * figures nobody reported).
 */
export const renderExposition = (streams: Array<{ stream_id: string; row: AnalyticsRow | null }>): string => {
  const samples: Record<EdgeMetricKey, string[]> = { viewers: [], latencySeconds: [], playerBufferSeconds: [], errors: [], encoderSpeed: [], ingestBitrateBps: [], droppedFrames: [] };
  for (const { stream_id, row } of streams) {
    const s = `stream="${label(stream_id)}"`;
    const put = (key: EdgeMetricKey, value: number | null | undefined, extra = "") => {
      if (value !== null && value !== undefined) samples[key].push(`${N[key]}{${s}${extra}} ${num(value)}`);
    };
    put("viewers", row?.viewers ?? 0);
    put("latencySeconds", row?.latency_p50_ms == null ? null : row.latency_p50_ms / 1000, `,quantile="0.5"`);
    put("latencySeconds", row?.latency_p95_ms == null ? null : row.latency_p95_ms / 1000, `,quantile="0.95"`);
    put("playerBufferSeconds", row?.buffer_p10_s);
    put("errors", row?.errors);
    put("encoderSpeed", row?.encoder_speed);
    put("ingestBitrateBps", row?.ingest_bitrate_bps);
    put("droppedFrames", row?.dropped_frames);
  }
  const out: string[] = [];
  for (const key of Object.keys(N) as EdgeMetricKey[]) {
    out.push(`# HELP ${N[key]} ${HELP[key]}`, `# TYPE ${N[key]} gauge`, ...samples[key]);
  }
  return out.join("\n") + "\n";
};
