import { serve, type ServerType } from "@hono/node-server";
import { Hono } from "hono";
import pino, { type Logger } from "pino";
import type { OriginConfig } from "./config.ts";
import { viewerRoutes } from "./http/viewer-routes.ts";
import { jsonError } from "./http/responses.ts";
import { createOriginMetrics } from "./metrics.ts";
import { pushRoutes } from "./push/push-routes.ts";
import { LocalDirStorage, type StorageDriver } from "./store/storage-driver.ts";
import { StreamRegistry } from "./store/stream-registry.ts";
import { ThumbnailStore } from "./store/thumbnail-store.ts";

export interface OriginOptions extends OriginConfig {
  logger?: Logger;
  storage?: StorageDriver;
}

/** Builds the origin: push API for transcoders, LL-HLS viewer routes, health and metrics. */
export const createOrigin = (config: OriginOptions) => {
  const log = config.logger ?? pino({ name: "core-origin" });
  const metrics = createOriginMetrics();
  const storage = config.storage ?? new LocalDirStorage(config.storageDir);
  const registry = new StreamRegistry(
    storage,
    { memorySegments: config.memorySegments, playlistSegments: config.playlistSegments },
    (err) => log.error({ event: "storage_error", err }, "storage write failed"),
  );
  const thumbnails = new ThumbnailStore(storage, (err) => log.error({ event: "storage_error", err }, "thumbnail write failed"));
  const app = new Hono();
  app.get("/healthz", (c) =>
    c.json({ status: "ok", streams: registry.list().filter((s) => !s.ended).length, uptimeSeconds: Math.round(process.uptime()) }),
  );
  app.get("/metrics", async () => {
    const body = await metrics.registry.metrics();
    return new Response(body, { headers: { "content-type": metrics.registry.contentType } });
  });
  app.route("/", pushRoutes(registry, metrics, config.nodeSecret, log, thumbnails));
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
    metrics,
    log,
    listen(): Promise<{ port: number }> {
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
      return new Promise((resolve) => {
        if (!server) return resolve();
        (server as import("node:http").Server).closeAllConnections?.();
        server.close(() => resolve());
      });
    },
  };
};

export type Origin = ReturnType<typeof createOrigin>;
