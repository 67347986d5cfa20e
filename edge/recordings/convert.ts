/**
 * Turning a DVR-only broadcast into a recording (`POST …/recordings/:id/convert`): the row moves
 * `dvr` → `finalizing` (atomically, so two calls cannot both start it), the origin is asked to
 * upload the DVR window it still holds under the recording's id, and archive-vod.ts writes the VOD
 * once the origin reports nothing pending. If the origin refuses, the row goes back to `dvr`.
 */
import { requireDb } from "../db/database.ts";
import { ApiError, conflict, unavailable } from "../http/api-error.ts";
import { originArchiveFor } from "./archive-vod.ts";
import type { OriginFetch, QueueOutcome } from "./origin-archive.ts";
import { getRecording, transition, type RecordingRow } from "./recording-store.ts";

export const startConversion = async (env: Env, row: RecordingRow, fetch: OriginFetch): Promise<{ recording: RecordingRow; queued: number }> => {
  if (row.status !== "dvr") throw conflict(`only a DVR-only broadcast can be converted; this recording is ${row.status}`, { status: row.status });
  if (row.ended_at === null) throw conflict("the broadcast is still running; convert it after it ends", { status: row.status });
  if (!env.RECORDINGS) throw unavailable("recordings are not configured (R2 binding RECORDINGS)");
  const db = requireDb(env);
  if (!(await transition(db, row.id, "dvr", "finalizing"))) throw conflict("the recording changed meanwhile; read it again", { status: (await getRecording(db, row.id))?.status ?? null });
  let outcome: QueueOutcome;
  try {
    outcome = await originArchiveFor(env, fetch).queue(row.stream_id, row.id);
  } catch (err) {
    outcome = { ok: false, status: 0, error: (err as Error).message };
  }
  if (!outcome.ok) {
    await transition(db, row.id, "finalizing", "dvr");
    if (outcome.status === 404 || outcome.status === 409 || outcome.status === 410) {
      throw conflict("the origin no longer holds this broadcast's DVR window", { origin_status: outcome.status });
    }
    throw new ApiError(502, "the origin could not start the conversion; try again", { origin_status: outcome.status || null, detail: outcome.error });
  }
  return { recording: (await getRecording(db, row.id))!, queued: outcome.queued };
};
