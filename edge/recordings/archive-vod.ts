/**
 * From `finalizing` to `ready`: wait (bounded) for the origin to have put every init and segment
 * into R2, then write the VOD (finalize.ts). The go-live saga's archive_vod runs `archiveVod` when a
 * stream ends (and retries it until it returns); conversions of DVR-only broadcasts and the
 * scheduled job run `continueFinalizing`.
 */
import { requireDb } from "../db/database.ts";
import { finalizeRecording, type FinalizeDeps, type FinalizeResult } from "./finalize.ts";
import { originArchive, type OriginArchive, type OriginFetch } from "./origin-archive.ts";
import { closeOpenRecordings, finalizingRecordings, markFailed, type RecordingRow } from "./recording-store.ts";
import { OriginFailover } from "../hls/origin-failover.ts";
import { EDGE_DEFAULTS, edgeConfig } from "../config.ts";

export interface ArchiveTiming {
  /** After a row enters `finalizing`, how long the origin's pending archive uploads are waited for before the VOD is written with what R2 has. */
  waitMs: number;
  /** How long one call polls the origin before it gives up for now (the saga retries; conversions continue later). */
  inlineMs: number;
  pollMs: number;
}

export const DEFAULT_ARCHIVE_TIMING = { waitMs: EDGE_DEFAULTS.recordingArchiveWaitS * 1000, inlineMs: 10_000, pollMs: 500 } satisfies ArchiveTiming;
/** A conversion uploads a whole DVR window (up to 4 h): the origin is given this long. */
export const CONVERSION_WAIT_MS = 60 * 60_000;

export interface ArchiveOptions {
  /** How the origin is reached. */
  fetch: OriginFetch;
  timing?: Partial<ArchiveTiming>;
  now?: () => number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const defaultLog = (line: string) => console.log(line);

// Through the standby when the primary is down: its archiver holds what the stream pushed there.
export const originArchiveFor = (env: Env, fetch: OriginFetch): OriginArchive =>
  originArchive({ originUrl: edgeConfig(env).primaryOrigin, nodeSecret: edgeConfig(env).nodeSecret, fetch: new OriginFailover(edgeConfig(env).origins).wrap(fetch) });

const finalizeDeps = (env: Env, bucket: R2Bucket, origin: OriginArchive, now: () => number): FinalizeDeps => ({
  bucket,
  db: requireDb(env),
  fetchThumbnail: (streamId) => origin.thumbnail(streamId),
  now,
});

/** Polls the origin's pending count until it is 0 or `untilMs` passes; the last answer (null: unknown). */
const awaitArchive = async (origin: OriginArchive, row: RecordingRow, untilMs: number, pollMs: number, now: () => number): Promise<number | null> => {
  for (;;) {
    const pending = await origin.pending(row.stream_id, row.id);
    if (pending === 0 || now() + pollMs > untilMs) return pending;
    await sleep(pollMs);
  }
};

const logResult = (log: (line: string) => void, row: RecordingRow, result: FinalizeResult) =>
  log(
    JSON.stringify(
      result.status === "ready"
        ? { event: "recording_ready", recording_id: row.id, stream_id: row.stream_id, duration_s: result.recording.duration_s, bytes: result.recording.bytes, renditions: result.renditions.length, skipped_segments: result.skippedSegments, poster: result.poster }
        : { event: "recording_failed", recording_id: row.id, stream_id: row.stream_id, reason: result.reason },
    ),
  );

const finish = async (env: Env, bucket: R2Bucket, origin: OriginArchive, row: RecordingRow, o: ArchiveOptions): Promise<FinalizeResult> => {
  const result = await finalizeRecording(finalizeDeps(env, bucket, origin, o.now ?? Date.now), row);
  logResult(o.log ?? defaultLog, row, result);
  return result;
};

/**
 * The saga's archive_vod hook: the stream's open recording rows end (a recorded one moves to
 * `finalizing`; a DVR-only one stays `dvr` until converted), then every `finalizing` row of the
 * stream is written once the origin has nothing left to upload, or once `waitMs` has passed since
 * it entered `finalizing`. Throws while it should be retried.
 */
export const archiveVod = async (env: Env, streamId: string, o: ArchiveOptions): Promise<void> => {
  const now = o.now ?? Date.now;
  const timing = { ...DEFAULT_ARCHIVE_TIMING, ...o.timing };
  const db = requireDb(env);
  await closeOpenRecordings(db, streamId, now());
  const rows = await finalizingRecordings(db, streamId);
  if (rows.length === 0) return;
  const bucket = env.RECORDINGS;
  if (!bucket) {
    // Nothing can have been archived without the bucket.
    for (const row of rows) await markFailed(db, row, 0, now());
    (o.log ?? defaultLog)(JSON.stringify({ event: "recording_failed", stream_id: streamId, recordings: rows.map((r) => r.id), reason: "no RECORDINGS (R2) binding" }));
    return;
  }
  const origin = originArchiveFor(env, o.fetch);
  const inlineUntil = now() + timing.inlineMs;
  const waiting: string[] = [];
  for (const row of rows) {
    const deadline = Date.parse(row.updated_at) + timing.waitMs;
    const pending = await awaitArchive(origin, row, Math.min(deadline, inlineUntil), timing.pollMs, now);
    if (pending !== 0 && now() < deadline) waiting.push(`${row.id}: ${pending ?? "status unknown"}`);
    else await finish(env, bucket, origin, row, o);
  }
  if (waiting.length) throw new Error(`the origin is still archiving (${waiting.join(", ")}); retrying`);
};

/**
 * A `finalizing` row (a conversion, or one the saga has not finished): written when the origin has
 * nothing left to upload, or once `maxWaitMs` has passed since it entered `finalizing`; otherwise
 * left as it is for a later call. Returns the row as it now is.
 */
export const continueFinalizing = async (env: Env, row: RecordingRow, o: ArchiveOptions & { maxWaitMs?: number }): Promise<FinalizeResult | null> => {
  const now = o.now ?? Date.now;
  const timing = { ...DEFAULT_ARCHIVE_TIMING, ...o.timing };
  const bucket = env.RECORDINGS;
  if (row.status !== "finalizing" || !bucket) return null;
  const origin = originArchiveFor(env, o.fetch);
  const deadline = Date.parse(row.updated_at) + (o.maxWaitMs ?? CONVERSION_WAIT_MS);
  const pending = await awaitArchive(origin, row, Math.min(deadline, now() + timing.inlineMs), timing.pollMs, now);
  if (pending !== 0 && now() < deadline) return null;
  return finish(env, bucket, origin, row, o);
};
