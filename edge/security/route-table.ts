/**
 * Every route of the edge app with who may call it. The auth matrix checks this table against the
 * app's own route list both ways, so a route added without an entry here (and so without security
 * cases) fails the suite.
 */
import { HLS_JS_PATH } from "../pages/hls-asset.ts";
import type { Fixture } from "../../test/support/edge/security-fixture.ts";

/**
 * - public: no credentials; optional: a user token is read when sent (a bad one is a 401);
 * - user: any valid user token; streamer: not a `viewer` account;
 * - owner: the stream's (or webhook's) owner or an admin; broadcaster: the channel's owner or an
 *   admin; moderator: broadcaster, channel moderators and staff;
 * - node: a node token (NODE_SECRET); admin: the EDGE_ADMIN_TOKEN;
 * - websocket: the chat upgrade, anyone reads, a token (query or subprotocol) must be valid.
 */
export type Access = "public" | "optional" | "user" | "streamer" | "owner" | "broadcaster" | "moderator" | "node" | "admin" | "websocket";

/** What a path parameter is, for the path-parameter cases: the field the 400 names, or the message. */
export interface ParamRule {
  field?: string;
  error: RegExp;
}

export interface RouteCase {
  method: string;
  /** The pattern as hono lists it. */
  pattern: string;
  access: Access;
  /** Values for the pattern's parameters (and `*`) beyond the defaults from the fixture. */
  params?: (f: Fixture) => Record<string, string>;
  /** A body that would be accepted from the right caller. */
  body?: (f: Fixture) => unknown;
  /** Largest body the route reads, when it reads one. */
  bodyLimit?: number;
  /** What an anonymous caller gets on an `optional` route (200 unless the object is hidden from the public). */
  anonymous?: number;
  /** The 403 message when it is not the route's kind's usual one. */
  forbidden?: string;
  /** How each path parameter is validated (the rule for a bad value); absent: the route has no path parameter. */
  paramRules?: Record<string, ParamRule>;
}

const STREAM_ID: ParamRule = { field: "id", error: /^invalid stream id$/ };
const RECORDING_ID: ParamRule = { field: "recording_id", error: /^invalid recording id$/ };
const KIB = 1024;
const WEBHOOK_OWNER = "only the webhook's owner or an admin may do this";

