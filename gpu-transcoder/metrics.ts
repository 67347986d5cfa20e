import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const createTranscoderMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    streams: new Gauge({ name: "cascade_transcoder_streams", help: "Streams on this node by state", labelNames: ["state"] as const, registers: [registry] }),
    speed: new Gauge({ name: "cascade_transcoder_speed", help: "Instantaneous encoding speed (1 = real time) per stream", labelNames: ["stream"] as const, registers: [registry] }),
    ingestBitrate: new Gauge({
      name: "cascade_transcoder_ingest_bitrate_bps",
      help: "Bits per second received from the stream's RTMP publisher over the last stats period",
      labelNames: ["stream"] as const,
      registers: [registry],
    }),
    droppedFrames: new Counter({ name: "cascade_transcoder_dropped_frames_total", help: "Frames ffmpeg dropped (its progress drop_frames) per stream", labelNames: ["stream"] as const, registers: [registry] }),
    parts: new Counter({ name: "cascade_transcoder_parts_total", help: "Parts produced", registers: [registry] }),
    pushLatency: new Histogram({
      name: "cascade_transcoder_push_seconds",
      help: "Duration of one push request to the origin",
      labelNames: ["kind"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    partDelivery: new Histogram({
      name: "cascade_transcoder_part_delivery_seconds",
      help: "From a part being cut to the origin acknowledging it: queueing, retries and failovers included",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    }),
    pushQueueDepth: new Gauge({ name: "cascade_transcoder_push_queue_depth", help: "Items (inits, parts, segment boundaries) waiting to reach the origin, per stream", labelNames: ["stream"] as const, registers: [registry] }),
    pushOldestPending: new Gauge({
      name: "cascade_transcoder_push_oldest_pending_seconds",
      help: "Age of the oldest part not yet acknowledged by the origin, per stream (0 when none waits)",
      labelNames: ["stream"] as const,
      registers: [registry],
    }),
    encodedSeconds: new Counter({
      name: "cascade_transcoder_encoded_seconds_total",
      help: "Media seconds encoded per stream (ffmpeg's out_time over all runs); its rate is the real-time factor without the per-sample jitter of cascade_transcoder_speed",
      labelNames: ["stream"] as const,
      registers: [registry],
    }),
    activeRenditions: new Gauge({ name: "cascade_transcoder_active_renditions", help: "Renditions the running ladder encodes, per stream (audio included)", labelNames: ["stream"] as const, registers: [registry] }),
    pipelineRestarts: new Counter({ name: "cascade_transcoder_pipeline_restarts_total", help: "Encoder (ffmpeg) exits under a live publisher, each followed by a restart", labelNames: ["stream"] as const, registers: [registry] }),
    rungDrops: new Counter({ name: "cascade_transcoder_rung_drops_total", help: "Top rungs dropped by the real-time guard (encoding slower than real time)", labelNames: ["stream", "rung"] as const, registers: [registry] }),
    publishers: new Gauge({ name: "cascade_transcoder_publishers_connected", help: "RTMP publishers currently publishing to this node", registers: [registry] }),
    slots: new Gauge({ name: "cascade_transcoder_slots", help: "Streams this node offers to transcode at once (CASCADE_SLOTS)", registers: [registry] }),
    encoderInfo: new Gauge({ name: "cascade_transcoder_encoder_info", help: "1, labelled with the H.264 encoder ffmpeg was probed to use", labelNames: ["encoder"] as const, registers: [registry] }),
    thumbnails: new Counter({
      name: "cascade_transcoder_thumbnails_total",
      help: "Thumbnails pushed (ok) or given up (dropped: the next one replaces it)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    failovers: new Counter({ name: "cascade_transcoder_origin_failovers_total", help: "Origin failovers", registers: [registry] }),
    publishRefused: new Counter({ name: "cascade_transcoder_publish_refused_total", help: "Publish attempts refused", registers: [registry] }),
    events: new Counter({ name: "cascade_transcoder_events_total", help: "Stream events emitted", labelNames: ["type"] as const, registers: [registry] }),
  };
};

export type TranscoderMetrics = ReturnType<typeof createTranscoderMetrics>;
