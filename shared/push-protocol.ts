/**
 * The push protocol between a transcoder node and core-origin.
 *
 * Every request carries `Authorization: Bearer <node token>` (see tokens.ts).
 *
 *   PUT  /ingest/v1/streams/:id                                  stream manifest (JSON, StreamManifest)
 *   PUT  /ingest/v1/streams/:id/renditions/:r/init/:version      init segment (ftyp+moov)
 *   PUT  /ingest/v1/streams/:id/renditions/:r/parts/:msn/:part   one part (moof+mdat...), headers below
 *   POST /ingest/v1/streams/:id/renditions/:r/segments/:msn      segment boundary: the segment is complete
 *   POST /ingest/v1/streams/:id/renditions/:r/end                this rendition ends (rung dropped)
 *   POST /ingest/v1/streams/:id/end                              the stream ends (ENDLIST everywhere)
 *   PUT  /ingest/v1/streams/:id/thumbnail.jpg                    latest thumbnail (JPEG); latest wins, no seq
 *
 * Ordering and idempotency: parts and segment boundaries of one rendition carry a per-rendition
 * sequence number (`Cascade-Seq`) assigned once by the node. The origin applies seq = last + 1,
 * answers a seq it already applied with 200 and `duplicate: true` (a retry never duplicates) and
 * rejects a gap with 400. `Cascade-Resync: 1` on part 0 of a segment starts a new continuous run
 * (first push to an origin after failover, or after the origin restarted): any seq is accepted there.
 * Manifest, init, and end pushes are idempotent by content.
 */

import { RECORDING_ID_PATTERN } from "./ids.ts";

export const PUSH_PREFIX = "/ingest/v1/streams";

export const PUSH_HEADERS = {
  seq: "cascade-seq",
  resync: "cascade-resync",
  partDuration: "cascade-part-duration",
  independent: "cascade-independent",
  programDateTime: "cascade-program-date-time",
  discontinuity: "cascade-discontinuity",
  initVersion: "cascade-init-version",
  segmentDuration: "cascade-segment-duration",
  peakBitrate: "cascade-peak-bitrate",
  averageBitrate: "cascade-average-bitrate",
  /** On a segment push without parts: the rendition has no media for this MSN (EXT-X-GAP). */
  gap: "cascade-gap",
  /** On a part: when the node cut it (epoch ms); both sides time the delivery from it (metrics). */
  producedAt: "cascade-produced-at",
} as const;

/** Size limits the origin enforces (413 above them). */
export const PUSH_LIMITS = {
  manifestBytes: 64 * 1024,
  initBytes: 1024 * 1024,
  partBytes: 16 * 1024 * 1024,
  thumbnailBytes: 512 * 1024,
} as const;

export interface ManifestRendition {
  name: string;
  type: "video" | "audio";
  /** RFC 6381 codec string derived from the init segment, e.g. `avc1.64001f` or `mp4a.40.2`. */
  codecs: string;
  /** Configured bitrate in bit/s; used for BANDWIDTH until a measured peak exists. */
  bitrate: number;
  width?: number;
  height?: number;
  fps?: number;
  language?: string;
  channels?: number;
}

export interface StreamManifest {
  /** Integer seconds, constant for the life of the stream. */
  targetDuration: number;
  /** Seconds; every part is ≤ this and ≥ 85 % of it unless independent or last in its segment. */
  partTarget: number;
  /** Nominal segment duration (the keyframe interval) in seconds; defaults to targetDuration. */
  segmentDuration?: number;
  renditions: ManifestRendition[];
  /**
   * Seconds of DVR (rewind) window behind the live edge, from the stream's settings (`dvr_window`,
   * sent to the node by the go-live saga); absent: the origin's default; 0: live window only.
   */
  dvrWindowS?: number;
  /**
   * The broadcast's recording (from the go-live saga; absent for streams without one, such as the
   * local-key demo). `record`: the origin archives every init and segment to R2 under this id while
   * the stream runs; `dvr`: nothing is archived unless the recording is converted later
   * (`POST /ingest/v1/streams/:id/archive`, shared/archive-protocol.ts).
   */
  recording?: ManifestRecording | null;
}

export const RECORDING_MODES = ["record", "dvr"] as const;
export type RecordingMode = (typeof RECORDING_MODES)[number];

export interface ManifestRecording {
  id: string;
  mode: RecordingMode;
}

/** Longest DVR window a manifest may ask for (4 h, the control plane's DVR_WINDOW_MAX). */
export const MAX_DVR_WINDOW_S = 4 * 60 * 60;

