import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { LiveStream } from "./store/stream-registry.ts";
import { streamStats, type StreamStats } from "./store/stream-stats.ts";

/**
 * Prometheus metrics of one origin instance (a registry per instance so tests can run several).
 * Every metric is documented in the README's "Metrics" section; monitoring/ alerts and graphs on them.
 */
export const createOriginMetrics = () => {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Per-stream gauges are read from the stream registry at scrape time (set by `watchStreams`).
  let source: (() => Iterable<LiveStream>) | null = null;
  const stats = (): StreamStats[] => (source ? streamStats(source(), Date.now()) : []);
  /** A gauge per stream, read from the streams at scrape time; streams `value` gives null for are left out. */
  const perStreamGauge = (name: string, help: string, value: (s: StreamStats) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ["stream"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) {
          const v = value(s);
          if (v !== null) this.set({ stream: s.id }, v);
        }
      },
    });
  return {
    registry,
    /** Lets the scrape-time gauges read the origin's streams. */
    watchStreams(streams: () => Iterable<LiveStream>): void {
      source = streams;
    },
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

    httpRequests: new Counter({
      name: "cascade_origin_http_requests_total",
      help: "HTTP requests by route class and status code (499: the client went away before the answer)",
      labelNames: ["route", "status"] as const,
      registers: [registry],
    }),
    blockingWait: new Histogram({
      name: "cascade_origin_blocking_wait_seconds",
      help: "How long a blocking request (playlist with _HLS_msn, hinted part) waited, by outcome (ready, timeout, aborted)",
      labelNames: ["kind", "outcome"] as const,
      // Parts arrive every 0.2-1 s; blocking requests give up after 3 x TD (6 s at TD 2).
      buckets: [0.005, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 6, 10, 20, 30],
      registers: [registry],
    }),
    pushBytes: new Counter({
      name: "cascade_origin_push_bytes_total",
      help: "Media bytes of the parts accepted from transcoders",
      labelNames: ["rendition_type"] as const,
      registers: [registry],
    }),
    storageSeconds: new Histogram({
      name: "cascade_origin_storage_operation_seconds",
      help: "Duration of one storage driver call (put, get, get_range, delete)",
      labelNames: ["op"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    storageErrors: new Counter({
      name: "cascade_origin_storage_errors_total",
      help: "Storage driver calls that failed, by operation",
      labelNames: ["op"] as const,
      registers: [registry],
    }),
    storageWrittenBytes: new Counter({
      name: "cascade_origin_storage_written_bytes_total",
      help: "Bytes written to storage (segments, init segments, thumbnails)",
      registers: [registry],
    }),
    liveEdgeAge: new Gauge({
      name: "cascade_origin_live_edge_age_seconds",
      help: "Seconds since the newest part of a live rendition arrived (since it was announced, before its first part)",
      labelNames: ["stream", "rendition"] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of stats()) {
          for (const r of s.renditions) if (r.liveEdgeAgeS !== null) this.set({ stream: s.id, rendition: r.name }, r.liveEdgeAgeS);
        }
      },
    }),
    partTarget: perStreamGauge(
      "cascade_origin_part_target_seconds",
      "PART-TARGET of each live stream (alerts compare the live-edge age with it)",
      (s) => (s.ended ? null : s.partTargetS),
    ),
    segmentsHeld: perStreamGauge(
      "cascade_origin_segments_held",
      "Complete segments listed over all renditions of a stream (DVR window included; ended streams until replaced)",
      (s) => s.segmentsHeld,
    ),
    partsHeld: perStreamGauge(
      "cascade_origin_parts_held",
      "Part records kept over all renditions of a stream (the live window)",
      (s) => s.partsHeld,
    ),
    memoryBytes: perStreamGauge(
      "cascade_origin_memory_media_bytes",
      "Media bytes a stream holds in memory (init segments and the parts of the newest segments)",
      (s) => s.memoryBytes,
    ),
  };
};

export type OriginMetrics = ReturnType<typeof createOriginMetrics>;
