/**
 * The edge's Prometheus series (`GET /api/v1/edge/metrics`), one per live stream (label `stream`),
 * from the stream's latest complete minute. Dashboards and alert rules import these names: change
 * one and they must change with it.
 */
export const EDGE_METRIC_NAMES = {
  /** Viewer peak of the minute (distinct sessions in the trailing 60 s). */
  viewers: "cascade_stream_viewers",
  /** Capture-to-display latency, seconds; label `quantile` = "0.5" | "0.95". */
  latencySeconds: "cascade_stream_latency_seconds",
  /** Player buffer ahead of the playhead, seconds, 10th percentile. */
  playerBufferSeconds: "cascade_stream_player_buffer_seconds",
  /** Player errors plus node error events in the minute. */
  errors: "cascade_stream_errors",
  /** Encoder speed (1 = real time), averaged over the minute. */
  encoderSpeed: "cascade_stream_encoder_speed",
  /** Bits per second the publisher sent, averaged over the minute. */
  ingestBitrateBps: "cascade_stream_ingest_bitrate_bps",
  /** Frames the encoder dropped in the minute. */
  droppedFrames: "cascade_stream_dropped_frames",
} as const;

export type EdgeMetricKey = keyof typeof EDGE_METRIC_NAMES;
export type EdgeMetricName = (typeof EDGE_METRIC_NAMES)[EdgeMetricKey];
