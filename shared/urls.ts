import { THUMBNAIL_FILE, THUMBNAIL_MIME } from "./thumbnail.ts";

/**
 * The relative URL layout of one stream. The origin serves it under `/live/<streamId>/` and the edge
 * under `/hls/<streamId>/`, so every URI inside a playlist is relative and works behind both.
 */
export const MASTER_PLAYLIST = "master.m3u8";

export const mediaPlaylistUri = (rendition: string): string => `${rendition}/index.m3u8`;
export const initUri = (version: number): string => `init${version}.mp4`;
export const segmentUri = (msn: number): string => `seg${msn}.m4s`;
export const partUri = (msn: number, part: number): string => `part${msn}.${part}.m4s`;

export type StreamResource =
  | { kind: "master" }
  | { kind: "playlist"; rendition: string }
  | { kind: "init"; rendition: string; version: number }
  | { kind: "segment"; rendition: string; msn: number }
  | { kind: "part"; rendition: string; msn: number; part: number }
  /** The latest JPEG of the stream (shared/thumbnail.ts); in no playlist. */
  | { kind: "thumbnail" };

const INT = "(0|[1-9][0-9]{0,14})";
const RENDITION = "([a-z0-9][a-z0-9_-]{0,31})";
const PLAYLIST_RE = new RegExp(`^${RENDITION}/index\\.m3u8$`);
const INIT_RE = new RegExp(`^${RENDITION}/init${INT}\\.mp4$`);
const SEGMENT_RE = new RegExp(`^${RENDITION}/seg${INT}\\.m4s$`);
const PART_RE = new RegExp(`^${RENDITION}/part${INT}\\.${INT}\\.m4s$`);

/** Maps a path relative to the stream root onto a resource; null for anything outside the layout. */
export const parseStreamPath = (rest: string): StreamResource | null => {
  if (rest === MASTER_PLAYLIST) return { kind: "master" };
  if (rest === THUMBNAIL_FILE) return { kind: "thumbnail" };
  let m = PLAYLIST_RE.exec(rest);
  if (m) return { kind: "playlist", rendition: m[1]! };
  m = INIT_RE.exec(rest);
  if (m) return { kind: "init", rendition: m[1]!, version: Number(m[2]) };
  m = SEGMENT_RE.exec(rest);
  if (m) return { kind: "segment", rendition: m[1]!, msn: Number(m[2]) };
  m = PART_RE.exec(rest);
  if (m) return { kind: "part", rendition: m[1]!, msn: Number(m[2]), part: Number(m[3]) };
  return null;
};

/** MIME types per the HLS authoring spec. */
export const MIME = {
  playlist: "application/vnd.apple.mpegurl",
  init: "video/mp4",
  media: "video/iso.segment",
  thumbnail: THUMBNAIL_MIME,
} as const;
