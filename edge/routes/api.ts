import { Hono } from "hono";
import type { DeliveryDepsOf } from "../hls/deliver.ts";
import { apiErrorHandler } from "../http/api-error.ts";
import type { LifecycleFactory } from "../streams/lifecycle.ts";
import { HeartbeatAggregator } from "../viewers/aggregator.ts";
import { accountRoutes } from "./api-accounts.ts";
import { analyticsRoutes } from "./api-analytics.ts";
import { archiveRoutes } from "./api-archive.ts";
import { chatRoutes } from "./api-chat.ts";
import { discoveryRoutes } from "./api-discovery.ts";
import { followRoutes } from "./api-follows.ts";
import { nodeRoutes } from "./api-nodes.ts";
import { recordingRoutes } from "./api-recordings.ts";
import { streamRoutes } from "./api-streams.ts";
import { viewerRoutes } from "./api-viewers.ts";
import { webhookRoutes } from "./api-webhooks.ts";
import { forwardControlPlane } from "../middleware/control-plane-forward.ts";

export interface ControlPlaneOptions {
  /** The edge's delivery dependencies (playback reads a live stream's master playlist through them). */
  deps: DeliveryDepsOf;
  /** How a forwarded control-plane request is sent (CONTROL_PLANE_URL); `fetch` unless given. */
  forward?: (request: Request) => Promise<Response>;
  /** Who stops streams; D1 only until the go-live saga's StreamControl replaces it. */
  lifecycle?: LifecycleFactory;
  /** The isolate's viewer heartbeat aggregator (one per app); a fresh one unless given. */
  viewers?: HeartbeatAggregator;
}

/**
 * The control-plane API under `/api/v1`: accounts, streams, discovery, transcoder nodes. JSON in
 * and out, bearer tokens, errors as `{ error, fields? }`; nothing here is cached by clients unless
 * a route says so.
 */
export const controlPlaneRoutes = (o: ControlPlaneOptions) => {
  const app = new Hono<{ Bindings: Env }>();
  const viewers = o.viewers ?? new HeartbeatAggregator();
  app.use("/api/v1/*", forwardControlPlane(o.forward ?? ((req) => fetch(req))));
  app.use("/api/v1/*", async (c, next) => {
    await next();
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });
  app.route("/", accountRoutes());
  // Before the stream routes: `/streams/search` must not be taken for a stream id.
  app.route("/", discoveryRoutes());
  app.route("/", chatRoutes());
  app.route("/", viewerRoutes({ aggregator: viewers, forward: o.forward }));
  app.route("/", streamRoutes({ deps: o.deps, lifecycle: o.lifecycle, viewers }));
  app.route("/", recordingRoutes({ deps: o.deps }));
  app.route("/", nodeRoutes());
  app.route("/", analyticsRoutes());
  app.route("/", archiveRoutes());
  app.route("/", followRoutes());
  app.route("/", webhookRoutes());
  app.onError(apiErrorHandler);
  return app;
};
