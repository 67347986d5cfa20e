/**
 * The edge's half of archiving (shared/archive-protocol.ts): core-origin PUTs a recording's inits,
 * segments, manifest.json and poster.jpg; each goes into the RECORDINGS bucket at the contract key
 * (edge/db/migrations/0005_recordings.sql) once the request has passed every check, and the
 * recording's `bytes` grows by what was added. Idempotent: the same bytes again change nothing.
 */
import { readLimitedBody } from "../../shared/http/read-body.ts";
import {
  ARCHIVE_HEADERS as AH,
  ARCHIVE_LIMITS,
  archiveKey,
  parseRenditionFile,
  parseRootFile,
  segmentMetadataToR2,
  type ArchiveFile,
  type ArchiveListing,
  type SegmentMetadata,
} from "../../shared/archive-protocol.ts";
import { isRecordingId, isRenditionName, RECORDING_ID_PATTERN } from "../../shared/ids.ts";
import { validateInitSegment, validateMediaFragment } from "../../shared/mp4/index.ts";
import { validateManifest } from "../../shared/push-protocol.ts";
import { jpegProblem } from "../../shared/thumbnail.ts";
import { isoNow } from "../db/database.ts";
import { ApiError, conflict, invalidFields, notFound, unavailable, type FieldErrors } from "../http/api-error.ts";

/** Recording statuses that still take uploads. */
export const ARCHIVABLE_STATUSES: readonly string[] = ["dvr", "recording", "finalizing"];

export interface ArchiveTarget {
  recordingId: string;
  rendition: string | null;
  file: ArchiveFile;
  key: string;
}

/** Validates the path of an upload; 400 naming every bad part. */
export const archiveTarget = (recordingId: string, rendition: string | null, fileName: string): ArchiveTarget => {
  const fields: FieldErrors = {};
  if (!isRecordingId(recordingId)) fields.recording_id = `must match ${RECORDING_ID_PATTERN.source}`;
  if (rendition !== null && !isRenditionName(rendition)) fields.rendition = "must be a rendition name (lowercase letters, digits, '-' and '_', at most 32)";
  const file = rendition === null ? parseRootFile(fileName) : parseRenditionFile(fileName);
  if (!file) fields.file = rendition === null ? "must be manifest.json or poster.jpg" : "must be init-<n>.mp4 or seg-<n>.m4s";
  if (Object.keys(fields).length > 0 || !file) throw invalidFields(fields, "invalid archive path");
  return { recordingId, rendition, file, key: archiveKey(recordingId, rendition, fileName) };
};

const LIMITS: Record<ArchiveFile["kind"], number> = {
  manifest: ARCHIVE_LIMITS.manifestBytes,
  poster: ARCHIVE_LIMITS.posterBytes,
  init: ARCHIVE_LIMITS.initBytes,
  segment: ARCHIVE_LIMITS.segmentBytes,
};

const CONTENT_TYPES: Record<ArchiveFile["kind"], string> = {
  manifest: "application/json",
  poster: "image/jpeg",
  init: "video/mp4",
  segment: "video/iso.segment",
};

/** Reads the body, at most `limit` bytes (413 by Content-Length or while counting). */
const readArchiveBody = async (request: Request, limit: number): Promise<Uint8Array> => {
  const body = await readLimitedBody(request, limit);
  if (!body.ok) throw new ApiError(413, `body exceeds ${limit} bytes`, { limit });
  return body.bytes;
};

/** A segment's metadata from its upload headers; 400 naming every bad header. */
export const segmentMetadataFromHeaders = (headers: Headers): SegmentMetadata => {
  const fields: FieldErrors = {};
  const durationText = headers.get(AH.duration) ?? "";
  const duration = /^\d{1,3}(\.\d{1,9})?$/.test(durationText) ? Number(durationText) : NaN;
  if (!(duration > 0 && duration <= 60)) fields[AH.duration] = "must be a number of seconds above 0 and at most 60";
  const pdtText = headers.get(AH.programDateTime) ?? "";
  const pdt = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/.test(pdtText) ? Date.parse(pdtText) : NaN;
  if (!Number.isFinite(pdt)) fields[AH.programDateTime] = "must be an ISO 8601 UTC date (e.g. 2026-01-01T12:00:00.000Z)";
  const disc = headers.get(AH.discontinuity) ?? "0";
  if (disc !== "0" && disc !== "1") fields[AH.discontinuity] = "must be 0 or 1";
  const initText = headers.get(AH.initVersion) ?? "";
  const init = /^(0|[1-9][0-9]{0,6})$/.test(initText) ? Number(initText) : NaN;
  if (!Number.isInteger(init)) fields[AH.initVersion] = "must be the init version (a non-negative integer)";
  if (Object.keys(fields).length > 0) throw invalidFields(fields, "invalid segment metadata");
  return { duration, programDateTimeMs: pdt, discontinuity: disc === "1", initVersion: init };
};

