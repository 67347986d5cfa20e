/**
 * Archiving recordings to R2 (issue 6): core-origin uploads every init and every complete segment
 * of a recorded stream to the edge, which writes them into the `RECORDINGS` R2 bucket.
 *
 * Origin → edge (every request: `Authorization: Bearer <node token>`, signed with the node secret):
 *
 *   PUT /api/v1/edge/recordings/:recordingId/manifest.json               ArchiveManifest (JSON); replaceable
 *   PUT /api/v1/edge/recordings/:recordingId/poster.jpg                  the latest thumbnail (JPEG); replaceable
 *   PUT /api/v1/edge/recordings/:recordingId/:rendition/init-<v>.mp4     init segment version v; immutable
 *   PUT /api/v1/edge/recordings/:recordingId/:rendition/seg-<msn>.m4s    one complete segment (its parts concatenated); immutable
 *       with headers cascade-duration (s), cascade-program-date-time (ISO), cascade-discontinuity (0|1),
 *       cascade-init-version (the init-<v>.mp4 it decodes with)
 *
 * Uploads are idempotent: the same key with the same bytes answers 200 `duplicate: true` and adds
 * nothing; an immutable key with different bytes is a 409. The edge answers 404 for an unknown
 * recording and 409 for one that no longer takes uploads (ready, failed).
 *
 * Edge, admin (`Authorization: Bearer <EDGE_ADMIN_TOKEN>`):
 *
 *   GET /api/v1/edge/recordings/:recordingId/objects?cursor=&limit=      what R2 holds (ArchiveListing)
 *
 * Edge → origin (node token), for recordings kept only in the origin's DVR window:
 *
 *   POST /ingest/v1/streams/:streamId/archive  {"recording_id": "…"}    archive what the origin still
 *        holds (inits, segments in memory or storage, manifest, poster) → {queued: n}; from then on the
 *        stream is archived like a recorded one while it runs
 *   GET  /ingest/v1/streams/:streamId/archive[?recording_id=]           ArchiveStatus ({pending: n, …});
 *        the recording is complete in R2 once the stream has ended and pending is 0
 *
 * R2 layout (edge/db/migrations/0005_recordings.sql): `recordings/<id>/manifest.json`,
 * `recordings/<id>/poster.jpg`, `recordings/<id>/<rendition>/init-<v>.mp4`,
 * `recordings/<id>/<rendition>/seg-<msn>.m4s` with customMetadata {duration, pdt, discontinuity,
 * init, sha256} (read them with `segmentMetadataFromR2`).
 */
import type { ManifestRendition } from "./push-protocol.ts";

export const ARCHIVE_PREFIX = "/api/v1/edge/recordings";

/** Request headers of a segment upload. */
export const ARCHIVE_HEADERS = {
  duration: "cascade-duration",
  programDateTime: "cascade-program-date-time",
  discontinuity: "cascade-discontinuity",
  initVersion: "cascade-init-version",
} as const;

/** Size limits the edge enforces (413 above them). */
export const ARCHIVE_LIMITS = {
  manifestBytes: 64 * 1024,
  posterBytes: 512 * 1024,
  initBytes: 1024 * 1024,
  segmentBytes: 64 * 1024 * 1024,
} as const;

export const MANIFEST_FILE = "manifest.json";
export const POSTER_FILE = "poster.jpg";

export type ArchiveFile =
  | { kind: "manifest"; name: typeof MANIFEST_FILE }
  | { kind: "poster"; name: typeof POSTER_FILE }
  | { kind: "init"; name: string; version: number }
  | { kind: "segment"; name: string; msn: number };

const UINT = "(0|[1-9][0-9]{0,14})";
const INIT_FILE_RE = new RegExp(`^init-${UINT}\\.mp4$`);
const SEGMENT_FILE_RE = new RegExp(`^seg-${UINT}\\.m4s$`);

export const initFile = (version: number): string => `init-${version}.mp4`;
export const segmentFile = (msn: number): string => `seg-${msn}.m4s`;

/** Parses a file name of a rendition (`init-<v>.mp4`, `seg-<msn>.m4s`); null for anything else. */
export const parseRenditionFile = (name: string): ArchiveFile | null => {
  const init = INIT_FILE_RE.exec(name);
  if (init) return { kind: "init", name, version: Number(init[1]) };
  const seg = SEGMENT_FILE_RE.exec(name);
  if (seg) return { kind: "segment", name, msn: Number(seg[1]) };
  return null;
};

