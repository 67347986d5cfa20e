/**
 * Every route of the edge app with who may call it: the one table of route access. The app puts
 * the credential checks it can make without the route's objects in front of the routes from here
 * (`admin`: the EDGE_ADMIN_TOKEN bearer); the other kinds are checked by the routes, which must
 * load the stream, webhook or channel to decide. The security suite (edge/security/) reads this
 * table: a route missing here, or an entry without a route, fails it, and each route is attacked
 * with every credential its access kind must refuse.
 */
import type { Hono } from "hono";
import { HLS_JS_PATH } from "../pages/hls-asset.ts";
import { requireAdminBearer } from "./admin-bearer.ts";

/**
 * - public: no credentials; optional: a user token is read when sent (a bad one is a 401);
 * - user: any valid user token; streamer: not a `viewer` account;
 * - owner: the stream's (or webhook's) owner or an admin; broadcaster: the channel's owner or an
 *   admin; moderator: broadcaster, channel moderators and staff;
 * - node: a node token (NODE_SECRET); admin: the EDGE_ADMIN_TOKEN;
 * - websocket: the chat upgrade, anyone reads, a token (query or subprotocol) must be valid.
 */
export type Access = "public" | "optional" | "user" | "streamer" | "owner" | "broadcaster" | "moderator" | "node" | "admin" | "websocket";

export interface RouteAccess {
  method: string;
  /** The pattern as hono lists it. */
  pattern: string;
  access: Access;
}

export const ROUTE_ACCESS: readonly RouteAccess[] = [
  { method: "GET", pattern: "/healthz", access: "public" },
  { method: "GET", pattern: "/hls/:streamId/*", access: "public" },
  { method: "HEAD", pattern: "/hls/:streamId/*", access: "public" },
  { method: "GET", pattern: "/vod/*", access: "public" },
  { method: "HEAD", pattern: "/vod/*", access: "public" },
  { method: "POST", pattern: "/api/v1/edge/prewarm/:streamId", access: "admin" },
  { method: "POST", pattern: "/api/v1/edge/purge/:streamId", access: "admin" },
  { method: "GET", pattern: HLS_JS_PATH, access: "public" },
  { method: "GET", pattern: "/watch/:streamId", access: "public" },
  { method: "GET", pattern: "/", access: "public" },
  { method: "GET", pattern: "/login", access: "public" },
  { method: "GET", pattern: "/creator", access: "public" },
  { method: "GET", pattern: "/api/v1/live", access: "public" },
  // Sign-up and log-in: the credentials are the body.
  { method: "POST", pattern: "/api/v1/users", access: "public" },
  { method: "POST", pattern: "/api/v1/sessions", access: "public" },
  { method: "GET", pattern: "/api/v1/me", access: "user" },
  { method: "GET", pattern: "/api/v1/categories", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/search", access: "public" },
  { method: "GET", pattern: "/api/v1/streams", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat", access: "websocket" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/messages", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderation-log", access: "moderator" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderators", access: "moderator" },
  { method: "PUT", pattern: "/api/v1/streams/:id/chat/moderators/:userId", access: "broadcaster" },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/moderators/:userId", access: "broadcaster" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/emotes", access: "public" },
  { method: "PUT", pattern: "/api/v1/streams/:id/chat/emotes/:code", access: "broadcaster" },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/emotes/:code", access: "broadcaster" },
  { method: "POST", pattern: "/api/v1/streams/:id/heartbeat", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/:id/viewers", access: "public" },
  { method: "POST", pattern: "/api/v1/edge/viewers/:id/flush", access: "admin" },
  { method: "GET", pattern: "/api/v1/edge/viewers/:id/stats", access: "admin" },
  { method: "POST", pattern: "/api/v1/streams", access: "streamer" },
  { method: "GET", pattern: "/api/v1/streams/:id", access: "optional" },
  { method: "PATCH", pattern: "/api/v1/streams/:id", access: "owner" },
  { method: "POST", pattern: "/api/v1/streams/:id/key", access: "owner" },
  { method: "POST", pattern: "/api/v1/streams/:id/stop", access: "owner" },
  { method: "GET", pattern: "/api/v1/streams/:id/playback", access: "optional" },
  { method: "POST", pattern: "/api/v1/streams/:id/playback-token", access: "owner" },
  // Says no more than a direct /hls request does: public.
  { method: "GET", pattern: "/api/v1/streams/:id/visibility", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/:id/saga", access: "owner" },
  { method: "GET", pattern: "/api/v1/streams/:id/events", access: "owner" },
  { method: "GET", pattern: "/api/v1/streams/:id/recordings", access: "optional" },
  { method: "GET", pattern: "/api/v1/streams/:id/recordings/:recordingId", access: "optional" },
  { method: "DELETE", pattern: "/api/v1/streams/:id/recordings/:recordingId", access: "owner" },
  { method: "POST", pattern: "/api/v1/streams/:id/recordings/:recordingId/convert", access: "owner" },
  { method: "GET", pattern: "/api/v1/streams/:id/analytics", access: "owner" },
  { method: "POST", pattern: "/api/v1/nodes/stats", access: "node" },
  { method: "GET", pattern: "/api/v1/edge/metrics", access: "admin" },
  { method: "POST", pattern: "/api/v1/nodes/register", access: "node" },
  { method: "POST", pattern: "/api/v1/nodes/heartbeat", access: "node" },
  { method: "POST", pattern: "/api/v1/ingest/authorize", access: "node" },
  { method: "POST", pattern: "/api/v1/nodes/events", access: "node" },
  { method: "PUT", pattern: "/api/v1/edge/recordings/:recordingId/:file", access: "node" },
  { method: "PUT", pattern: "/api/v1/edge/recordings/:recordingId/:rendition/:file", access: "node" },
  { method: "GET", pattern: "/api/v1/edge/recordings/:recordingId/objects", access: "admin" },
  { method: "PUT", pattern: "/api/v1/follows/:username", access: "user" },
  { method: "DELETE", pattern: "/api/v1/follows/:username", access: "user" },
  { method: "GET", pattern: "/api/v1/follows", access: "user" },
  { method: "GET", pattern: "/api/v1/notifications", access: "user" },
  { method: "POST", pattern: "/api/v1/notifications/read", access: "user" },
  { method: "POST", pattern: "/api/v1/webhooks", access: "user" },
  { method: "GET", pattern: "/api/v1/webhooks", access: "user" },
  { method: "DELETE", pattern: "/api/v1/webhooks/:id", access: "owner" },
  { method: "GET", pattern: "/api/v1/webhooks/:id/deliveries", access: "owner" },
];

export const routeKey = (method: string, pattern: string): string => `${method} ${pattern}`;

const byKey = new Map(ROUTE_ACCESS.map((r) => [routeKey(r.method, r.pattern), r.access]));

/** Who may call `method pattern`; undefined for a route the table does not list. */
export const accessOf = (method: string, pattern: string): Access | undefined => byKey.get(routeKey(method, pattern));

/** Puts the table's own checks in front of the routes; call before the routes are added. */
export const enforceRouteAccess = (app: Hono<{ Bindings: Env }>): void => {
  for (const r of ROUTE_ACCESS) if (r.access === "admin") app.on(r.method, r.pattern, requireAdminBearer);
};
