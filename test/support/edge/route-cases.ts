/**
 * The security suite's cases for every route of edge/middleware/route-access.ts: parameter values,
 * an acceptable body, the body limit, and what each path parameter's validation says. Who may call
 * a route comes from the product table itself, so the suite attacks the access the app enforces.
 */
import { accessOf, type RouteAccess } from "../../../edge/middleware/route-access.ts";
import { HLS_JS_PATH } from "../../../edge/pages/hls-asset.ts";
import type { Fixture } from "./security-fixture.ts";

export { routeKey } from "../../../edge/middleware/route-access.ts";

/** What a path parameter is, for the path-parameter cases: the field the 400 names, or the message. */
export interface ParamRule {
  field?: string;
  error: RegExp;
}

export interface RouteCase extends RouteAccess {
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

const CASES: Array<Omit<RouteCase, "access">> = [
  { method: "GET", pattern: "/healthz" },
  { method: "GET", pattern: "/hls/:streamId/*", params: () => ({ "*": "master.m3u8" }), paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "HEAD", pattern: "/hls/:streamId/*", params: () => ({ "*": "master.m3u8" }) },
  { method: "GET", pattern: "/vod/*", params: (f) => ({ "*": `${f.recordingId}/master.m3u8` }) },
  { method: "HEAD", pattern: "/vod/*", params: (f) => ({ "*": `${f.recordingId}/master.m3u8` }) },
  { method: "POST", pattern: "/api/v1/edge/prewarm/:streamId", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "POST", pattern: "/api/v1/edge/purge/:streamId", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "GET", pattern: HLS_JS_PATH },
  { method: "GET", pattern: "/watch/:streamId", paramRules: { streamId: { error: /^invalid stream id$/ } } },
  { method: "GET", pattern: "/" },
  { method: "GET", pattern: "/login" },
  { method: "GET", pattern: "/creator" },
  { method: "GET", pattern: "/api/v1/live" },
  // Sign-up and log-in: the credentials are the body.
  { method: "POST", pattern: "/api/v1/users", bodyLimit: 16 * KIB, body: () => ({ username: `sec_${Math.random().toString(36).slice(2, 10)}`, password: "correct horse battery" }) },
  { method: "POST", pattern: "/api/v1/sessions", bodyLimit: 16 * KIB, body: (f) => ({ username: f.owner.username, password: f.owner.password }) },
  { method: "GET", pattern: "/api/v1/me" },
  { method: "GET", pattern: "/api/v1/categories" },
  { method: "GET", pattern: "/api/v1/streams/search" },
  { method: "GET", pattern: "/api/v1/streams" },
  { method: "GET", pattern: "/api/v1/streams/:id/chat", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/messages", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderation-log", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/moderators", paramRules: { id: STREAM_ID } },
  { method: "PUT", pattern: "/api/v1/streams/:id/chat/moderators/:userId", paramRules: { id: STREAM_ID, userId: { field: "userId", error: /^invalid user id$/ } } },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/moderators/:userId", paramRules: { id: STREAM_ID, userId: { field: "userId", error: /^invalid user id$/ } } },
  { method: "GET", pattern: "/api/v1/streams/:id/chat/emotes", paramRules: { id: STREAM_ID } },
  {
    method: "PUT",
    pattern: "/api/v1/streams/:id/chat/emotes/:code",
    params: () => ({ code: "SecNew" }),
    body: () => ({ image_url: "https://emotes.example.com/new.png" }),
    bodyLimit: 24 * KIB,
    paramRules: { id: STREAM_ID, code: { field: "code", error: /^invalid request$/ } },
  },
  { method: "DELETE", pattern: "/api/v1/streams/:id/chat/emotes/:code", paramRules: { id: STREAM_ID, code: { field: "code", error: /^invalid emote code$/ } } },
  { method: "POST", pattern: "/api/v1/streams/:id/heartbeat", body: () => ({ session_id: "security-session-0001" }), bodyLimit: KIB, paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/viewers", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/edge/viewers/:id/flush", body: () => ({ edge: "edge-sec", sessions: [] }), bodyLimit: 2 * KIB * KIB, paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/edge/viewers/:id/stats", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams", body: () => ({ title: "Not created" }), bodyLimit: 16 * KIB },
  { method: "GET", pattern: "/api/v1/streams/:id", paramRules: { id: STREAM_ID } },
  { method: "PATCH", pattern: "/api/v1/streams/:id", body: () => ({ title: "Hijacked" }), bodyLimit: 16 * KIB, paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/key", paramRules: { id: STREAM_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/stop", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/playback", paramRules: { id: STREAM_ID } },
  {
    method: "POST",
    pattern: "/api/v1/streams/:id/playback-token",
    forbidden: "only the stream's owner or an admin may mint playback URLs",
    body: () => ({}),
    bodyLimit: 16 * KIB,
    paramRules: { id: STREAM_ID },
  },
  // Says no more than a direct /hls request does: public.
  { method: "GET", pattern: "/api/v1/streams/:id/visibility", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/saga", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/events", paramRules: { id: STREAM_ID } },
  { method: "GET", pattern: "/api/v1/streams/:id/recordings", paramRules: { id: STREAM_ID } },
  // The fixture's recording is a DVR window, which only its owner sees: 404 to anyone else.
  { method: "GET", pattern: "/api/v1/streams/:id/recordings/:recordingId", anonymous: 404, paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  { method: "DELETE", pattern: "/api/v1/streams/:id/recordings/:recordingId", paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  { method: "POST", pattern: "/api/v1/streams/:id/recordings/:recordingId/convert", paramRules: { id: STREAM_ID, recordingId: RECORDING_ID } },
  {
    method: "GET",
    pattern: "/api/v1/streams/:id/analytics",
    forbidden: "only the stream's owner or staff may read its analytics",
    paramRules: { id: STREAM_ID },
  },
  {
    method: "POST",
    pattern: "/api/v1/nodes/stats",
    body: (f) => ({ streams: [{ stream_id: f.streamId, seconds: 10, ingest_bytes: 1000, dropped_frames: 0, encoder_speed: 1, errors: 0 }] }),
    bodyLimit: 256 * KIB,
  },
  { method: "GET", pattern: "/api/v1/edge/metrics" },
  { method: "POST", pattern: "/api/v1/nodes/register", body: () => ({ slots: 1, encoder: "libx264", load: 0, speed: 1 }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/nodes/heartbeat", body: () => ({ slots: 1, encoder: "libx264", load: 0, speed: 1 }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/ingest/authorize", body: (f) => ({ stream_key: f.streamKey }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/nodes/events", body: (f) => ({ stream_id: f.streamId, type: "connection_lost" }), bodyLimit: 16 * KIB },
  {
    method: "PUT",
    pattern: "/api/v1/edge/recordings/:recordingId/:file",
    params: () => ({ file: "poster.jpg" }),
    paramRules: { recordingId: { field: "recording_id", error: /^invalid archive path$/ }, file: { field: "file", error: /^invalid archive path$/ } },
  },
  {
    method: "PUT",
    pattern: "/api/v1/edge/recordings/:recordingId/:rendition/:file",
    params: () => ({ rendition: "360p", file: "init-0.mp4" }),
    paramRules: {
      recordingId: { field: "recording_id", error: /^invalid archive path$/ },
      rendition: { field: "rendition", error: /^invalid archive path$/ },
      file: { field: "file", error: /^invalid archive path$/ },
    },
  },
  { method: "GET", pattern: "/api/v1/edge/recordings/:recordingId/objects", paramRules: { recordingId: { field: "recording_id", error: /^invalid archive path$/ } } },
  { method: "PUT", pattern: "/api/v1/follows/:username", paramRules: { username: { field: "username", error: /^invalid username$/ } } },
  { method: "DELETE", pattern: "/api/v1/follows/:username", paramRules: { username: { field: "username", error: /^invalid username$/ } } },
  { method: "GET", pattern: "/api/v1/follows" },
  { method: "GET", pattern: "/api/v1/notifications" },
  { method: "POST", pattern: "/api/v1/notifications/read", body: () => ({ all: true }), bodyLimit: 16 * KIB },
  { method: "POST", pattern: "/api/v1/webhooks", body: () => ({ url: "https://hooks.example.com/second", events: ["stream_started"] }), bodyLimit: 16 * KIB },
  { method: "GET", pattern: "/api/v1/webhooks" },
  { method: "DELETE", pattern: "/api/v1/webhooks/:id", params: (f) => ({ id: f.webhookId }), forbidden: WEBHOOK_OWNER, paramRules: { id: { field: "id", error: /^invalid webhook id$/ } } },
  { method: "GET", pattern: "/api/v1/webhooks/:id/deliveries", params: (f) => ({ id: f.webhookId }), forbidden: WEBHOOK_OWNER, paramRules: { id: { field: "id", error: /^invalid webhook id$/ } } },
];

/** The cases with each route's access from the product table (a case for an unlisted route fails here). */
export const ROUTES: RouteCase[] = CASES.map((c) => {
  const access = accessOf(c.method, c.pattern);
  if (!access) throw new Error(`${c.method} ${c.pattern} has security cases but no entry in edge/middleware/route-access.ts`);
  return { ...c, access };
});

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
