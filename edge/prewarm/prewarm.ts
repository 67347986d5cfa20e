import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../shared/hls/parse.ts";
import { deliver, type DeliveryDeps } from "../hls/deliver.ts";
import { resolveEdgeObject } from "../hls/edge-object.ts";

export interface WarmedObject {
  path: string;
  status: number;
  bytes: number;
  /** Seconds the edge keeps it; 0 = not stored (an error). */
  ttl: number;
}

export interface PrewarmReport {
  streamId: string;
  edge: string;
  ok: boolean;
  warmed: WarmedObject[];
  failed: { path: string; error: string }[];
  ms: number;
}

const resolveRelative = (base: string, uri: string): string | null => {
  // Playlists only use relative URIs inside the stream root; anything else is not ours to fetch.
  const resolved = new URL(uri, `https://stream.invalid/${base}`);
  if (resolved.origin !== "https://stream.invalid") return null;
  return resolved.pathname.slice(1);
};

/**
 * Pulls a stream's multivariant playlist, every media playlist it names and every init segment
 * those name into this edge's cache, refreshing whatever was there (a 404 cached before the stream
 * went live must not outlive the go-live). The go-live saga calls this on every edge before the
 * point of no return; `ok` is true only when every object came back 200.
 */
export const prewarmStream = async (streamId: string, deps: DeliveryDeps, edge: string): Promise<PrewarmReport> => {
  const started = deps.now();
  const warmed: WarmedObject[] = [];
  const failed: PrewarmReport["failed"] = [];

  const warm = async (path: string): Promise<string | null> => {
    const resolved = resolveEdgeObject(streamId, path, new URLSearchParams());
    if (!resolved.ok) {
      failed.push({ path, error: resolved.error });
      return null;
    }
    const delivery = await deliver(resolved.object, deps, true);
    if (delivery.kind !== "object") {
      failed.push({ path, error: delivery.kind === "timeout" ? "timed out" : delivery.error });
      return null;
    }
    const { fetched, ttl } = delivery;
    warmed.push({ path, status: fetched.status, bytes: fetched.body.byteLength, ttl });
    if (fetched.status !== 200) {
      failed.push({ path, error: `origin answered ${fetched.status}` });
      return null;
    }
    return new TextDecoder().decode(fetched.body);
  };

  const master = await warm("master.m3u8");
  if (master !== null) {
    let parsed;
    try {
      parsed = parseMultivariantPlaylist(master);
    } catch (err) {
      failed.push({ path: "master.m3u8", error: `unreadable playlist: ${String(err)}` });
      return { streamId, edge, ok: false, warmed, failed, ms: deps.now() - started };
    }
    const mediaUris = new Set<string>();
    for (const v of parsed.variants) mediaUris.add(v.uri);
    for (const m of parsed.media) if (m["URI"]) mediaUris.add(m["URI"]);
    const playlists = [...mediaUris].map((uri) => resolveRelative("master.m3u8", uri)).filter((p): p is string => p !== null);
    const inits = new Set<string>();
    await Promise.all(
      playlists.map(async (path) => {
        const text = await warm(path);
        if (text === null) return;
        try {
          for (const seg of parseMediaPlaylist(text).segments) {
            const init = seg.map ? resolveRelative(path, seg.map) : null;
            if (init) inits.add(init);
          }
        } catch (err) {
          failed.push({ path, error: `unreadable playlist: ${String(err)}` });
        }
      }),
    );
    await Promise.all([...inits].map((path) => warm(path)));
  }
  return { streamId, edge, ok: failed.length === 0 && warmed.length > 0, warmed, failed, ms: deps.now() - started };
};
