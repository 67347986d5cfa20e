/**
 * Finalising a recording: list what the archive put into R2 (recordings/<id>/…), write the VOD
 * playlists next to it (one media playlist per rendition, then the multivariant master), make sure
 * there is a poster, and mark the row `ready` with its duration, size and expiry. Idempotent: a
 * re-run over the same objects writes the same playlists and the same row.
 */
import { segmentMetadataFromR2, type ArchiveManifest } from "../../shared/archive-protocol.ts";
import { validateManifest } from "../../shared/push-protocol.ts";
import { isJpeg } from "../../shared/thumbnail.ts";
import { MIME } from "../../shared/urls.ts";
import { MANIFEST_FILE, parseRecordingPath, POSTER_FILE, recordingKey, recordingPrefix, VOD_MASTER, vodPlaylistPath } from "./layout.ts";
import { markFailed, markReady, type RecordingRow } from "./recording-store.ts";
import { buildVodPlaylists, type ArchivedRendition, type RenditionSummary } from "./vod-playlists.ts";

export interface FinalizeDeps {
  bucket: R2Bucket;
  db: D1Database;
  /** The stream's latest thumbnail (the origin's `/live/<id>/thumbnail.jpg`), asked once when no poster was archived. */
  fetchThumbnail?: (streamId: string) => Promise<Uint8Array | null>;
  now?: () => number;
}

export type FinalizeResult =
  | { status: "ready"; recording: RecordingRow; renditions: RenditionSummary[]; skippedSegments: number; poster: "archived" | "fetched" | "none" }
  | { status: "failed"; reason: string };

interface Listed {
  key: string;
  size: number;
  customMetadata?: Record<string, string>;
}

/** Every object under the recording's prefix, with custom metadata (R2 pages at 1,000). */
export const listRecordingObjects = async (bucket: R2Bucket, id: string): Promise<Listed[]> => {
  const out: Listed[] = [];
  let cursor: string | undefined;
  do {
    // `include` exists at this compatibility date; the base workers-types omit it.
    const page = await bucket.list({ prefix: recordingPrefix(id), cursor, limit: 1000, include: ["customMetadata"] } as R2ListOptions);
    for (const o of page.objects) out.push({ key: o.key, size: o.size, customMetadata: o.customMetadata });
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return out;
};

/** Groups the listed objects by rendition; segments without complete metadata are counted, not listed. */
export const archivedRenditions = (id: string, objects: readonly Listed[]): { renditions: Map<string, ArchivedRendition>; skipped: number; other: Map<string, number> } => {
  const renditions = new Map<string, ArchivedRendition>();
  const other = new Map<string, number>();
  const of = (name: string) => {
    let r = renditions.get(name);
    if (!r) renditions.set(name, (r = { name, segments: [], inits: [], initBytes: 0 }));
    return r;
  };
  const prefix = recordingPrefix(id);
  const segments: Array<{ rendition: string; msn: number; o: Listed }> = [];
  for (const o of objects) {
    const path = o.key.slice(prefix.length);
    const res = parseRecordingPath(path);
    if (res?.kind === "init") {
      const r = of(res.rendition);
      r.inits.push(res.version);
      r.initBytes += o.size;
    } else if (res?.kind === "segment") {
      segments.push({ rendition: res.rendition, msn: res.msn, o });
    } else {
      other.set(path, o.size);
    }
  }
  let skipped = 0;
  for (const { rendition, msn, o } of segments) {
    const r = of(rendition);
    const meta = segmentMetadataFromR2(o.customMetadata);
    if (meta) r.segments.push({ msn, bytes: o.size, duration: meta.duration, pdtMs: meta.programDateTimeMs, discontinuity: meta.discontinuity, init: meta.initVersion });
    else skipped++;
  }
  return { renditions, skipped, other };
};

const readManifest = async (bucket: R2Bucket, id: string): Promise<ArchiveManifest | null> => {
  const obj = await bucket.get(recordingKey(id, MANIFEST_FILE));
  if (!obj) return null;
  try {
    const value: unknown = await obj.json();
    // The archived manifest carries the live one's fields (shared/archive-protocol.ts): the same checks apply.
    return validateManifest(value).length === 0 ? (value as ArchiveManifest) : null;
  } catch {
    return null;
  }
};

const PLAYLIST_META = { contentType: MIME.playlist } satisfies R2HTTPMetadata;

/**
 * Writes the VOD of `row` and marks it `ready`, or `failed` when nothing playable was archived (no
 * valid manifest, no video segment). The row's status is not checked here: callers move it to
 * `finalizing` first.
 */
export const finalizeRecording = async (deps: FinalizeDeps, row: RecordingRow): Promise<FinalizeResult> => {
  const now = deps.now ?? Date.now;
  const { bucket } = deps;
  const objects = await listRecordingObjects(bucket, row.id);
  const { renditions, skipped, other } = archivedRenditions(row.id, objects);
  const manifest = await readManifest(bucket, row.id);
  const built = manifest ? buildVodPlaylists(manifest, renditions) : null;
  const storedBytes = [...renditions.values()].reduce((a, r) => a + r.initBytes + r.segments.reduce((b, s) => b + s.bytes, 0), 0);
  if (!built) {
    const reason = manifest ? "no video segment was archived" : "no valid manifest.json was archived";
    await markFailed(deps.db, row, storedBytes, now());
    return { status: "failed", reason };
  }
  let poster: "archived" | "fetched" | "none" = other.has(POSTER_FILE) ? "archived" : "none";
  let posterBytes = other.get(POSTER_FILE) ?? 0;
  if (poster === "none" && deps.fetchThumbnail) {
    const jpeg = await deps.fetchThumbnail(row.stream_id).catch(() => null);
    if (jpeg && isJpeg(jpeg)) {
      await bucket.put(recordingKey(row.id, POSTER_FILE), jpeg, { httpMetadata: { contentType: MIME.thumbnail } });
      poster = "fetched";
      posterBytes = jpeg.byteLength;
    }
  }
  // Media playlists first: a master in R2 means every playlist it names is there.
  const encoder = new TextEncoder();
  let playlistBytes = 0;
  for (const [name, text] of built.media) {
    const body = encoder.encode(text);
    playlistBytes += body.byteLength;
    await bucket.put(recordingKey(row.id, vodPlaylistPath(name)), body, { httpMetadata: PLAYLIST_META });
  }
  const master = encoder.encode(built.master);
  await bucket.put(recordingKey(row.id, VOD_MASTER), master, { httpMetadata: PLAYLIST_META });
  const bytes = storedBytes + playlistBytes + master.byteLength + posterBytes + (other.get(MANIFEST_FILE) ?? 0);
  const recording = await markReady(deps.db, row, { durationS: Math.round(built.durationS * 1000) / 1000, bytes }, now());
  return { status: "ready", recording, renditions: built.renditions, skippedSegments: skipped, poster };
};
