import { Hono, type Context } from "hono";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { requireDb } from "../db/database.ts";
import { ApiError, invalidFields, notFound, unavailable, type FieldErrors } from "../http/api-error.ts";
import { FieldReader } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields } from "../http/json-body.ts";
import { BUFFER_S_MAX, ERRORS_MAX, LATENCY_MS_MAX, parsePlayerStats, type PlayerStats } from "../analytics/player-stats.ts";
import { optionalUser } from "../accounts/auth.ts";
import { loadStream } from "../streams/access.ts";
import { requireViewAccess } from "../streams/view-access.ts";
import { checkPlaybackToken } from "../streams/playback-access.ts";
import { streamVisibility } from "../streams/visibility.ts";
import { MAX_BATCH_SESSIONS, type HeartbeatAggregator } from "../viewers/aggregator.ts";
import { flushTarget, viewerCounter } from "../do/viewer-counter/client.ts";
import { isSessionId, SESSION_ID_PATTERN, SESSION_ID_RULE, SESSION_WINDOW_MS } from "../viewers/sessions.ts";
import { streamViewers } from "../viewers/stream-viewers.ts";
import { edgeConfig } from "../config.ts";

/** A heartbeat is `{"session_id": "…", "latency_ms"?, "buffer_s"?, "errors"?}`: a kilobyte is plenty. */
export const HEARTBEAT_BODY_MAX = 1024;
/** A full batch of 64-character session ids with their ages fits. */
const FLUSH_BODY_MAX = 2 * 1024 * 1024;
const EDGE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface ViewerRoutesOptions {
  /** This isolate's heartbeat aggregator (one per `createEdgeApp`). */
  aggregator: HeartbeatAggregator;
  /** How batches reach the control plane when CONTROL_PLANE_URL is set; `fetch` unless given. */
  forward?: (request: Request) => Promise<Response>;
}

type C = Context<{ Bindings: Env }>;

const streamIdParam = (c: C): string => {
  const id = c.req.param("id") ?? "";
  if (!isStreamId(id)) throw invalidFields({ id: `must match ${STREAM_ID_PATTERN.source}` }, "invalid stream id");
  return id;
};

/** A flush body's `sessions`: `[[session_id, age_ms], …]`, every entry valid, or a field error. */
const readSessions = (raw: unknown, errors: FieldErrors): Array<[string, number]> => {
  if (!Array.isArray(raw)) {
    errors.sessions = "must be an array of [session_id, age_ms] pairs";
    return [];
  }
  if (raw.length > MAX_BATCH_SESSIONS) {
    errors.sessions = `must have at most ${MAX_BATCH_SESSIONS} items`;
    return [];
  }
  const out: Array<[string, number]> = [];
  for (const [i, entry] of raw.entries()) {
    const [id, age] = Array.isArray(entry) && entry.length === 2 ? (entry as unknown[]) : [];
    if (!isSessionId(id) || typeof age !== "number" || !Number.isInteger(age) || age < 0 || age > SESSION_WINDOW_MS) {
      errors.sessions = `item ${i}: must be [session_id, age_ms] with a valid session id and 0 ≤ age_ms ≤ ${SESSION_WINDOW_MS}`;
      return [];
    }
    out.push([id, age]);
  }
  return out;
};

/**
 * Viewer counting. Players: `POST /api/v1/streams/:id/heartbeat` every 15–30 s, answered 204 at
 * once (this edge batches it; it never waits on the counter). Anyone: `GET /api/v1/streams/:id/viewers`.
 * Edges (admin token): `POST /api/v1/edge/viewers/:id/flush` takes another edge's batch,
 * `GET /api/v1/edge/viewers/:id/stats` answers the counter's figures (benchmark, operators).
 */
