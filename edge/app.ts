import { Hono } from "hono";
import { cors } from "hono/cors";
import type { EdgeEnv } from "./env.ts";
import { Coalescer } from "./hls/coalescer.ts";
import type { DeliveryDeps } from "./hls/deliver.ts";
import { EdgeCache } from "./hls/edge-cache.ts";
import { MemoryTier, MEMORY_TIER_DEFAULT_BYTES } from "./hls/memory-tier.ts";
import type { Fetched } from "./hls/fetched.ts";
import { TargetDurations } from "./hls/target-durations.ts";
import { jsonError } from "./http/json-error.ts";
import { controlPlaneRoutes } from "./routes/api.ts";
import { hlsRoutes } from "./routes/hls.ts";
import { pageRoutes } from "./routes/pages.ts";
import { prewarmRoutes } from "./routes/prewarm.ts";
import { vodRoutes } from "./routes/vod.ts";
import type { LifecycleFactory } from "./streams/lifecycle.ts";
import { HeartbeatAggregator } from "./viewers/aggregator.ts";
import { OriginFailover, originUrls } from "./hls/origin-failover.ts";

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

/** EDGE_MEMORY_CACHE_MB: isolate memory for hot objects in front of the Cache API; "0" turns it off. */
const memoryTier = (setting: string | undefined): MemoryTier | null => {
  const mb = setting === undefined || setting === "" ? MEMORY_TIER_DEFAULT_BYTES / 1024 / 1024 : Number(setting);
  return Number.isFinite(mb) && mb > 0 ? new MemoryTier(Math.min(mb, 96) * 1024 * 1024) : null;
};

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

  const deps = (c: { env: EdgeEnv; executionCtx: ExecutionContext }): DeliveryDeps => {
    targetDurations ??= new TargetDurations(Number(c.env.DEFAULT_TARGET_DURATION ?? 2) || 2);
    cache ??= new EdgeCache(options.cache ? options.cache() : Promise.resolve(caches.default), undefined, memoryTier(c.env.EDGE_MEMORY_CACHE_MB));
    if (failover?.value !== c.env.ORIGIN_URL) failover = { value: c.env.ORIGIN_URL, pool: new OriginFailover(originUrls(c.env.ORIGIN_URL)) };
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

  const app = new Hono<{ Bindings: EdgeEnv }>();
  // Players on other origins (an embed, hls.js demo pages) read playlists and media.
  app.use("/hls/*", cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], exposeHeaders: ["Age", "Content-Length", "X-Cascade-Cache"], maxAge: 86_400 }));
  app.get("/healthz", (c) => c.json({ status: "ok", component: "edge", edge: c.env.EDGE_ID ?? "edge", inflight: coalescer.size }));
  app.route("/", hlsRoutes(deps, { forward: options.forward }));
  app.route("/", vodRoutes({ cache: options.cache }));
  app.route("/", prewarmRoutes(deps));
  app.route("/", pageRoutes({ upstream: options.upstream, forward: options.forward }));
  app.route("/", controlPlaneRoutes({ deps, forward: options.forward, lifecycle: options.lifecycle, viewers }));
  app.notFound((c) => jsonError(404, "not found", { path: new URL(c.req.url).pathname }));
  app.onError((err) => jsonError(500, "internal error", { detail: err.message }));
  return { app, stats, coalescer, viewers };
};