export const ROUTES: RouteCase[] = [
  { method: "GET", pattern: "/healthz", access: "public" },
  { method: "GET", pattern: "/hls/:streamId/*", access: "public", params: () => ({ "*": "master.m3u8" }), paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "HEAD", pattern: "/hls/:streamId/*", access: "public", params: () => ({ "*": "master.m3u8" }) },
  { method: "GET", pattern: "/vod/*", access: "public", params: (f) => ({ "*": `${f.recordingId}/master.m3u8` }) },
  { method: "HEAD", pattern: "/vod/*", access: "public", params: (f) => ({ "*": `${f.recordingId}/master.m3u8` }) },
  { method: "POST", pattern: "/api/v1/edge/prewarm/:streamId", access: "admin", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "POST", pattern: "/api/v1/edge/purge/:streamId", access: "admin", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "GET", pattern: HLS_JS_PATH, access: "public" },
  { method: "GET", pattern: "/watch/:streamId", access: "public", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "GET", pattern: "/", access: "public" },
  { method: "GET", pattern: "/login", access: "public" },
  { method: "GET", pattern: "/creator", access: "public" },
  { method: "GET", pattern: "/api/v1/live", access: "public" },
  // Sign-up and log-in: the credentials are the body.
  { method: "POST", pattern: "/api/v1/users", access: "public", bodyLimit: 16 * KIB, body: () => ({ username: `sec_${Math.random().toString(36).slice(2, 10)}`, password: "correct horse battery" }) },
  { method: "POST", pattern: "/api/v1/sessions", access: "public", bodyLimit: 16 * KIB, body: (f) => ({ username: f.owner.username, password: f.owner.password }) },
  { method: "GET", pattern: "/api/v1/me", access: "user" },
  { method: "GET", pattern: "/api/v1/categories", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/search", access: "public" },
  { method: "GET", pattern: "/api/v1/streams", access: "public" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat", access: "websocket", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/messages", access: "public", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderation-log", access: "moderator", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderators", access: "moderator", paramRules: { id: STREAM_ID } },
  { method: "PUT", pattern: "/api/v1/streams/:id/chat/moderators/:userId", access: "broadcaster", paramRules: { id: STREAM_ID, userId: { field: "userId", error: /^invalid user id$/ } } },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/moderators/:userId", access: "broadcaster", paramRules: { id: STREAM_ID, userId: { field: "userId", error: /^invalid user id$/ } } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/emotes", access: "public", paramRules: { id: STREAM_ID } },
  {
    method: "PUT",
    pattern: "/api/v1/streams/:id/chat/emotes/:code",
    access: "broadcaster",
    params: () => ({ code: "SecNew" }),
    body: () => ({ image_url: "https://emotes.example.com/new.png" }),
    bodyLimit: 24 * KIB,
    paramRules: { id: STREAM_ID, code: { field: "code", error: /^invalid request$/ } },
  },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/emotes/:code", access: "broadcaster", paramRules: { id: STREAM_ID, code: { field: "code", error: /^invalid emote code$/ } } },
  { method: "POST", pattern: "/api/v1/streams/:id/heartbeat", access: "public", body: () => ({ session_id: "security-session-0001" }), bodyLimit: KIB, paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/viewers", access: "public", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/edge/viewers/:id/flush", access: "admin", body: () => ({ edge: "edge-sec", sessions: [] }), bodyLimit: 2 * KIB * KIB, paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/edge/viewers/:id/stats", access: "admin", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams", access: "streamer", body: () => ({ title: "Not created" }), bodyLimit: 16 * KIB },
  { method: "GET", pattern: "/api/v1/streams/:id", access: "optional", paramRules: { id: STREAM_ID } },
  { method: "PATCH", pattern: "/api/v1/streams/:id", access: "owner", body: () => ({ title: "Hijacked" }), bodyLimit: 16 * KIB, paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/key", access: "owner", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/stop", access: "owner", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/playback", access: "optional", paramRules: { id: STREAM_ID } },
  {
    method: "POST",
    pattern: "/api/v1/streams/:id/playback-token",
    access: "owner",
    forbidden: "only the stream's owner or an admin may mint playback URLs",
    body: () => ({}),
    bodyLimit: 16 * KIB,
    paramRules: { id: STREAM_ID },
  },
  // Says no more than a direct /hls request does: public.
  { method: "GET", pattern: "/api/v1/streams/:id/visibility", access: "public", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/saga", access: "owner", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/events", access: "owner", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/recordings", access: "optional", paramRules: { id: STREAM_ID } },
  // The fixture's recording is a DVR window, which only its owner sees: 404 to anyone else.
  { method: "GET", pattern: "/api/v1/streams/:id/recordings/:recordingId", access: "optional", anonymous: 404, paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  { method: "DELETE", pattern: "/api/v1/streams/:id/recordings/:recordingId", access: "owner", paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/recordings/:recordingId/convert", access: "owner", paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  {
    method: "GET",
    pattern: "/api/v1/streams/:id/analytics",
    access: "owner",
    forbidden: "only the stream's owner or staff may read its analytics",
    paramRules: { id: STREAM_ID },
  },
  {
    method: "POST",
    pattern: "/api/v1/nodes/stats",
    access: "node",
    body: (f) => ({ streams: [{ stream_id: f.streamId, seconds: 10, ingest_bytes: 1000, dropped_frames: 0, encoder_speed: 1, errors: 0 }] }),
    bodyLimit: 256 * KIB,
  },
  { method: "GET", pattern: "/api/v1/edge/metrics", access: "admin" },
  { method: "POST", pattern: "/api/v1/nodes/register", access: "node", body: () => ({ slots: 1, encoder: "libx264", load: 0, speed: 1 }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/nodes/heartbeat", access: "node", body: () => ({ slots: 1, encoder: "libx264", load: 0, speed: 1 }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/ingest/authorize", access: "node", body: (f) => ({ stream_key: f.streamKey }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/nodes/events", access: "node", body: (f) => ({ stream_id: f.streamId, type: "connection_lost" }), bodyLimit: 16 * KIB },
  {
    method: "PUT",
    pattern: "/api/v1/edge/recordings/:recordingId/:file",
    access: "node",
    params: () => ({ file: "poster.jpg" }),
    paramRules: { recordingId: { field: "recording_id", error: /^invalid archive path$/ }, file: { field: "file", error: /^invalid archive path$/ } },
  },
  {
    method: "PUT",
    pattern: "/api/v1/edge/recordings/:recordingId/:rendition/:file",
    access: "node",
    params: () => ({ rendition: "360p", file: "init-0.mp4" }),
    paramRules: {
      recordingId: { field: "recording_id", error: /^invalid archive path$/ },
      rendition: { field: "rendition", error: /^invalid archive path$/ },
      file: { field: "file", error: /^invalid archive path$/ },
    },
  },
  { method: "GET", pattern: "/api/v1/edge/recordings/:recordingId/objects", access: "admin", paramRules: { recordingId: { field: "recording_id", error: /^invalid archive path$/ } } },
  { method: "PUT", pattern: "/api/v1/follows/:username", access: "user", paramRules: { username: { field: "username", error: /^invalid username$/ } } },
  { method: "DELETE", pattern: "/api/v1/follows/:username", access: "user", paramRules: { username: { field: "username", error: /^invalid username$/ } } },
  { method: "GET", pattern: "/api/v1/follows", access: "user" },
  { method: "GET", pattern: "/api/v1/notifications", access: "user" },
  { method: "POST", pattern: "/api/v1/notifications/read", access: "user", body: () => ({ all: true }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/webhooks", access: "user", body: () => ({ url: "https://hooks.example.com/second", events: ["stream_started"] }), bodyLimit: 16 * KIB },
  { method: "GET", pattern: "/api/v1/webhooks", access: "user" },
  { method: "DELETE", pattern: "/api/v1/webhooks/:id", access: "owner", params: (f) => ({ id: f.webhookId }), forbidden: WEBHOOK_OWNER, paramRules: { id: { field: "id", error: /^invalid webhook id$/ } } },
  { method: "GET", pattern: "/api/v1/webhooks/:id/deliveries", access: "owner", params: (f) => ({ id: f.webhookId }), forbidden: WEBHOOK_OWNER, paramRules: { id: { field: "id", error: /^invalid webhook id$/ } } },
];

/** Parameter values that name the fixture's objects, for every pattern. */
const defaults = (f: Fixture): Record<string, string> => ({
  id: f.streamId,
  streamId: f.streamId,
  recordingId: f.recordingId,
  userId: f.other.user.id,
  code: f.emoteCode,
  username: f.other.username,
  rendition: "360p",
  file: "poster.jpg",
  "*": "",
});

/** The concrete path of a route, with `overrides` in place of some parameters (inserted as given: already encoded). */
export const pathOf = (route: RouteCase, f: Fixture, overrides: Record<string, string> = {}): string => {
  const values = { ...defaults(f), ...route.params?.(f), ...overrides };
  return route.pattern.replace(/:([A-Za-z]+)/g, (_, name: string) => values[name] ?? "").replace("*", values["*"] ?? "");
};

export const routeKey = (method: string, pattern: string): string => `${method} ${pattern}`;

/** Credentials a route accepts from the fixture's rightful caller. */
export const rightfulToken = (route: RouteCase, f: Fixture): string | null => {
  switch (route.access) {
    case "node":
      return f.nodeToken;
    case "admin":
      return f.adminToken;
    case "public":
    case "websocket":
      return null;
    default:
      return f.owner.token;
  }
};
