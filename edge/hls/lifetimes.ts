import { cacheLifetimes } from "../../shared/hls/rules.ts";
import { THUMBNAIL_MAX_AGE, THUMBNAIL_MISSING_MAX_AGE } from "../../shared/thumbnail.ts";
import type { EdgeObject } from "./edge-object.ts";

/**
 * Seconds the edge keeps a response in its cache (RFC 8216bis Appendix B.1). 0 = not stored.
 * 400s (a too-far-future msn) and 5xx (a blocking timeout) are never stored: the same request
 * may well succeed a moment later.
 *
 * A thumbnail is replaced every few seconds: the edge keeps it as long as the origin says
 * (`max-age`, 5 s for a JPEG, 2 s for "none yet"), never longer than a minute.
 */
export const edgeTtl = (object: EdgeObject, status: number, targetDuration: number, originMaxAge: number | null = null): number => {
  const life = cacheLifetimes({ targetDuration, partTarget: 1 });
  const blocking = object.directives.msn !== null;
  const kind = object.resource.kind;
  if (kind === "thumbnail") {
    if (status !== 200 && status !== 404) return 0;
    return Math.min(originMaxAge ?? (status === 200 ? THUMBNAIL_MAX_AGE : THUMBNAIL_MISSING_MAX_AGE), 60);
  }
  if (status === 200) {
    if (kind === "master") return life.playlist;
    if (kind === "playlist") return blocking ? life.blockingPlaylist : life.playlist;
    return life.immutableMedia;
  }
  if (status === 404 || status === 410) {
    if (kind === "master" || kind === "playlist") return blocking ? life.blockingPlaylistError : life.playlistError;
    return life.hintedMediaError;
  }
  return 0;
};
