/** D1 reads and writes of the `recordings` table (migration 0005). */
import { isoNow } from "../db/database.ts";

export const RECORDING_STATUSES = ["dvr", "recording", "finalizing", "ready", "failed"] as const;
export type RecordingStatus = (typeof RECORDING_STATUSES)[number];

export interface RecordingRow {
  id: string;
  stream_id: string;
  user_id: string;
  title: string;
  status: RecordingStatus;
  started_at: string;
  ended_at: string | null;
  duration_s: number | null;
  bytes: number;
  retention_days: number;
  expires_at: string | null;
  created_at: string;
  updated_at: string;
}

const SELECT = "SELECT id, stream_id, user_id, title, status, started_at, ended_at, duration_s, bytes, retention_days, expires_at, created_at, updated_at FROM recordings";

export const getRecording = (db: D1Database, id: string): Promise<RecordingRow | null> => db.prepare(`${SELECT} WHERE id = ?1`).bind(id).first<RecordingRow>();

/** Newest first (started_at, then id), keyset-paged; `statuses` null lists every status. */
export const listRecordings = async (
  db: D1Database,
  streamId: string,
  o: { statuses: readonly RecordingStatus[] | null; limit: number; after: [string, string] | null },
): Promise<RecordingRow[]> => {
  const where = ["stream_id = ?1"];
  const binds: unknown[] = [streamId];
  if (o.statuses) {
    where.push(`status IN (${o.statuses.map((s) => `'${s}'`).join(", ")})`);
  }
  if (o.after) {
    binds.push(o.after[0], o.after[1]);
    where.push(`(started_at < ?2 OR (started_at = ?2 AND id < ?3))`);
  }
  binds.push(o.limit);
  const sql = `${SELECT} WHERE ${where.join(" AND ")} ORDER BY started_at DESC, id DESC LIMIT ?${binds.length}`;
  return (await db.prepare(sql).bind(...binds).all<RecordingRow>()).results;
};

/** `ended_at` + `retention_days`, as stored ISO text. */
export const expiryOf = (endedAt: string, retentionDays: number): string => isoNow(Date.parse(endedAt) + retentionDays * 86_400_000);

/**
 * The broadcast ended: open rows of the stream get `ended_at`; a recorded one moves to
 * `finalizing` (its VOD is written next), a DVR-only one stays `dvr` until converted.
 */
export const closeOpenRecordings = async (db: D1Database, streamId: string, now = Date.now()): Promise<void> => {
  const at = isoNow(now);
  await db
    .prepare(
      `UPDATE recordings SET ended_at = ?2, status = CASE status WHEN 'recording' THEN 'finalizing' ELSE status END, updated_at = ?2
       WHERE stream_id = ?1 AND ended_at IS NULL AND status IN ('recording', 'dvr')`,
    )
    .bind(streamId, at)
    .run();
};

/** Rows of a stream waiting for their VOD (after the broadcast, or a conversion). */
export const finalizingRecordings = async (db: D1Database, streamId: string): Promise<RecordingRow[]> =>
  (await db.prepare(`${SELECT} WHERE stream_id = ?1 AND status = 'finalizing' ORDER BY started_at`).bind(streamId).all<RecordingRow>()).results;

/** Moves a row from one status to another; false when it was not in `from` (someone else moved it). */
export const transition = async (db: D1Database, id: string, from: RecordingStatus, to: RecordingStatus, now = Date.now()): Promise<boolean> => {
  const r = await db.prepare("UPDATE recordings SET status = ?3, updated_at = ?4 WHERE id = ?1 AND status = ?2").bind(id, from, to, isoNow(now)).run();
  return r.meta.changes === 1;
};

/** The VOD is written: `ready` with its duration, size, end and expiry. */
export const markReady = async (db: D1Database, row: RecordingRow, result: { durationS: number; bytes: number }, now = Date.now()): Promise<RecordingRow> => {
  const endedAt = row.ended_at ?? isoNow(now);
  const expiresAt = expiryOf(endedAt, row.retention_days);
  const at = isoNow(now);
  await db
    .prepare("UPDATE recordings SET status = 'ready', ended_at = ?2, duration_s = ?3, bytes = ?4, expires_at = ?5, updated_at = ?6 WHERE id = ?1")
    .bind(row.id, endedAt, result.durationS, result.bytes, expiresAt, at)
    .run();
  return { ...row, status: "ready", ended_at: endedAt, duration_s: result.durationS, bytes: result.bytes, expires_at: expiresAt, updated_at: at };
};

/** Nothing playable was archived: `failed`, kept for retention like a ready one (its objects are deleted then). */
export const markFailed = async (db: D1Database, row: RecordingRow, bytes: number, now = Date.now()): Promise<void> => {
  const endedAt = row.ended_at ?? isoNow(now);
  await db
    .prepare("UPDATE recordings SET status = 'failed', ended_at = ?2, bytes = ?3, expires_at = ?4, updated_at = ?5 WHERE id = ?1")
    .bind(row.id, endedAt, bytes, expiryOf(endedAt, row.retention_days), isoNow(now))
    .run();
};

/** Rows whose retention has passed, oldest expiry first. */
export const expiredRecordings = async (db: D1Database, now: number, limit: number): Promise<RecordingRow[]> =>
  (await db.prepare(`${SELECT} WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at LIMIT ?2`).bind(isoNow(now), limit).all<RecordingRow>()).results;

/** Conversions still `finalizing` since before `olderThan` (the scheduled job finishes them). */
export const staleFinalizing = async (db: D1Database, olderThan: number, limit: number): Promise<RecordingRow[]> =>
  (await db.prepare(`${SELECT} WHERE status = 'finalizing' AND updated_at <= ?1 ORDER BY updated_at LIMIT ?2`).bind(isoNow(olderThan), limit).all<RecordingRow>()).results;

export const deleteRecordingRow = async (db: D1Database, id: string): Promise<void> => {
  await db.prepare("DELETE FROM recordings WHERE id = ?1").bind(id).run();
};
