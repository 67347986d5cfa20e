import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../shared/hls/parse.ts";
import type { EdgeCache } from "../hls/edge-cache.ts";
import { resolveEdgeObject } from "../hls/edge-object.ts";

export interface PurgeReport {
  streamId: string;
  edge: string;
  /** Paths whose cached copy was dropped. */
  dropped: string[];
}

const relative = (base: string, uri: string): string | null => {
  const resolved = new URL(uri, `https://stream.invalid/${base}`);
  return resolved.origin === "https://stream.invalid" ? resolved.pathname.slice(1) : null;
};

/**
 * Drops what a prewarm put in this edge's cache for a stream: the multivariant playlist, the media
 * playlists it names and their init segments (found by reading the cached playlists themselves).
 * The go-live saga's compensation of warmup_cdn; idempotent (a second purge drops nothing).
 */
export const purgeStream = async (streamId: string, cache: EdgeCache, edge: string): Promise<PurgeReport> => {
  const keyOf = (path: string): string | null => {
    const r = resolveEdgeObject(streamId, path, new URLSearchParams());
    return r.ok ? r.object.key : null;
  };
  const cachedText = async (path: string): Promise<string | null> => {
    const key = keyOf(path);
    const hit = key ? await cache.get(key) : null;
    return hit && hit.status === 200 ? new TextDecoder().decode(hit.body) : null;
  };
  const paths = new Set<string>(["master.m3u8"]);
  const master = await cachedText("master.m3u8");
  if (master !== null) {
    try {
      const parsed = parseMultivariantPlaylist(master);
      const playlists = [...parsed.variants.map((v) => v.uri), ...parsed.media.map((m) => m["URI"]).filter((u): u is string => !!u)]
        .map((u) => relative("master.m3u8", u))
        .filter((p): p is string => p !== null);
      for (const p of playlists) {
        paths.add(p);
        const text = await cachedText(p);
        if (text === null) continue;
        for (const seg of parseMediaPlaylist(text).segments) {
          const init = seg.map ? relative(p, seg.map) : null;
          if (init) paths.add(init);
        }
      }
    } catch {
      // an unreadable cached playlist: drop what we know of
    }
  }
  const dropped: string[] = [];
  // Children first, the multivariant playlist last: a purge cut short leaves it to find the rest again.
  for (const path of [...paths].reverse()) {
    const key = keyOf(path);
    if (key && (await cache.delete(key))) dropped.push(path);
  }
  return { streamId, edge, dropped };
};
