/**
 * archive_vod, after a stop (forward-only): the node's pipeline ends (ENDLIST), the slot is
 * released, the stream is ended, the VOD hook runs. The orchestrator runs the tasks in this order,
 * records each one done before the next, and retries a task that throws; each may run again after
 * a reset.
 */
import { isoNow } from "../../../db/database.ts";
import { releaseSlot } from "../../../nodes/reservations.ts";
import type { ArchiveTask } from "../state.ts";
import type { StepContext } from "./step.ts";

export const ARCHIVE_TASK_MODULES: Record<ArchiveTask, (ctx: StepContext) => Promise<void>> = {
  async stop_encoder({ state, deps }) {
    if (state.node) await deps.stopNodeStream(state.node, state.streamId, state.stopReason ?? "stopped");
  },

  async release_slot({ state, db }) {
    await releaseSlot(db, state.streamId);
  },

  async mark_ended({ state, deps, db }) {
    const now = isoNow();
    await db.batch([
      db.prepare("UPDATE streams SET status = 'ended', ended_at = ?2, node_id = NULL, viewer_count = 0, updated_at = ?2 WHERE id = ?1 AND status NOT IN ('ended', 'failed')").bind(state.streamId, now),
      db
        .prepare(
          `INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at)
           SELECT ?1, 'stream_ended', 'info', ?2, ?3, ?4 WHERE changes() = 1`,
        )
        .bind(state.streamId, `Stream ended: ${state.stopReason ?? "stopped"}`, JSON.stringify({ reason: state.stopReason, started_at: state.startedAt }), now),
    ]);
    state.endedAt = now;
    // Viewers in chat learn it ended; a failure here must not hold the stream's end back.
    await deps.closeChatRoom(state.streamId).catch(() => undefined);
  },

  async archive_vod({ state, deps }) {
    await deps.beforeStage("archive_vod", state.streamId);
    await deps.archiveVod(state.streamId);
  },
};