export const pushPaths = {
  manifest: (id: string) => `${PUSH_PREFIX}/${id}`,
  init: (id: string, r: string, version: number) => `${PUSH_PREFIX}/${id}/renditions/${r}/init/${version}`,
  part: (id: string, r: string, msn: number, part: number) => `${PUSH_PREFIX}/${id}/renditions/${r}/parts/${msn}/${part}`,
  segment: (id: string, r: string, msn: number) => `${PUSH_PREFIX}/${id}/renditions/${r}/segments/${msn}`,
  renditionEnd: (id: string, r: string) => `${PUSH_PREFIX}/${id}/renditions/${r}/end`,
  end: (id: string) => `${PUSH_PREFIX}/${id}/end`,
  thumbnail: (id: string) => `${PUSH_PREFIX}/${id}/thumbnail.jpg`,
};

const isPositiveFinite = (n: unknown): n is number => typeof n === "number" && Number.isFinite(n) && n > 0;

/** Validates an untrusted manifest; returns the list of problems (empty when valid). */
export const validateManifest = (value: unknown): string[] => {
  const problems: string[] = [];
  if (typeof value !== "object" || value === null) return ["body must be a JSON object"];
  const m = value as Partial<StreamManifest>;
  if (!Number.isInteger(m.targetDuration) || (m.targetDuration as number) < 1 || (m.targetDuration as number) > 60)
    problems.push("targetDuration must be an integer from 1 to 60");
  if (!isPositiveFinite(m.partTarget) || m.partTarget < 0.1 || m.partTarget > (m.targetDuration ?? 0))
    problems.push("partTarget must be a number from 0.1 to targetDuration");
  if (m.segmentDuration !== undefined && (!isPositiveFinite(m.segmentDuration) || m.segmentDuration > (m.targetDuration ?? 0) + 0.5))
    problems.push("segmentDuration must be a positive number not above targetDuration + 0.5");
  if (!Array.isArray(m.renditions) || m.renditions.length === 0 || m.renditions.length > 16) {
    problems.push("renditions must be a non-empty array of at most 16");
    return problems;
  }
  const names = new Set<string>();
  m.renditions.forEach((r: Partial<ManifestRendition>, i) => {
    const at = `renditions[${i}]`;
    if (typeof r !== "object" || r === null) return problems.push(`${at} must be an object`);
    if (typeof r.name !== "string" || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(r.name)) problems.push(`${at}.name is invalid`);
    else if (names.has(r.name)) problems.push(`${at}.name is duplicated`);
    else names.add(r.name);
    if (r.type !== "video" && r.type !== "audio") problems.push(`${at}.type must be video or audio`);
    if (typeof r.codecs !== "string" || !/^[A-Za-z0-9.]{4,40}$/.test(r.codecs)) problems.push(`${at}.codecs is invalid`);
    if (!isPositiveFinite(r.bitrate)) problems.push(`${at}.bitrate must be a positive number`);
    if (r.type === "video") {
      if (!Number.isInteger(r.width) || !Number.isInteger(r.height)) problems.push(`${at}.width/height must be integers`);
      if (!isPositiveFinite(r.fps)) problems.push(`${at}.fps must be a positive number`);
    }
    if (r.language !== undefined && (typeof r.language !== "string" || !/^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*$/.test(r.language)))
      problems.push(`${at}.language is invalid`);
    return undefined;
  });
  if (!m.renditions.some((r) => r?.type === "video")) problems.push("renditions must include a video rendition");
  if (m.dvrWindowS !== undefined && (!Number.isInteger(m.dvrWindowS) || m.dvrWindowS < 0 || m.dvrWindowS > MAX_DVR_WINDOW_S))
    problems.push(`dvrWindowS must be an integer from 0 to ${MAX_DVR_WINDOW_S}`);
  if (m.recording !== undefined && m.recording !== null) {
    const rec = m.recording as Partial<ManifestRecording>;
    if (typeof rec !== "object" || Array.isArray(rec)) problems.push("recording must be an object or null");
    else {
      if (typeof rec.id !== "string" || !RECORDING_ID_PATTERN.test(rec.id)) problems.push("recording.id is invalid");
      if (!RECORDING_MODES.includes(rec.mode as RecordingMode)) problems.push("recording.mode must be record or dvr");
      const extra = Object.keys(rec).filter((k) => k !== "id" && k !== "mode");
      if (extra.length > 0) problems.push(`recording has unknown fields: ${extra.join(", ")}`);
    }
  }
  return problems;
};
