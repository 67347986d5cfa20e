import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import path from "node:path";
import pino, { type Logger } from "pino";
import { Archiver, type ArchiverOptions } from "./archive/archiver.ts";
import { archiveRoutes } from "./archive/archive-routes.ts";
import { DEFAULT_DVR_WINDOW_S, type OriginConfig } from "./config.ts";
import { viewerRoutes } from "./http/viewer-routes.ts";
import { jsonError } from "./http/responses.ts";
import { routeClass } from "./http/route-class.ts";
import { createOriginMetrics } from "./metrics.ts";
import { pushRoutes } from "./push/push-routes.ts";
import { MeteredStorage } from "./store/metered-storage.ts";
import { LocalDirStorage, type StorageDriver } from "./store/storage-driver.ts";
import { StreamRegistry } from "./store/stream-registry.ts";
import { ThumbnailStore } from "./store/thumbnail-store.ts";

export interface OriginOptions extends OriginConfig {
  logger?: Logger;
  storage?: StorageDriver;
  /** Archiver settings beyond the config (tests: a fake edge's fetch, short backoff). */
  archive?: Partial<Pick<ArchiverOptions, "fetch" | "backoff" | "posterIntervalMs" | "syncJournal" | "timeoutMs">>;
}

/** Builds the origin: push API for transcoders, LL-HLS viewer routes, health and metrics. */
export const createOrigin = (config: OriginOptions) => {
  const log = config.logger ?? pino({ name: "core-origin" });
  const metrics = createOriginMetrics();
  const storage = new MeteredStorage(config.storage ?? new LocalDirStorage(config.storageDir), metrics);
  const registry = new StreamRegistry(
    storage,
    { memorySegments: config.memorySegments, playlistSegments: config.playlistSegments, dvrWindowS: config.dvrWindowS ?? DEFAULT_DVR_WINDOW_S },
    (err) => log.error({ event: "storage_error", err }, "storage write failed"),
  );
  metrics.watchStreams(() => registry.list());
  const thumbnails = new ThumbnailStore(storage, (err) => log.error({ event: "storage_error", err }, "thumbnail write failed"));
  // Recordings go to R2 through the edge (CASCADE_ARCHIVE_URL); the journal lives beside the segments.
  const archiver = new Archiver({
    baseUrl: config.archiveUrl ?? null,
    nodeSecret: config.nodeSecret,
    dir: path.join(config.storageDir, "_archive"),
    registry,
    thumbnails,
    log,
    metrics,
    concurrency: config.archiveConcurrency ?? 2,
    ...config.archive,
  });
  void archiver.start().catch((err) => log.error({ event: "archive_journal_failed", err }, "could not open the archive journal"));
  const app = new Hono();
  app.use("*", async (c, next) => {
    await next();
    // A blocking request whose viewer hung up still gets its 503 internally; counting it as 499
    // keeps players that abandon requests (a level switch) out of the server-error ratio.
    const status = c.req.raw.signal.aborted ? "499" : String(c.res.status);
    metrics.httpRequests.inc({ route: routeClass(c.req.path), status });
  });
  app.get("/healthz", (c) =>
    c.json({ status: "ok", streams: registry.list().filter((s) => !s.ended).length, uptimeSeconds: Math.round(process.uptime()) }),
  );
  app.get("/metrics", async () => {
    const body = await metrics.registry.metrics();
    return new Response(body, { headers: { "content-type": metrics.registry.contentType } });
  });
  app.route("/", pushRoutes(registry, metrics, config.nodeSecret, log, thumbnails, archiver));
  app.route("/", archiveRoutes(archiver, config.nodeSecret));
  app.route("/", viewerRoutes(registry, metrics, thumbnails));
  app.notFound(() => jsonError(404, "not found"));
  app.onError((err) => {
    log.error({ event: "request_failed", err }, "request failed");
    return jsonError(500, "internal error");
  });

  let server: ServerType | null = null;
  return {
    app,
    registry,
    thumbnails,
    archiver,
    metrics,
    log,
    async listen(): Promise<{ port: number }> {
      // The archive journal is open (and what it held is queued again) before the first push.
      await archiver.start().catch(() => undefined);
      return new Promise((resolve, reject) => {
        server = serve({ fetch: app.fetch, hostname: config.host, port: config.port }, (info) => {
          log.info({ event: "listening", host: config.host, port: info.port }, "core-origin listening");
          resolve({ port: info.port });
        });
        server.once("error", reject);
        // Blocked LL-HLS requests are held up to 3 × TD; keep-alive sockets must outlive that.
        (server as import("node:http").Server).keepAliveTimeout = 65_000;
        (server as import("node:http").Server).maxConnections = 20_000;
      });
    },
    close(): Promise<void> {
      archiver.close();
      return new Promise((resolve) => {
        if (!server) return resolve();
        (server as import("node:http").Server).closeAllConnections?.();
        server.close(() => resolve());
      });
    },
  };
};

export type Origin = ReturnType<typeof createOrigin>;
