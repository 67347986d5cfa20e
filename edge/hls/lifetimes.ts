import { cacheLifetimes } from "../../shared/hls/rules.ts";
import type { EdgeObject } from "./edge-object.ts";

/**
 * Seconds the edge keeps a response in its cache (checklist rule 66 / 1.K.5). 0 = not stored.
 * 400s (a too-far-future msn) and 5xx (a blocking timeout) are never stored: the same request
 * may well succeed a moment later.
 */
export const edgeTtl = (object: EdgeObject, status: number, targetDuration: number): number => {
  const life = cacheLifetimes({ targetDuration, partTarget: 1 });
  const blocking = object.directives.msn !== null;
  const kind = object.resource.kind;
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
