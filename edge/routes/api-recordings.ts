/**
 * A stream's recordings: list, read, delete, convert a DVR-only broadcast. Anyone sees `ready`
 * recordings of a stream; its owner (and admins) also see `dvr`, `recording`, `finalizing` and
 * `failed` ones. A recording id is only ever looked up under its own stream: another stream's
 * recording (or one the caller may not see) is a plain 404, and so is a private stream's list to
 * anyone but its owner and admins (they play its recordings through signed URLs: POST
 * …/playback-token with `recording_id`).
 */
import { Hono, type Context } from "hono";
import { optionalUser, requireUser } from "../accounts/auth.ts";
import type { UserClaims } from "../accounts/user-token.ts";
import { requireDb } from "../db/database.ts";
import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import { conflict, invalidFields, notFound, type FieldErrors } from "../http/api-error.ts";
import { queryInteger } from "../http/fields.ts";
import { continueFinalizing } from "../recordings/archive-vod.ts";
import { startConversion } from "../recordings/convert.ts";
import { isRecordingId, RECORDING_ID_PATTERN, vodUrls } from "../recordings/layout.ts";
import type { OriginFetch } from "../recordings/origin-archive.ts";
import { getRecording, listRecordings, type RecordingRow } from "../recordings/recording-store.ts";
import { deleteRecording } from "../recordings/retention.ts";
import { canManage, loadManagedStream, loadVisibleStream } from "../streams/access.ts";
import type { StreamRow } from "../streams/model.ts";
import type { DeliveryDepsOf } from "../hls/deliver.ts";

export interface RecordingRoutesOptions {
  /** The edge's delivery dependencies: their `upstream` is how the origin is reached (a stand-in in tests). */
  deps: DeliveryDepsOf;
}

/** What a client sees of a recording; owners also see its retention and last change. */
export const recordingView = (r: RecordingRow, manage: boolean) => {
  const ready = r.status === "ready";
  return {
    recording_id: r.id,
    stream_id: r.stream_id,
    title: r.title,
    status: r.status,
    started_at: r.started_at,
    ended_at: r.ended_at,
    duration_s: r.duration_s,
    bytes: r.bytes,
    expires_at: r.expires_at,
    created_at: r.created_at,
    vod_url: ready ? vodUrls(r.id).master : null,
    poster_url: ready ? vodUrls(r.id).poster : null,
    ...(manage ? { retention_days: r.retention_days, updated_at: r.updated_at } : {}),
  };
};

const CURSOR_KIND = "recordings";
type Ctx = Context<{ Bindings: Env }>;

/** The recording `:recordingId` of `stream`, if the caller may see it; 400 for a malformed id, else 404. */
const loadRecording = async (db: D1Database, stream: StreamRow, recordingId: string, manage: boolean): Promise<RecordingRow> => {
  if (!isRecordingId(recordingId)) throw invalidFields({ recording_id: `must match ${RECORDING_ID_PATTERN.source}` }, "invalid recording id");
  const row = await getRecording(db, recordingId);
  if (!row || row.stream_id !== stream.id || (!manage && row.status !== "ready")) throw notFound("recording");
  return row;
};

/** Conversions in progress are pushed on by reads, at most every few seconds per recording and isolate. */
const KICK_INTERVAL_MS = 5_000;
const kicked = new Map<string, number>();

export const recordingRoutes = (o: RecordingRoutesOptions) => {
  const app = new Hono<{ Bindings: Env }>();
  const originFetch = (c: Ctx): OriginFetch => o.deps(c).upstream;

  /** Finishes a `finalizing` recording in the background once the origin has uploaded everything. */
  const pushOn = (c: Ctx, row: RecordingRow, inlineMs: number) => {
    const now = Date.now();
    if ((kicked.get(row.id) ?? 0) > now - KICK_INTERVAL_MS) return;
    if (kicked.size > 1_000) kicked.clear();
    kicked.set(row.id, now);
    c.executionCtx.waitUntil(
      continueFinalizing(c.env, row, { fetch: originFetch(c), timing: { inlineMs } }).catch((err: Error) =>
        console.log(JSON.stringify({ event: "recording_finalize_error", recording_id: row.id, error: err.message })),
      ),
    );
  };

  app.get("/api/v1/streams/:id/recordings", async (c) => {
    const user = await optionalUser(c);
    const db = requireDb(c.env);
    const stream = await loadVisibleStream(db, c.req.param("id"), user);
    const manage = canManage(user, stream);
    const errors: FieldErrors = {};
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 20 }, errors);
    const cursorText = c.req.query("cursor");
    let after: [string, string] | null = null;
    if (cursorText !== undefined && cursorText !== "") {
      const key = decodeCursor(cursorText, CURSOR_KIND, ["string", "string"]);
      if (key) after = key as [string, string];
      else errors.cursor = "must be a next_cursor from a previous page";
    }
    if (Object.keys(errors).length) throw invalidFields(errors);
    const rows = await listRecordings(db, stream.id, { statuses: manage ? null : ["ready"], limit: limit + 1, after });
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      stream_id: stream.id,
      recordings: page.map((r) => recordingView(r, manage)),
      next_cursor: rows.length > limit && last ? encodeCursor(CURSOR_KIND, [last.started_at, last.id]) : null,
    });
  });

  app.get("/api/v1/streams/:id/recordings/:recordingId", async (c) => {
    const user = await optionalUser(c);
    const db = requireDb(c.env);
    const stream = await loadVisibleStream(db, c.req.param("id"), user);
    const manage = canManage(user, stream);
    const row = await loadRecording(db, stream, c.req.param("recordingId"), manage);
    if (row.status === "finalizing") pushOn(c, row, 0);
    return c.json(recordingView(row, manage));
  });

  app.delete("/api/v1/streams/:id/recordings/:recordingId", async (c) => {
    const user: UserClaims = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    const row = await loadRecording(db, stream, c.req.param("recordingId"), true);
    if (row.status === "recording" || row.status === "finalizing" || (row.status === "dvr" && row.ended_at === null)) {
      throw conflict(`the recording is ${row.status === "dvr" ? "the running broadcast's DVR window" : row.status}; delete it once it is ready`, { status: row.status });
    }
    await deleteRecording(c.env, row.id);
    return c.body(null, 204);
  });

  app.post("/api/v1/streams/:id/recordings/:recordingId/convert", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadManagedStream(db, c.req.param("id"), user);
    const row = await loadRecording(db, stream, c.req.param("recordingId"), true);
    const { recording, queued } = await startConversion(c.env, row, originFetch(c));
    kicked.delete(recording.id);
    pushOn(c, recording, 25_000);
    return c.json({ ...recordingView(recording, true), queued }, 202, { location: `/api/v1/streams/${stream.id}/recordings/${recording.id}` });
  });

  return app;
};
