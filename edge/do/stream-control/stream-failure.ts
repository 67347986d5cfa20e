/**
 * A stream whose encoder failed (the node reports `stream_failed` after its restarts gave up,
 * gpu-transcoder/pipeline/restart-policy.ts): status `failed` and a `stream_failed` event with the
 * node's reason (ffmpeg's last words). StreamControl then compensates as for a failed go-live
 * (before the pivot) or a lost node (after it), and its saga settles to `idle`, so publishing
 * again retries; the stream's `failed` status and the saga's `failure` say why until then.
 */

/** Where a failure after the pivot is recorded in the saga (`SagaState.failure.step`). */
export const ENCODER_FAILURE_STAGE = "monitor_stream";

const REASON_MAX = 500;

/** The node's reason (`data.reason` of its report), bounded; a generic one when it gave none. */
export const failureReason = (data: Record<string, unknown>): string => {
  const reason = typeof data.reason === "string" ? data.reason.trim() : "";
  return (reason || "the node's encoder failed").slice(0, REASON_MAX);
};

/**
 * Status `failed` (from starting, live or reconnecting) and the `stream_failed` event, in one
 * transaction: the event is written only when the status changed.
 */
export const markFailedStatements = (db: D1Database, streamId: string, reason: string, details: Record<string, unknown>, now: string): D1PreparedStatement[] => [
  db
    .prepare("UPDATE streams SET status = 'failed', ended_at = ?2, node_id = NULL, viewer_count = 0, updated_at = ?2 WHERE id = ?1 AND status IN ('starting', 'live', 'reconnecting')")
    .bind(streamId, now),
  db
    .prepare(
      `INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at)
       SELECT ?1, 'stream_failed', 'error', ?2, ?3, ?4 WHERE changes() = 1`,
    )
    .bind(streamId, `Stream failed: ${reason}`, JSON.stringify({ ...details, reason }), now),
];
