import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const createTranscoderMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const gauge = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) => new Gauge<L>({ name, help, labelNames, registers: [registry] });
  const counter = <L extends string = string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    streams: gauge("cascade_transcoder_streams", "Streams on this node by state", ["state"]),
    speed: gauge("cascade_transcoder_speed", "Instantaneous encoding speed (1 = real time) per stream", ["stream"]),
    ingestBitrate: gauge("cascade_transcoder_ingest_bitrate_bps", "Bits per second received from the stream's RTMP publisher over the last stats period", ["stream"]),
    droppedFrames: counter("cascade_transcoder_dropped_frames_total", "Frames ffmpeg dropped (its progress drop_frames) per stream", ["stream"]),
    parts: counter("cascade_transcoder_parts_total", "Parts produced"),
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
    pushQueueDepth: gauge("cascade_transcoder_push_queue_depth", "Items (inits, parts, segment boundaries) waiting to reach the origin, per stream", ["stream"]),
    pushOldestPending: gauge("cascade_transcoder_push_oldest_pending_seconds", "Age of the oldest part not yet acknowledged by the origin, per stream (0 when none waits)", ["stream"]),
    encodedSeconds: counter("cascade_transcoder_encoded_seconds_total", "Media seconds encoded per stream (ffmpeg's out_time over all runs); its rate is the real-time factor without the per-sample jitter of cascade_transcoder_speed", ["stream"]),
    activeRenditions: gauge("cascade_transcoder_active_renditions", "Renditions the running ladder encodes, per stream (audio included)", ["stream"]),
    pipelineRestarts: counter("cascade_transcoder_pipeline_restarts_total", "Encoder (ffmpeg) exits under a live publisher, each followed by a restart", ["stream"]),
    rungDrops: counter("cascade_transcoder_rung_drops_total", "Top rungs dropped by the real-time guard (encoding slower than real time)", ["stream", "rung"]),
    publishers: gauge("cascade_transcoder_publishers_connected", "RTMP publishers currently publishing to this node"),
    slots: gauge("cascade_transcoder_slots", "Streams this node offers to transcode at once (CASCADE_SLOTS)"),
    encoderInfo: gauge("cascade_transcoder_encoder_info", "1, labelled with the H.264 encoder ffmpeg was probed to use", ["encoder"]),
    thumbnails: counter("cascade_transcoder_thumbnails_total", "Thumbnails pushed (ok) or given up (dropped: the next one replaces it)", ["outcome"]),
    failovers: counter("cascade_transcoder_origin_failovers_total", "Origin failovers"),
    publishRefused: counter("cascade_transcoder_publish_refused_total", "Publish attempts refused"),
    events: counter("cascade_transcoder_events_total", "Stream events emitted", ["type"]),
  };
};

export type TranscoderMetrics = ReturnType<typeof createTranscoderMetrics>;
