/**
 * The R2 layout of one recording (migration 0005's contract) and the `/vod/<recordingId>/…` URL
 * layout the edge serves it under. Paths below the recording root are the same in both, so every
 * URI inside a VOD playlist is relative:
 *
 *   recordings/<id>/manifest.json                 ArchiveManifest (shared/archive-protocol.ts); never served
 *   recordings/<id>/poster.jpg                    the last thumbnail
 *   recordings/<id>/master.m3u8                   multivariant VOD playlist (written by finalize.ts)
 *   recordings/<id>/<rendition>/index.m3u8        VOD media playlist (written by finalize.ts)
 *   recordings/<id>/<rendition>/init-<v>.mp4      init segment, version v
 *   recordings/<id>/<rendition>/seg-<msn>.m4s     segment; customMetadata {duration, pdt, discontinuity, init}
 *
 * File names and the upload protocol are shared/archive-protocol.ts's (the archive writes them).
 */
import { initFile, MANIFEST_FILE, parseRenditionFile, POSTER_FILE, segmentFile } from "../../shared/archive-protocol.ts";
import { isRecordingId, isRenditionName, RECORDING_ID_PATTERN } from "../../shared/ids.ts";

export { isRecordingId, MANIFEST_FILE, POSTER_FILE, RECORDING_ID_PATTERN };

export const RECORDINGS_ROOT = "recordings/";
export const recordingPrefix = (id: string): string => `${RECORDINGS_ROOT}${id}/`;

export const VOD_MASTER = "master.m3u8";
const MEDIA_PLAYLIST = "index.m3u8";
export const vodPlaylistPath = (rendition: string): string => `${rendition}/${MEDIA_PLAYLIST}`;
export const vodInitFile = initFile;
export const vodSegmentFile = segmentFile;

export const recordingKey = (id: string, path: string): string => `${recordingPrefix(id)}${path}`;

export type RecordingResource =
  | { kind: "manifest" }
  | { kind: "master" }
  | { kind: "poster" }
  | { kind: "playlist"; rendition: string }
  | { kind: "init"; rendition: string; version: number }
  | { kind: "segment"; rendition: string; msn: number };

/** Maps a path below the recording root onto a resource; null for anything outside the layout. */
export const parseRecordingPath = (rest: string): RecordingResource | null => {
  if (rest === MANIFEST_FILE) return { kind: "manifest" };
  if (rest === VOD_MASTER) return { kind: "master" };
  if (rest === POSTER_FILE) return { kind: "poster" };
  const slash = rest.indexOf("/");
  const rendition = rest.slice(0, slash);
  const file = rest.slice(slash + 1);
  if (slash < 0 || !isRenditionName(rendition)) return null;
  if (file === MEDIA_PLAYLIST) return { kind: "playlist", rendition };
  const parsed = parseRenditionFile(file);
  if (parsed?.kind === "init") return { kind: "init", rendition, version: parsed.version };
  if (parsed?.kind === "segment") return { kind: "segment", rendition, msn: parsed.msn };
  return null;
};

/** URLs a client builds on (relative, like the stream URLs). */
export const vodUrls = (id: string) => ({
  master: `/vod/${id}/${VOD_MASTER}`,
  poster: `/vod/${id}/${POSTER_FILE}`,
});
