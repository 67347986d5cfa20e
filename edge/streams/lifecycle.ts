import { isoNow } from "../db/database.ts";
import type { StreamRow } from "./model.ts";

export type StopOutcome = { ok: true; endedAt: string } | { ok: false; reason: "already-ended" | "gone" };

/**
 * What the streams API asks of whoever owns a stream's lifecycle. With a STREAM_CONTROL binding
 * (wrangler.toml) that is the stream's StreamControl Durable Object (`streamControlLifecycle`,
 * edge/do/stream-control/client.ts): it stops the pipeline, writes ENDLIST and archives before it
 * marks the stream ended. Without one, `d1StreamLifecycle` below: the status and an event in D1,
 * no pipeline touched. Tests may pass their own `LifecycleFactory` as `lifecycle` to
 * `createEdgeApp` / `controlPlaneRoutes`; it gets the request's bindings.
 */
export interface StreamLifecycle {
  stop(db: D1Database, stream: StreamRow, by: { userId: string; username: string }): Promise<StopOutcome>;
}

export type LifecycleFactory = (env: Env) => StreamLifecycle;

/** Marks the stream ended and records `stream_ended`, in one transaction; no pipeline is touched. */
export const d1StreamLifecycle: StreamLifecycle = {
  async stop(db, stream, by) {
    const endedAt = isoNow();
    const [update] = await db.batch([
      db
        .prepare("UPDATE streams SET status = 'ended', ended_at = ?1, viewer_count = 0, updated_at = ?1 WHERE id = ?2 AND status <> 'ended'")
        .bind(endedAt, stream.id),
      // Same transaction: the event is only written when the update above changed the row.
      db
        .prepare(
          `INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at)
           SELECT ?1, 'stream_ended', 'info', ?2, ?3, ?4 WHERE changes() = 1`,
        )
        .bind(stream.id, `Stream stopped by ${by.username}`, JSON.stringify({ by: by.userId, previous_status: stream.status }), endedAt),
    ]);
    if (update!.meta.changes === 1) return { ok: true, endedAt };
    const current = await db.prepare("SELECT status FROM streams WHERE id = ?1").bind(stream.id).first<{ status: string }>();
    return { ok: false, reason: current ? "already-ended" : "gone" };
  },
};
