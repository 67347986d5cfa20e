/** validate_event: the stream, its owner and its settings allow a go-live; the stream becomes `starting`. */
import { isoNow } from "../../../db/database.ts";
import { DVR_WINDOW_MAX, LATENCY_MODES } from "../../../streams/model.ts";
import { getStream } from "../../../streams/stream-store.ts";
import type { SagaStepModule } from "./step.ts";

export const validateEvent: SagaStepModule = {
  async forward({ state, db }) {
    const stream = await getStream(db, state.streamId);
    if (!stream) throw new Error("stream not found");
    if (!["idle", "failed", "starting"].includes(stream.status)) throw new Error(`stream is ${stream.status}`);
    const owner = await db.prepare("SELECT role FROM users WHERE id = ?1").bind(stream.user_id).first<{ role: string }>();
    if (!owner) throw new Error("the stream's owner no longer exists");
    if (owner.role === "viewer") throw new Error("the stream's owner may not stream");
    const problems: string[] = [];
    if (!(LATENCY_MODES as readonly string[]).includes(stream.latency_mode)) problems.push("latency_mode");
    if (!(stream.dvr_window >= 0 && stream.dvr_window <= DVR_WINDOW_MAX)) problems.push("dvr_window");
    if (stream.category !== null && stream.category_name === null) problems.push("category");
    if (!stream.title.trim()) problems.push("title");
    if (problems.length) throw new Error(`invalid stream settings: ${problems.join(", ")}`);
    const update = await db
      .prepare("UPDATE streams SET status = 'starting', ended_at = NULL, updated_at = ?2 WHERE id = ?1 AND status IN ('idle', 'failed', 'starting')")
      .bind(state.streamId, isoNow())
      .run();
    if (update.meta.changes < 1) throw new Error("the stream changed state while validating");
    return true;
  },

  async compensate() {
    // Nothing to undo: the status goes back when the saga settles.
  },
};
