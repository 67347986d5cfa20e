/**
 * Recordings for the workerd tests: rows straight in D1 and archived objects straight in the
 * RECORDINGS bucket (miniflare's R2), laid out as the archive writes them (shared/archive-protocol.ts).
 */
import type { WorkerEnv } from "../../../edge/config.ts";
import { env } from "cloudflare:test";
import { archiveKey, initFile, segmentFile, segmentMetadataToR2, type ArchiveManifest } from "../../../shared/archive-protocol.ts";
import type { ManifestRendition } from "../../../shared/push-protocol.ts";
import { isoNow } from "../../../edge/db/database.ts";
import { randomId } from "../../../edge/db/ids.ts";
import type { RecordingStatus } from "../../../edge/recordings/recording-store.ts";

export const testEnv = (): WorkerEnv => env as unknown as WorkerEnv;
export const bucket = (): R2Bucket => testEnv().RECORDINGS!;

export const VIDEO_720: ManifestRendition = { name: "720p", type: "video", codecs: "avc1.64001f", bitrate: 3_000_000, width: 1280, height: 720, fps: 30 };
export const VIDEO_360: ManifestRendition = { name: "360p", type: "video", codecs: "avc1.4d401e", bitrate: 800_000, width: 640, height: 360, fps: 30 };
export const AUDIO: ManifestRendition = { name: "audio", type: "audio", codecs: "mp4a.40.2", bitrate: 128_000, channels: 2 };

export interface SeedRecording {
  streamId: string;
  userId: string;
  status?: RecordingStatus;
  startedAt?: string;
  endedAt?: string | null;
  retentionDays?: number;
  expiresAt?: string | null;
  updatedAt?: string;
  id?: string;
}

export const insertRecording = async (r: SeedRecording): Promise<string> => {
  const id = r.id ?? randomId(12);
  const now = isoNow();
  await testEnv()
    .DB!.prepare(
      `INSERT INTO recordings (id, stream_id, user_id, title, status, started_at, ended_at, retention_days, expires_at, created_at, updated_at)
       VALUES (?1, ?2, ?3, 'A recording', ?4, ?5, ?6, ?7, ?8, ?9, ?10)`,
    )
    .bind(id, r.streamId, r.userId, r.status ?? "finalizing", r.startedAt ?? now, r.endedAt === undefined ? now : r.endedAt, r.retentionDays ?? 30, r.expiresAt ?? null, now, r.updatedAt ?? now)
    .run();
  return id;
};

export const recordingRow = (id: string) => testEnv().DB!.prepare("SELECT * FROM recordings WHERE id = ?1").bind(id).first<Record<string, unknown>>();

/** One segment to archive: bytes of `size`, metadata as the origin sends it. */
export interface SegmentSpec {
  msn: number;
  duration: number;
  pdtMs: number;
  discontinuity?: boolean;
  init?: number;
  size?: number;
}

/** Bytes whose first byte tells objects apart, so responses can be checked byte for byte. */
export const fill = (size: number, seed: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i) & 0xff);

export const putManifest = async (recordingId: string, streamId: string, renditions: ManifestRendition[], targetDuration = 2): Promise<void> => {
  const manifest: ArchiveManifest = { version: 1, recordingId, streamId, targetDuration, partTarget: 0.5, segmentDuration: 2, renditions };
  await bucket().put(archiveKey(recordingId, null, "manifest.json"), JSON.stringify(manifest), { httpMetadata: { contentType: "application/json" } });
};

export const putInit = async (recordingId: string, rendition: string, version: number, size = 700): Promise<void> => {
  await bucket().put(archiveKey(recordingId, rendition, initFile(version)), fill(size, version + 100), { httpMetadata: { contentType: "video/mp4" } });
};

export const putSegments = async (recordingId: string, rendition: string, segments: SegmentSpec[]): Promise<void> => {
  for (const s of segments) {
    await bucket().put(archiveKey(recordingId, rendition, segmentFile(s.msn)), fill(s.size ?? 1000, s.msn), {
      httpMetadata: { contentType: "video/iso.segment" },
      customMetadata: segmentMetadataToR2({ duration: s.duration, programDateTimeMs: s.pdtMs, discontinuity: s.discontinuity ?? false, initVersion: s.init ?? 0 }, "0".repeat(64)),
    });
  }
};

/** Keys under `recordings/<id>/`. */
export const objectKeys = async (recordingId: string): Promise<string[]> => {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await bucket().list({ prefix: `recordings/${recordingId}/`, cursor });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return keys.sort();
};

/** A tiny structurally valid JPEG. */
export const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x03, 0x07, 0xff, 0xd9]);