/** Why the body is not what the file name says, or null. */
const contentProblem = (target: ArchiveTarget, bytes: Uint8Array): string | null => {
  switch (target.file.kind) {
    case "init":
      return validateInitSegment(bytes);
    case "segment":
      return bytes.byteLength === 0 ? "empty segment" : validateMediaFragment(bytes);
    case "poster":
      return jpegProblem(bytes);
    case "manifest": {
      let m: unknown;
      try {
        m = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes));
      } catch {
        return "not valid JSON";
      }
      if (typeof m !== "object" || m === null || Array.isArray(m)) return "must be a JSON object";
      const o = m as Record<string, unknown>;
      if (o.version !== 1) return "version must be 1";
      if (o.recordingId !== target.recordingId) return "recordingId must be the recording in the path";
      if (typeof o.streamId !== "string" || !/^[a-z0-9][a-z0-9_-]{0,63}$/.test(o.streamId)) return "streamId is invalid";
      const problems = validateManifest({ targetDuration: o.targetDuration, partTarget: o.partTarget, segmentDuration: o.segmentDuration, renditions: o.renditions });
      return problems.length > 0 ? problems.join("; ") : null;
    }
  }
};

const hex = (buf: ArrayBuffer): string => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");

export interface IngestResult {
  status: 200 | 201;
  body: { ok: true; key: string; size: number; duplicate: boolean; replaced: boolean };
}

/**
 * Checks and stores one upload. Order matters for "nothing written on error": path, headers, size,
 * content and checksum are checked first, then the recording's row (404 unknown, 409 no longer
 * archiving), then R2; the byte count is updated last, and a new object is removed again if that fails.
 */
export const ingestArchiveObject = async (db: D1Database, bucket: R2Bucket, target: ArchiveTarget, request: Request, now = Date.now()): Promise<IngestResult> => {
  const meta = target.file.kind === "segment" ? segmentMetadataFromHeaders(request.headers) : null;
  const bytes = await readArchiveBody(request, LIMITS[target.file.kind]);
  const problem = contentProblem(target, bytes);
  if (problem) throw invalidFields({ body: problem }, `not a valid ${target.file.kind === "manifest" ? "manifest.json" : target.file.kind === "poster" ? "JPEG poster" : target.file.kind === "init" ? "fMP4 init segment" : "fMP4 segment"}`);
  const sha256 = hex(await crypto.subtle.digest("SHA-256", bytes));
  const claimed = request.headers.get("x-content-sha256");
  if (claimed !== null && claimed.toLowerCase() !== sha256) throw invalidFields({ "x-content-sha256": "does not match the body" }, "body checksum mismatch");

  const row = await db.prepare("SELECT status FROM recordings WHERE id = ?1").bind(target.recordingId).first<{ status: string }>();
  if (!row) throw notFound("recording");
  if (!ARCHIVABLE_STATUSES.includes(row.status)) throw conflict(`recording is ${row.status}: it takes no more uploads`, { status: row.status });

  const customMetadata: Record<string, string> =
    target.file.kind === "segment"
      ? segmentMetadataToR2(meta!, sha256)
      : target.file.kind === "init"
        ? { init: String(target.file.version), sha256 }
        : { sha256 };
  const options: R2PutOptions = { httpMetadata: { contentType: CONTENT_TYPES[target.file.kind] }, customMetadata };
  const immutable = target.file.kind === "init" || target.file.kind === "segment";
  const same = (o: R2Object | null) => o !== null && o.customMetadata?.sha256 === sha256;
  const ok = (status: 200 | 201, duplicate: boolean, replaced: boolean): IngestResult => ({ status, body: { ok: true, key: target.key, size: bytes.byteLength, duplicate, replaced } });

  const existing = await bucket.head(target.key);
  if (same(existing)) return ok(200, true, false);
  if (existing && immutable) throw conflict(`${target.key} already exists with different bytes`, { key: target.key });
  const delta = bytes.byteLength - (existing?.size ?? 0);
  if (immutable) {
    // Two uploads of the same object at once: only one creates it, the other finds it.
    const put = await bucket.put(target.key, bytes, { ...options, onlyIf: { etagDoesNotMatch: "*" } });
    if (put === null) {
      const now2 = await bucket.head(target.key);
      if (same(now2)) return ok(200, true, false);
      throw conflict(`${target.key} already exists with different bytes`, { key: target.key });
    }
  } else {
    await bucket.put(target.key, bytes, options);
  }
  try {
    await db.prepare("UPDATE recordings SET bytes = MAX(0, bytes + ?1), updated_at = ?2 WHERE id = ?3").bind(delta, isoNow(now), target.recordingId).run();
  } catch (err) {
    // Keep the count right: without the row update the object must not stay (the retry puts it again).
    if (!existing) await bucket.delete(target.key).catch(() => undefined);
    throw unavailable(`could not record the upload: ${(err as Error).message}`);
  }
  return ok(existing ? 200 : 201, false, existing !== null);
};

/** What R2 holds of a recording (admin listing; tests and benchmarks). */
export const listArchive = async (db: D1Database, bucket: R2Bucket, recordingId: string, cursor: string | undefined, limit: number): Promise<ArchiveListing> => {
  const row = await db.prepare("SELECT id, status, bytes FROM recordings WHERE id = ?1").bind(recordingId).first<{ id: string; status: string; bytes: number }>();
  if (!row) throw notFound("recording");
  // `include` is honoured at this compatibility date; the default types (oldest date) do not declare it.
  const options = { prefix: `recordings/${recordingId}/`, limit, ...(cursor ? { cursor } : {}), include: ["customMetadata"] };
  const listed = await bucket.list(options as R2ListOptions);
  return {
    recording: { id: row.id, status: row.status, bytes: row.bytes },
    objects: listed.objects.map((o) => ({ key: o.key, size: o.size, uploaded: o.uploaded.toISOString(), custom_metadata: o.customMetadata ?? {} })),
    cursor: listed.truncated ? listed.cursor : null,
  };
};
