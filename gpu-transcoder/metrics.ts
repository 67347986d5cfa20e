import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export const createTranscoderMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    streams: new Gauge({ name: "cascade_transcoder_streams", help: "Streams on this node by state", labelNames: ["state"] as const, registers: [registry] }),
    speed: new Gauge({ name: "cascade_transcoder_speed", help: "Instantaneous encoding speed (1 = real time) per stream", labelNames: ["stream"] as const, registers: [registry] }),
    parts: new Counter({ name: "cascade_transcoder_parts_total", help: "Parts produced", registers: [registry] }),
    pushLatency: new Histogram({
      name: "cascade_transcoder_push_seconds",
      help: "Duration of one push request to the origin",
      labelNames: ["kind"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
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
