/**
 * The VOD playlists of a recording, from what the archive put into R2: pure functions from the
 * archived objects (keys, sizes, custom metadata) and the live StreamManifest to playlist text.
 * finalize.ts lists R2 and writes what these return.
 */
import type { MultivariantPlaylist } from "../../shared/hls/types.ts";
import { renderMultivariantPlaylist } from "../../shared/hls/render-multivariant.ts";
import type { ManifestRendition } from "../../shared/push-protocol.ts";
import { vodInitFile, vodPlaylistPath, vodSegmentFile } from "./layout.ts";

/** One archived segment, as its R2 object describes it. */
export interface ArchivedSegment {
  msn: number;
  /** Seconds (customMetadata `duration`). */
  duration: number;
  /** Wall clock of the first frame, epoch ms (customMetadata `pdt`). */
  pdtMs: number;
  /** customMetadata `discontinuity`. */
  discontinuity: boolean;
  /** Init version it depends on (customMetadata `init`). */
  init: number;
  bytes: number;
}

export interface ArchivedRendition {
  name: string;
  segments: ArchivedSegment[];
  /** Init versions present in R2. */
  inits: number[];
  initBytes: number;
}

export interface RenditionSummary {
  name: string;
  segments: number;
  durationS: number;
  /** Media bytes (segments and inits). */
  bytes: number;
  /** Peak segment bitrate and the whole rendition's average, bit/s. */
  peakBitrate: number;
  averageBitrate: number;
  /** In the multivariant playlist (false: it ended early, e.g. a rung the real-time guard dropped). */
  listed: boolean;
}

export interface VodPlaylists {
  master: string;
  /** Media playlist text per rendition name. */
  media: Map<string, string>;
  renditions: RenditionSummary[];
  /** Seconds of the longest listed video rendition. */
  durationS: number;
}

/** Seconds with five decimals (EXTINF needs three or more; five keeps long recordings exact to 10 µs a segment). */
export const formatExtinf = (s: number): string => s.toFixed(5);

/** EXT-X-TARGETDURATION: the longest segment rounded up (float noise below 1 ms ignored). */
export const vodTargetDuration = (segments: readonly ArchivedSegment[]): number => Math.max(1, Math.ceil(Math.max(0, ...segments.map((s) => s.duration)) - 0.001));

/**
 * A VOD media playlist: PLAYLIST-TYPE VOD, a MAP per init version (a new one where it changes), a
 * DISCONTINUITY where flagged or where MSNs jump, PROGRAM-DATE-TIME on the first segment and after
 * every discontinuity, ENDLIST.
 */
export const renderVodMediaPlaylist = (segments: readonly ArchivedSegment[]): string => {
  const sorted = [...segments].sort((a, b) => a.msn - b.msn);
  const lines = ["#EXTM3U", "#EXT-X-VERSION:7", `#EXT-X-TARGETDURATION:${vodTargetDuration(sorted)}`, "#EXT-X-PLAYLIST-TYPE:VOD", `#EXT-X-MEDIA-SEQUENCE:${sorted[0]?.msn ?? 0}`, "#EXT-X-INDEPENDENT-SEGMENTS"];
  let map: number | null = null;
  let previous: ArchivedSegment | null = null;
  for (const seg of sorted) {
    const discontinuity = previous !== null && (seg.discontinuity || seg.msn !== previous.msn + 1);
    if (discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (seg.init !== map) {
      lines.push(`#EXT-X-MAP:URI="${vodInitFile(seg.init)}"`);
      map = seg.init;
    }
    if (previous === null || discontinuity) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(seg.pdtMs).toISOString()}`);
    lines.push(`#EXTINF:${formatExtinf(seg.duration)},`, vodSegmentFile(seg.msn));
    previous = seg;
  }
  lines.push("#EXT-X-ENDLIST");
  return `${lines.join("\n")}\n`;
};

const summarise = (r: ArchivedRendition): Omit<RenditionSummary, "listed"> => {
  const durationS = r.segments.reduce((a, s) => a + s.duration, 0);
  const segmentBytes = r.segments.reduce((a, s) => a + s.bytes, 0);
  return {
    name: r.name,
    segments: r.segments.length,
    durationS,
    bytes: segmentBytes + r.initBytes,
    peakBitrate: Math.max(0, ...r.segments.map((s) => (s.bytes * 8) / s.duration)),
    averageBitrate: durationS > 0 ? (segmentBytes * 8) / durationS : 0,
  };
};

const AUDIO_GROUP = "audio";

/**
 * The media playlists of every archived rendition the archived manifest describes, and the multivariant
 * playlist over them: BANDWIDTH / AVERAGE-BANDWIDTH measured from the archived sizes and durations
 * (video plus the audio group's), CODECS, RESOLUTION, FRAME-RATE and the audio group as the live
 * one has them (core-origin/playlist/build-multivariant.ts). Returns null when nothing is playable
 * (no video segments).
 */
export const buildVodPlaylists = (manifest: { renditions: readonly ManifestRendition[] }, archived: ReadonlyMap<string, ArchivedRendition>): VodPlaylists | null => {
  const present = manifest.renditions.filter((r) => (archived.get(r.name)?.segments.length ?? 0) > 0);
  const video = present.filter((r) => r.type === "video");
  if (video.length === 0) return null;
  const summaries = new Map(present.map((r) => [r.name, summarise(archived.get(r.name)!)]));
  const lastMsn = (name: string) => Math.max(...archived.get(name)!.segments.map((s) => s.msn));
  // A rung dropped mid-stream ends early; it keeps its playlist but players are not offered it.
  const newest = Math.max(...video.map((v) => lastMsn(v.name)));
  const listedVideo = video.filter((v) => lastMsn(v.name) >= newest - 1);
  const audio = present.filter((r) => r.type === "audio");
  const audioPeak = Math.max(0, ...audio.map((a) => summaries.get(a.name)!.peakBitrate));
  const audioAvg = Math.max(0, ...audio.map((a) => summaries.get(a.name)!.averageBitrate));
  const audioCodecs = [...new Set(audio.map((a) => a.codecs))];
  const multivariant: MultivariantPlaylist = {
    independentSegments: true,
    audio: audio.map((a, i) => ({ groupId: AUDIO_GROUP, name: a.name, language: a.language ?? "und", channels: a.channels ?? 2, uri: vodPlaylistPath(a.name), isDefault: i === 0 })),
    variants: listedVideo
      .sort((a, b) => b.bitrate - a.bitrate)
      .map((v) => {
        const s = summaries.get(v.name)!;
        return {
          uri: vodPlaylistPath(v.name),
          bandwidth: Math.ceil(s.peakBitrate + audioPeak),
          averageBandwidth: Math.ceil(s.averageBitrate + audioAvg),
          codecs: [v.codecs, ...audioCodecs].join(","),
          width: v.width ?? 0,
          height: v.height ?? 0,
          frameRate: v.fps ?? 30,
          ...(audio.length > 0 ? { audioGroup: AUDIO_GROUP } : {}),
        };
      }),
  };
  const listed = new Set([...listedVideo, ...audio].map((r) => r.name));
  return {
    master: renderMultivariantPlaylist(multivariant),
    media: new Map(present.map((r) => [r.name, renderVodMediaPlaylist(archived.get(r.name)!.segments)])),
    renditions: present.map((r) => ({ ...summaries.get(r.name)!, listed: listed.has(r.name) })),
    durationS: Math.max(...listedVideo.map((v) => summaries.get(v.name)!.durationS)),
  };
};
