/**
 * Stream analytics (edge/analytics/): per-minute figures the control plane stores from node and
 * player reports.
 * - `GET /api/v1/streams/:id/analytics?from=&to=` — owner or staff: every minute of the range, nulls where no report came.
 * - `POST /api/v1/nodes/stats` — node token: a transcoder's per-stream figures (edge/analytics/node-reports.ts).
 * - `GET /api/v1/edge/metrics` — EDGE_ADMIN_TOKEN: Prometheus exposition of each live stream's latest complete minute.
 */
import { Hono } from "hono";
import { requireUser } from "../accounts/auth.ts";
import type { UserClaims } from "../accounts/user-token.ts";
import { exposedMinute, EXPOSITION_CONTENT_TYPE, renderExposition } from "../analytics/exposition.ts";
import { checkAssignments, parseNodeReport } from "../analytics/node-reports.ts";
import { MINUTE_MS, minuteOf } from "../analytics/player-minutes.ts";
import { parseRange } from "../analytics/range.ts";
import { liveStreamsAt, nodeReportStatement, readMinutes, type AnalyticsRow } from "../analytics/store.ts";
import { requireDb } from "../db/database.ts";
import { forbidden, invalidFields } from "../http/api-error.ts";
import { assertNoFieldErrors, readJsonObject } from "../http/json-body.ts";
import { requireNode } from "../nodes/node-auth.ts";
import { loadStream } from "../streams/access.ts";
import type { StreamRow } from "../streams/model.ts";


/** A node report is small: 1,024 streams of six short fields. */
const NODE_REPORT_MAX = 256 * 1024;

/** The owner, admins and platform moderators read a stream's analytics; anyone else signed in gets 403. */
const mayRead = (user: UserClaims, stream: StreamRow): boolean => user.sub === stream.user_id || user.role === "admin" || user.role === "moderator";

const EMPTY: Omit<AnalyticsRow, "minute"> = {
  viewers: null,
  ingest_bitrate_bps: null,
  dropped_frames: null,
  encoder_speed: null,
  latency_p50_ms: null,
  latency_p95_ms: null,
  buffer_p10_s: null,
  errors: null,
};

export const analyticsRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.get("/api/v1/streams/:id/analytics", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    if (!mayRead(user, stream)) throw forbidden("only the stream's owner or staff may read its analytics");
    const { range, errors } = parseRange(c.req.query(), Date.now());
    if (!range) throw invalidFields(errors, "invalid analytics range");
    const rows = new Map((await readMinutes(db, stream.id, range.fromMinute, range.toMinute)).map((r) => [r.minute, r]));
    const minutes = [];
    for (let m = range.fromMinute; m < range.toMinute; m++) {
      const { minute: _, ...figures } = rows.get(m) ?? { minute: m, ...EMPTY };
      minutes.push({ minute: new Date(m * MINUTE_MS).toISOString(), ...figures });
    }
    return c.json({ stream_id: stream.id, from: new Date(range.from).toISOString(), to: new Date(range.to).toISOString(), minutes });
  });

  app.post("/api/v1/nodes/stats", async (c) => {
    const nodeId = await requireNode(c);
    const body = await readJsonObject(c, NODE_REPORT_MAX);
    const { reports, errors } = parseNodeReport(body);
    assertNoFieldErrors(errors);
    const db = requireDb(c.env);
    assertNoFieldErrors(await checkAssignments(db, nodeId, reports));
    const minute = minuteOf(Date.now());
    await db.batch(reports.map((r) => nodeReportStatement(db, minute, r)));
    return c.json({ node_id: nodeId, ok: true, minute: new Date(minute * MINUTE_MS).toISOString(), streams: reports.length });
  });

  app.get("/api/v1/edge/metrics", async (c) => {
    // Admin bearer: checked in front of the route (edge/middleware/route-access.ts).
    const streams = await liveStreamsAt(requireDb(c.env), exposedMinute(Date.now()));
    return c.body(renderExposition(streams), 200, { "content-type": EXPOSITION_CONTENT_TYPE, "cache-control": "no-store" });
  });

  return app;
};