/** Parses a file name at the recording's root (`manifest.json`, `poster.jpg`); null for anything else. */
export const parseRootFile = (name: string): ArchiveFile | null =>
  name === MANIFEST_FILE ? { kind: "manifest", name } : name === POSTER_FILE ? { kind: "poster", name } : null;

/** R2 key of a recording's object: `recordings/<id>/<rendition>/<file>` or `recordings/<id>/<file>`. */
export const archiveKey = (recordingId: string, rendition: string | null, file: string): string =>
  rendition === null ? `recordings/${recordingId}/${file}` : `recordings/${recordingId}/${rendition}/${file}`;

/** The upload URL path (under the edge's base URL) of a recording's object. */
export const archivePath = (recordingId: string, rendition: string | null, file: string): string =>
  rendition === null ? `${ARCHIVE_PREFIX}/${recordingId}/${file}` : `${ARCHIVE_PREFIX}/${recordingId}/${rendition}/${file}`;

/** The origin's archive endpoint of a stream (POST: archive a DVR-only recording; GET: status). */
export const originArchivePath = (streamId: string): string => `/ingest/v1/streams/${streamId}/archive`;

/**
 * `recordings/<id>/manifest.json`: what a VOD playlist set needs beyond the segments' metadata.
 * `renditions` lists every rendition the broadcast had, in the order they first appeared (a rung
 * dropped mid-stream stays listed; its segments simply stop).
 */
export interface ArchiveManifest {
  version: 1;
  recordingId: string;
  streamId: string;
  targetDuration: number;
  partTarget: number;
  segmentDuration: number;
  renditions: ManifestRendition[];
}

/** Metadata of one archived segment (R2 customMetadata of `seg-<msn>.m4s`). */
export interface SegmentMetadata {
  /** Seconds (EXTINF). */
  duration: number;
  /** PROGRAM-DATE-TIME, ms since the epoch. */
  programDateTimeMs: number;
  discontinuity: boolean;
  /** The init-<v>.mp4 this segment decodes with. */
  initVersion: number;
}

export const segmentMetadataToR2 = (m: SegmentMetadata, sha256: string): Record<string, string> => ({
  duration: String(m.duration),
  pdt: new Date(m.programDateTimeMs).toISOString(),
  discontinuity: m.discontinuity ? "1" : "0",
  init: String(m.initVersion),
  sha256,
});

/** Reads a segment's R2 customMetadata back; null when it is not a complete, valid set. */
export const segmentMetadataFromR2 = (meta: Record<string, string> | undefined): SegmentMetadata | null => {
  if (!meta) return null;
  const duration = Number(meta.duration);
  const pdt = Date.parse(meta.pdt ?? "");
  const init = Number(meta.init);
  if (!(duration > 0) || !Number.isFinite(pdt) || !Number.isInteger(init) || init < 0) return null;
  if (meta.discontinuity !== "0" && meta.discontinuity !== "1") return null;
  return { duration, programDateTimeMs: pdt, discontinuity: meta.discontinuity === "1", initVersion: init };
};

/** `GET /ingest/v1/streams/:id/archive` on the origin. */
export interface ArchiveStatus {
  /** False: this origin archives nothing (CASCADE_ARCHIVE_URL unset); pending is then always 0. */
  enabled: boolean;
  stream_id: string;
  /** The recording this answer is about; null when the origin knows none for the stream. */
  recording_id: string | null;
  /** `record` (archived while live), `dvr` (not archived unless converted), null when unknown. */
  mode: "record" | "dvr" | null;
  /** True once the origin has archived (or queued) everything it has and the stream has ended. */
  ended: boolean;
  /** Uploads journaled but not yet answered 2xx by the edge (retried until they are). */
  pending: number;
  /** Uploads answered 2xx since this origin process started. */
  uploaded: number;
  /** Uploads the edge refused for good (4xx other than 401/408/429), dropped from the journal. */
  rejected: number;
  /** Segment complete at the origin → 2xx from the edge, ms: recent samples (newest last, at most 2,000). */
  lag_ms: number[];
  /** The PUT to the edge alone (request sent → 2xx) of the same segments, ms, in the same order. */
  upload_ms: number[];
}

/** `GET /api/v1/edge/recordings/:id/objects` on the edge. */
export interface ArchiveListing {
  recording: { id: string; status: string; bytes: number };
  objects: Array<{ key: string; size: number; uploaded: string; custom_metadata: Record<string, string> }>;
  cursor: string | null;
}
