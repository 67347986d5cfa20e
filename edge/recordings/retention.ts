/**
 * The recordings job, run by the Worker's `scheduled` handler (wrangler.toml `[triggers] crons`):
 * recordings past `expires_at` (end + the stream's retention days) lose their R2 objects and then
 * their row, one log line each; conversions left `finalizing` by an earlier call are finished.
 */
import { requireDb } from "../db/database.ts";
import { continueFinalizing } from "./archive-vod.ts";
import { recordingPrefix } from "./layout.ts";
import type { OriginFetch } from "./origin-archive.ts";
import { deleteRecordingRow, expiredRecordings, staleFinalizing } from "./recording-store.ts";
import { forgetRecordingStatus } from "./status-cache.ts";

/** Recordings deleted per run at most (the job runs every 15 minutes; the rest waits for the next run). */
export const RETENTION_BATCH = 200;
/** A `finalizing` row untouched this long is picked up by the job. */
export const STALE_FINALIZING_MS = 10 * 60_000;

/**
 * Deletes every object under `recordings/<id>/`, 1,000 keys per call (R2's batch limit); returns
 * how many. Each round lists from the start again, since the previous round's keys are gone.
 */
export const deleteRecordingObjects = async (bucket: R2Bucket, id: string): Promise<number> => {
  let deleted = 0;
  for (;;) {
    const page = await bucket.list({ prefix: recordingPrefix(id), limit: 1000 });
    if (page.objects.length === 0) return deleted;
    await bucket.delete(page.objects.map((o) => o.key));
    deleted += page.objects.length;
  }
};

/** R2 objects first, then the row: a crash in between leaves a row the next run deletes again. */
export const deleteRecording = async (env: Env, id: string): Promise<number> => {
  const objects = env.RECORDINGS ? await deleteRecordingObjects(env.RECORDINGS, id) : 0;
  forgetRecordingStatus(id);
  await deleteRecordingRow(requireDb(env), id);
  return objects;
};

export interface RecordingsJobOptions {
  now?: number;
  fetch?: OriginFetch;
  log?: (line: string) => void;
}

export interface RecordingsJobResult {
  deleted: string[];
  finalized: string[];
}

export const runRecordingsJob = async (env: Env, o: RecordingsJobOptions = {}): Promise<RecordingsJobResult> => {
  const now = o.now ?? Date.now();
  const log = o.log ?? ((line: string) => console.log(line));
  const db = requireDb(env);
  const result: RecordingsJobResult = { deleted: [], finalized: [] };
  for (const row of await expiredRecordings(db, now, RETENTION_BATCH)) {
    const objects = await deleteRecording(env, row.id);
    result.deleted.push(row.id);
    log(JSON.stringify({ event: "recording_deleted", reason: "retention", recording_id: row.id, stream_id: row.stream_id, expires_at: row.expires_at, objects }));
  }
  const fetcher = o.fetch ?? ((req: Request) => fetch(req));
  for (const row of await staleFinalizing(db, now - STALE_FINALIZING_MS, 20)) {
    try {
      const done = await continueFinalizing(env, row, { fetch: fetcher, timing: { inlineMs: 0 }, now: () => now, log });
      if (done) result.finalized.push(row.id);
    } catch (err) {
      log(JSON.stringify({ event: "recording_finalize_error", recording_id: row.id, error: (err as Error).message }));
    }
  }
  return result;
};

/** The Worker's `scheduled` handler: one recordings job per cron tick, at the tick's time. */
export const recordingsScheduled =
  (o: Omit<RecordingsJobOptions, "now"> = {}): ExportedHandlerScheduledHandler<Env> =>
  (controller, env, ctx) => {
    ctx.waitUntil(
      runRecordingsJob(env, { ...o, now: controller.scheduledTime }).catch((err: Error) => console.log(JSON.stringify({ event: "recordings_job_error", error: err.message }))),
    );
  };
