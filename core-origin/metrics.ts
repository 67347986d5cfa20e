import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics of one origin instance (a registry per instance so tests can run several). */
export const createOriginMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    streams: new Gauge({ name: "cascade_origin_streams", help: "Live streams on this origin", registers: [registry] }),
    partsPushed: new Counter({
      name: "cascade_origin_parts_pushed_total",
      help: "Parts accepted from transcoders",
      labelNames: ["rendition_type"] as const,
      registers: [registry],
    }),
    thumbnailsPushed: new Counter({
      name: "cascade_origin_thumbnails_pushed_total",
      help: "Thumbnails accepted from transcoders (a repeat of the current image is not counted)",
      registers: [registry],
    }),
    pushRejected: new Counter({
      name: "cascade_origin_push_rejected_total",
      help: "Pushes rejected, by HTTP status",
      labelNames: ["status"] as const,
      registers: [registry],
    }),
    pushLatency: new Histogram({
      name: "cascade_origin_push_latency_seconds",
      help: "From the transcoder finishing a part to the origin storing it",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    blockedRequests: new Gauge({
      name: "cascade_origin_blocked_requests",
      help: "Viewer requests currently blocked waiting for a playlist update or a hinted part",
      registers: [registry],
    }),
    viewerRequests: new Counter({
      name: "cascade_origin_viewer_requests_total",
      help: "Viewer requests by resource kind and status class",
      labelNames: ["kind", "status"] as const,
      registers: [registry],
    }),
  };
};

export type OriginMetrics = ReturnType<typeof createOriginMetrics>;