export const viewerRoutes = (o: ViewerRoutesOptions) => {
  const app = new Hono<{ Bindings: Env }>();
  const send = o.forward ?? ((req: Request) => fetch(req));

  /**
   * A private stream is counted only from its viewers: a valid `?playback_token=` for it, or its
   * owner or an admin; anyone else is told it does not exist (as GET /api/v1/streams/:id does) and
   * nothing is counted. Visibility comes from the isolate's cache the delivery routes share, so a
   * heartbeat costs no D1 read; only an owner's own heartbeat reads the stream row.
   */
  const requireHeartbeatAccess = async (c: C, id: string): Promise<void> => {
    let visibility;
    try {
      visibility = await streamVisibility(c.env, id, send);
    } catch {
      throw new ApiError(503, "cannot check the stream's visibility right now", {}, { "retry-after": "2" });
    }
    if (visibility !== "private") return;
    const token = c.req.query("playback_token");
    if (token && (await checkPlaybackToken(c.env, token, id, new URL(c.req.url).pathname)).ok) return;
    const user = await optionalUser(c);
    if (user && c.env.DB) return requireViewAccess(c, await loadStream(c.env.DB, id), user);
    throw notFound("stream");
  };

  // An id that names no stream (the origin's local keys) is counted all the same: it only ever reaches an object nobody reads.
  app.post("/api/v1/streams/:id/heartbeat", async (c) => {
    const id = streamIdParam(c);
    await requireHeartbeatAccess(c, id);
    const body = await readJsonObject(c, HEARTBEAT_BODY_MAX);
    const fields = new FieldReader(body);
    const sessionId = fields.string("session_id", { required: true, max: 64, pattern: SESSION_ID_PATTERN, patternMessage: SESSION_ID_RULE, trim: false });
    // Optional player figures (edge/analytics/): older players send none and are counted all the same.
    const latencyMs = fields.number("latency_ms", { min: 0, max: LATENCY_MS_MAX });
    const bufferS = fields.number("buffer_s", { min: 0, max: BUFFER_S_MAX });
    const errors = fields.integer("errors", { min: 0, max: ERRORS_MAX });
    assertNoFieldErrors({ ...unknownFields(body, ["session_id", "latency_ms", "buffer_s", "errors"]), ...fields.errors });
    const flush = flushTarget(c.env, send);
    if (!flush) throw unavailable("viewer counting is not configured (VIEWER_COUNTER binding, or EDGE_ADMIN_TOKEN with CONTROL_PLANE_URL)");
    o.aggregator.heartbeat(id, sessionId!, { intervalMs: edgeConfig(c.env).viewerFlushIntervalMs, edge: edgeConfig(c.env).edgeId, flush, waitUntil: (p) => c.executionCtx.waitUntil(p) }, { latencyMs, bufferS, errors });
    return c.body(null, 204);
  });

  app.get("/api/v1/streams/:id/viewers", async (c) => {
    const stream = await loadStream(requireDb(c.env), streamIdParam(c));
    await requireViewAccess(c, stream, await optionalUser(c));
    const v = await streamViewers(c.env, stream, o.aggregator);
    // Counts move every few seconds: a short shared lifetime spares the counter a read per page view
    // (a private stream's count is only for its viewers: kept by their browser, never by a shared cache).
    return c.json({ stream_id: stream.id, status: stream.status, viewers: v.current, peak: v.peak }, 200, { "cache-control": `${stream.visibility === "private" ? "private" : "public"}, max-age=5` });
  });

  app.post("/api/v1/edge/viewers/:id/flush", async (c) => {
    // Admin bearer: checked in front of the route (edge/middleware/route-access.ts).
    const id = streamIdParam(c);
    const counter = viewerCounter(c.env, id);
    if (!counter) throw unavailable("viewer counting is not configured (no VIEWER_COUNTER binding)");
    const body = await readJsonObject(c, FLUSH_BODY_MAX);
    const errors: FieldErrors = unknownFields(body, ["edge", "sessions", "player"]);
    const edge = new FieldReader(body);
    const edgeName = edge.string("edge", { required: true, max: 64, pattern: EDGE_NAME, patternMessage: "must be 1–64 characters: letters, digits, '.', '-' and '_'" });
    const sessions = readSessions(body.sessions, errors);
    let player: PlayerStats | undefined;
    if (body.player !== undefined) {
      const parsed = parsePlayerStats(body.player);
      if (typeof parsed === "string") errors.player = parsed;
      else player = parsed;
    }
    assertNoFieldErrors({ ...errors, ...edge.errors });
    return c.json(await counter.record({ streamId: id, edge: edgeName!, sessions, ...(player ? { player } : {}) }));
  });

  app.get("/api/v1/edge/viewers/:id/stats", async (c) => {
    // Admin bearer: checked in front of the route (edge/middleware/route-access.ts).
    const counter = viewerCounter(c.env, streamIdParam(c));
    if (!counter) throw unavailable("viewer counting is not configured (no VIEWER_COUNTER binding)");
    return c.json(await counter.stats());
  });

  return app;
};
