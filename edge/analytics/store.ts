/**
 * D1 access for `stream_analytics` (migration 0006). The two writers only ever name their own
 * columns in `DO UPDATE`, which is what lets a node report and the counter's minute land in one row
 * in either order.
 */
import type { PlayerMinute } from "./player-minutes.ts";

/** One stream's figures in a node report, as validated by the stats route. */
export interface NodeStreamReport {
  streamId: string;
  /** Seconds the report covers for this stream. */
  seconds: number;
  ingestBytes: number;
  droppedFrames: number;
  /** Null when the node had no speed reading yet (no encoder run in the period). */
  encoderSpeed: number | null;
  errors: number;
}

/** Node figures add up: several reports fall in one minute. */
export const nodeReportStatement = (db: D1Database, minute: number, r: NodeStreamReport): D1PreparedStatement =>
  db
    .prepare(
      `INSERT INTO stream_analytics (stream_id, minute, ingest_bytes, ingest_seconds, dropped_frames, speed_sum, speed_seconds, node_errors, node_reports)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)
       ON CONFLICT (stream_id, minute) DO UPDATE SET
         ingest_bytes = coalesce(ingest_bytes, 0) + excluded.ingest_bytes,
         ingest_seconds = coalesce(ingest_seconds, 0) + excluded.ingest_seconds,
         dropped_frames = coalesce(dropped_frames, 0) + excluded.dropped_frames,
         speed_sum = coalesce(speed_sum, 0) + excluded.speed_sum,
         speed_seconds = coalesce(speed_seconds, 0) + excluded.speed_seconds,
         node_errors = coalesce(node_errors, 0) + excluded.node_errors,
         node_reports = coalesce(node_reports, 0) + 1`,
    )
    .bind(r.streamId, minute, r.ingestBytes, r.seconds, r.droppedFrames, r.encoderSpeed === null ? 0 : r.encoderSpeed * r.seconds, r.encoderSpeed === null ? 0 : r.seconds, r.errors);

/**
 * The counter's figures for a finished minute are absolute, so writing one twice (a retry after a
 * failed batch) changes nothing. A stream id that names no stream writes nothing.
 */
export const playerMinuteStatement = (db: D1Database, streamId: string, m: PlayerMinute): D1PreparedStatement =>
  db
    .prepare(
      `INSERT INTO stream_analytics (stream_id, minute, viewers, latency_p50_ms, latency_p95_ms, latency_samples, buffer_p10_s, buffer_samples, player_errors, player_reports)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 WHERE EXISTS (SELECT 1 FROM streams WHERE id = ?1)
       ON CONFLICT (stream_id, minute) DO UPDATE SET
         viewers = excluded.viewers, latency_p50_ms = excluded.latency_p50_ms, latency_p95_ms = excluded.latency_p95_ms,
         latency_samples = excluded.latency_samples, buffer_p10_s = excluded.buffer_p10_s, buffer_samples = excluded.buffer_samples,
         player_errors = excluded.player_errors, player_reports = excluded.player_reports`,
    )
    .bind(streamId, m.minute, m.viewers, m.latencyP50Ms, m.latencyP95Ms, m.latencySamples, m.bufferP10S, m.bufferSamples, m.playerErrors, m.playerReports);

/** The figures the API and the exposition serve for one minute. */
export interface AnalyticsRow {
  minute: number;
  viewers: number | null;
  ingest_bitrate_bps: number | null;
  dropped_frames: number | null;
  encoder_speed: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  buffer_p10_s: number | null;
  errors: number | null;
}

const FIGURES = "minute, viewers, ingest_bitrate_bps, dropped_frames, encoder_speed, latency_p50_ms, latency_p95_ms, buffer_p10_s, errors";

/** Rows of `streamId` for minutes in [fromMinute, toMinute), oldest first (only minutes someone reported). */
export const readMinutes = async (db: D1Database, streamId: string, fromMinute: number, toMinute: number): Promise<AnalyticsRow[]> => {
  const { results } = await db
    .prepare(`SELECT ${FIGURES} FROM stream_analytics WHERE stream_id = ?1 AND minute >= ?2 AND minute < ?3 ORDER BY minute`)
    .bind(streamId, fromMinute, toMinute)
    .all<AnalyticsRow>();
  return results;
};

/** Every live (or reconnecting) stream with its row for `minute`, if it has one. */
export const liveStreamsAt = async (db: D1Database, minute: number): Promise<Array<{ stream_id: string; row: AnalyticsRow | null }>> => {
  const { results } = await db
    .prepare(
      `SELECT s.id AS stream_id, a.minute AS minute, a.viewers, a.ingest_bitrate_bps, a.dropped_frames, a.encoder_speed, a.latency_p50_ms, a.latency_p95_ms, a.buffer_p10_s, a.errors
       FROM streams s LEFT JOIN stream_analytics a ON a.stream_id = s.id AND a.minute = ?1
       WHERE s.status IN ('live', 'reconnecting') ORDER BY s.id`,
    )
    .bind(minute)
    .all<AnalyticsRow & { stream_id: string }>();
  return results.map(({ stream_id, ...row }) => ({ stream_id, row: row.minute === null ? null : row }));
};

/** Deletes up to `limit` rows older than `beforeMinute`; answers how many went. */
export const deleteMinutesBefore = async (db: D1Database, beforeMinute: number, limit: number): Promise<number> => {
  const r = await db.prepare(`DELETE FROM stream_analytics WHERE rowid IN (SELECT rowid FROM stream_analytics WHERE minute < ?1 LIMIT ?2)`).bind(beforeMinute, limit).run();
  return r.meta.changes;
};
