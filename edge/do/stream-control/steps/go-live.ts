/**
 * go_live, the pivot: the stream is `live` with a `stream_started` event (one transaction), then
 * followers are notified. Forward-only: once its writes are in, failures are recovered, not undone.
 */
import { isoNow } from "../../../db/database.ts";
import { errorText } from "../state.ts";
import type { SagaStepModule } from "./step.ts";

export const goLive: SagaStepModule = {
  async forward({ state, deps, db, save, recover }) {
    if (!state.pivoted) {
      const now = isoNow();
      const [update] = await db.batch([
        db.prepare("UPDATE streams SET status = 'live', started_at = ?2, ended_at = NULL, node_id = ?3, updated_at = ?2 WHERE id = ?1 AND status = 'starting'").bind(state.streamId, now, state.node?.id ?? null),
        db
          .prepare(
            `INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at)
             SELECT ?1, 'stream_started', 'info', 'Stream is live', ?2, ?3 WHERE changes() = 1`,
          )
          .bind(state.streamId, JSON.stringify({ node_id: state.node?.id ?? null, edges: state.warmedEdges, run: state.runs }), now),
      ]);
      if (update!.meta.changes !== 1) {
        const row = await db.prepare("SELECT status FROM streams WHERE id = ?1").bind(state.streamId).first<{ status: string }>();
        // Already live: this object was evicted after the pivot's write and before its own.
        if (row?.status !== "live") throw new Error(`the stream is ${row?.status ?? "gone"}; it cannot go live`);
      }
      state.pivoted = true;
      state.startedAt = now;
      await save();
    }
    if (!state.notified) {
      try {
        await deps.notifyFollowers(state.streamId);
      } catch (err) {
        await recover("CONTINUE", "go_live", `follower notification failed: ${errorText(err)}`);
      }
      state.notified = true;
    }
    return true;
  },

  async compensate() {
    // Never compensated: the pivot is forward-only.
  },
};
