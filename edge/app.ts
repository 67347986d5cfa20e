import { Hono } from "hono";
import { cors } from "hono/cors";
import { Coalescer } from "./hls/coalescer.ts";
import type { DeliveryDeps } from "./hls/deliver.ts";
import { EdgeCache } from "./hls/edge-cache.ts";
import { MemoryTier } from "./hls/memory-tier.ts";
import { edgeConfig } from "./config.ts";
import type { Fetched } from "./hls/fetched.ts";
import { TargetDurations } from "./hls/target-durations.ts";
import { jsonError } from "../shared/http/json-error.ts";
import { enforceRouteAccess } from "./middleware/route-access.ts";
import { controlPlaneRoutes } from "./routes/api.ts";
import { hlsRoutes } from "./routes/hls.ts";
import { pageRoutes } from "./routes/pages.ts";
import { prewarmRoutes } from "./routes/prewarm.ts";
import { vodRoutes } from "./routes/vod.ts";
import type { LifecycleFactory } from "./streams/lifecycle.ts";
import { HeartbeatAggregator } from "./viewers/aggregator.ts";
import { OriginFailover } from "./hls/origin-failover.ts";

export interface EdgeAppOptions {
  /** How the edge reaches the origin; `fetch` in production, a stand-in in tests. */
  upstream?: (request: Request) => Promise<Response>;
  /** The cache to use; `caches.default` unless given. */
  cache?: () => Promise<Cache>;
  /** How control-plane requests are forwarded when CONTROL_PLANE_URL is set; `fetch` unless given. */
  forward?: (request: Request) => Promise<Response>;
  /** Who stops streams (the go-live saga plugs in here); D1 only unless given. */
  lifecycle?: LifecycleFactory;
}

/** Upstream fills per object key in this isolate: the offload figure the benchmarks and tests read. */
export interface EdgeStats {
  upstreamFetches: number;
  upstreamByKey: Map<string, number>;
}

/**
 * The edge Worker as a hono app. State that must be shared by concurrent requests (the in-flight
 * map, learned target durations) lives for the isolate's lifetime, as coalescing requires.
 */
export const createEdgeApp = (options: EdgeAppOptions = {}) => {
  const coalescer = new Coalescer<Fetched>();
  // Viewer heartbeats batched per isolate, like the in-flight map: one app is one edge isolate.
  const viewers = new HeartbeatAggregator();
  const stats: EdgeStats = { upstreamFetches: 0, upstreamByKey: new Map() };
  let targetDurations: TargetDurations | null = null;
  let cache: EdgeCache | null = null;
  let failover: { value: string; pool: OriginFailover } | null = null;

  const deps = (c: { env: Env; executionCtx: ExecutionContext }): DeliveryDeps => {
    const config = edgeConfig(c.env);
    targetDurations ??= new TargetDurations(config.defaultTargetDurationS);
    // EDGE_MEMORY_CACHE_MB: isolate memory for hot objects in front of the Cache API; 0 turns it off.
    cache ??= new EdgeCache(options.cache ? options.cache() : Promise.resolve(caches.default), undefined, config.memoryCacheBytes > 0 ? new MemoryTier(config.memoryCacheBytes) : null);
    if (failover?.value !== config.originUrl) failover = { value: config.originUrl, pool: new OriginFailover(config.origins) };
    return {
      originUrl: failover.pool.primary,
      upstream: failover.pool.wrap(options.upstream ?? ((req) => fetch(req))),
      cache,
      coalescer,
      targetDurations,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      now: () => Date.now(),
      onUpstream: (key) => {
        stats.upstreamFetches++;
        if (stats.upstreamByKey.size > 10_000) stats.upstreamByKey.clear();
        stats.upstreamByKey.set(key, (stats.upstreamByKey.get(key) ?? 0) + 1);
      },
    };
  };

  const app = new Hono<{ Bindings: Env }>();
  // Players on other origins (an embed, hls.js demo pages) read playlists and media.
  app.use("/hls/*", cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], exposeHeaders: ["Age", "Content-Length", "X-Cascade-Cache"], maxAge: 86_400 }));
  // Before the routes: the checks the route-access table makes itself (the admin bearer).
  enforceRouteAccess(app);
  app.get("/healthz", (c) => c.json({ status: "ok", component: "edge", edge: edgeConfig(c.env).edgeId, inflight: coalescer.size }));
  app.route("/", hlsRoutes(deps, { forward: options.forward }));
  app.route("/", vodRoutes({ cache: options.cache }));
  app.route("/", prewarmRoutes(deps));
  app.route("/", pageRoutes({ upstream: options.upstream, forward: options.forward }));
  app.route("/", controlPlaneRoutes({ deps, forward: options.forward, lifecycle: options.lifecycle, viewers }));
  app.notFound((c) => jsonError(404, "not found", { path: new URL(c.req.url).pathname }));
  app.onError((err) => jsonError(500, "internal error", { detail: err.message }));
  return { app, stats, coalescer, viewers };
};
