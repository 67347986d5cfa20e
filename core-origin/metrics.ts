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
    archiveQueueDepth: new Gauge({
      name: "cascade_origin_archive_queue_depth",
      help: "Archive uploads journaled and not yet answered 2xx by the edge (queued, retrying or in flight)",
      registers: [registry],
    }),
    archiveUploaded: new Counter({
      name: "cascade_origin_archive_uploaded_total",
      help: "Archive uploads the edge answered 2xx, by kind (manifest, poster, init, segment)",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    archiveFailures: new Counter({
      name: "cascade_origin_archive_failures_total",
      help: "Archive failures: retry (an attempt failed, retried), rejected (refused for good, dropped), journal (could not journal)",
      labelNames: ["outcome"] as const,
      registers: [registry],
    }),
    archiveLag: new Histogram({
      name: "cascade_origin_archive_lag_seconds",
      help: "From a segment completing at the origin to the edge answering 2xx for its upload to R2",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: [registry],
    }),
    archiveJournalSeconds: new Histogram({
      name: "cascade_origin_archive_journal_seconds",
      help: "Writing (and syncing) one archive journal entry, before the push is acknowledged",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    archiveReplayed: new Counter({
      name: "cascade_origin_archive_replayed_total",
      help: "Archive journal entries found at start (uploads a previous process had not finished)",
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
