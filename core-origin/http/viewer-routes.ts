import { gzipSync } from "node:zlib";
import { Hono } from "hono";
import { advancePartLimit, blockingTimeoutMs, cacheLifetimes, renderMultivariantPlaylist } from "../../shared/hls/index.ts";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { THUMBNAIL_MAX_AGE, THUMBNAIL_MISSING_MAX_AGE } from "../../shared/thumbnail.ts";
import { MIME, parseStreamPath } from "../../shared/urls.ts";
import type { OriginMetrics } from "../metrics.ts";
import { buildMultivariantPlaylist } from "../playlist/build-multivariant.ts";
import { MediaPlaylistRenderer } from "../playlist/media-renderer.ts";
import { RenderedCache, type Rendered } from "../playlist/rendered-cache.ts";
import type { RenditionState } from "../store/rendition-state.ts";
import type { LiveStream, StreamRegistry } from "../store/stream-registry.ts";
import type { ThumbnailStore } from "../store/thumbnail-store.ts";
import { parseLlHlsQuery } from "./llhls-query.ts";
import { IMMUTABLE, jsonError, maxAge } from "./responses.ts";

const encoder = new TextEncoder();

const playlistResponse = (req: Request, rendered: Rendered, cacheControl: string, lastModifiedMs: number): Response => {
  const gzip = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
  const headers: Record<string, string> = {
    "content-type": MIME.playlist,
    "cache-control": cacheControl,
    "last-modified": new Date(lastModifiedMs).toUTCString(),
    vary: "Accept-Encoding",
    "access-control-allow-origin": "*",
  };
  if (gzip) {
    headers["content-encoding"] = "gzip";
    return new Response(rendered.gzip as Uint8Array<ArrayBuffer>, { status: 200, headers });
  }
  // A DVR playlist's text is a rope of cached pieces: flatten and encode it once per version.
  rendered.bytes ??= encoder.encode(rendered.text);
  return new Response(rendered.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers });
};

const mediaResponse = (bytes: Uint8Array, contentType: string, cacheControl: string): Response =>
  new Response(bytes as Uint8Array<ArrayBuffer>, {
    status: 200,
    headers: {
      "content-type": contentType,
      "content-length": String(bytes.byteLength),
      "cache-control": cacheControl,
      "access-control-allow-origin": "*",
    },
  });

/**
 * The stream's latest thumbnail, live or not (after the end it is the recording's poster), with a
 * short lifetime since a new one comes every few seconds; ETag (content hash) and If-None-Match.
 */
const thumbnailResponse = async (req: Request, id: string, thumbnails: ThumbnailStore): Promise<Response> => {
  const t = await thumbnails.get(id);
  if (!t) return jsonError(404, "no thumbnail for this stream yet", { stream: id }, THUMBNAIL_MISSING_MAX_AGE);
  const headers: Record<string, string> = {
    "content-type": MIME.thumbnail,
    "cache-control": maxAge(THUMBNAIL_MAX_AGE),
    etag: t.etag,
    "access-control-allow-origin": "*",
  };
  if (t.updatedAtMs !== null) headers["last-modified"] = new Date(t.updatedAtMs).toUTCString();
  const inm = req.headers.get("if-none-match");
  if (inm && inm.split(",").some((v) => v.trim().replace(/^W\//, "") === t.etag)) return new Response(null, { status: 304, headers });
  return new Response(t.bytes as Uint8Array<ArrayBuffer>, { status: 200, headers: { ...headers, "content-length": String(t.bytes.byteLength) } });
};

/**
 * Sum of monotonic counters: changes whenever any rendition or the manifest changes. Summed over
 * every rendition the stream ever had (ended ones included), so it never goes down when a rung is
 * dropped and cannot come back to a value an older cached playlist was rendered at.
 */
const streamVersion = (stream: LiveStream): number =>
  [...stream.renditions.values()].reduce((a, r) => a + r.version, stream.manifestVersion * 1_000_000_000);

export const viewerRoutes = (registry: StreamRegistry, metrics: OriginMetrics, thumbnails: ThumbnailStore) => {
  const app = new Hono();
  const cache = new RenderedCache();
  // Media playlists span the DVR window (hours): rendered incrementally, old segments' text cached.
  const mediaRenderer = new MediaPlaylistRenderer();

  const count = (kind: string, res: Response): Response => {
    metrics.viewerRequests.inc({ kind, status: `${String(res.status)[0]}xx` });
    return res;
  };

  const blocked = async (kind: "playlist" | "part", wait: Promise<boolean>, signal: AbortSignal): Promise<boolean> => {
    metrics.blockedRequests.inc();
    const started = performance.now();
    let ok = false;
    try {
      ok = await wait;
      return ok;
    } finally {
      metrics.blockedRequests.dec();
      const outcome = ok ? "ready" : signal.aborted ? "aborted" : "timeout";
      metrics.blockingWait.observe({ kind, outcome }, (performance.now() - started) / 1000);
    }
  };

  app.get("/live/streams", (c) =>
    c.json(
      registry
        .list()
        .filter((s) => !s.ended)
        .map((s) => ({
          id: s.id,
          startedAt: new Date(s.startedAt).toISOString(),
          renditions: registry.activeRenditions(s).map((r) => r.name),
          playlist: `/live/${s.id}/master.m3u8`,
        })),
    ),
  );

  app.get("/live/:id/*", async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return count("invalid", jsonError(400, "invalid stream id", { pattern: STREAM_ID_PATTERN.source }));
    const url = new URL(c.req.url);
    const rest = url.pathname.slice(`/live/${id}/`.length);
    const resource = parseStreamPath(rest);
    if (!resource) return count("invalid", jsonError(404, "no such resource", { path: url.pathname }));
    if (resource.kind === "thumbnail") return count("thumbnail", await thumbnailResponse(c.req.raw, id, thumbnails));
    const stream = registry.get(id);
    if (!stream) return count(resource.kind, jsonError(404, "stream not found", { stream: id }, 1));
    const timing = { targetDuration: stream.manifest.targetDuration, partTarget: stream.manifest.partTarget };
    const life = cacheLifetimes(timing);
    const active = registry.activeRenditions(stream);

    if (resource.kind === "master") {
      // Measured bitrates change with every segment, so the multivariant is rendered per request (it is rarely fetched).
      const text = renderMultivariantPlaylist(buildMultivariantPlaylist(stream, active));
      const rendered = { text, gzip: new Uint8Array(gzipSync(text)) };
      return count("master", playlistResponse(c.req.raw, rendered, maxAge(life.playlist), stream.startedAt));
    }

    const rendition = stream.renditions.get(resource.rendition);
    if (!rendition) {
      // RFC B.1 lifetimes: a blocking playlist request's error 4 × TD, other errors 1 × TD.
      const blockingRequest = resource.kind === "playlist" && url.searchParams.has("_HLS_msn");
      const ttl = blockingRequest ? life.blockingPlaylistError : life.playlistError;
      return count(resource.kind, jsonError(404, "rendition not found", { rendition: resource.rendition }, ttl));
    }

    switch (resource.kind) {
      case "playlist": {
        const q = parseLlHlsQuery(url);
        if (!q.ok) return count("playlist", jsonError(400, q.error, {}, 1));
        const live = !rendition.ended;
        const blocking = live && q.msn !== null;
        if (blocking) {
          const msn = q.msn!;
          const lastMsn = rendition.lastComplete?.msn ?? -1;
          if (msn > lastMsn + 2) {
            return count("playlist", jsonError(400, "_HLS_msn is more than two segments ahead", { lastMsn }, 1));
          }
          if (q.part !== null) {
            const lp = rendition.lastPart() ?? { msn: 0, part: -1 };
            const perSegment = Math.ceil((rendition.window.segmentDuration - 1e-3) / timing.partTarget);
            const ahead = msn === lp.msn ? q.part - lp.part : (msn - lp.msn) * perSegment + q.part - lp.part;
            if (ahead > advancePartLimit(timing)) {
              return count("playlist", jsonError(400, "_HLS_part is beyond the advance part limit", { lastMsn: lp.msn, lastPart: lp.part }, 1));
            }
          }
          const ready = () => {
            if (rendition.ended) return true;
            if (q.part === null) return (rendition.lastComplete?.msn ?? -1) >= msn;
            const lp = rendition.lastPart();
            return lp !== null && (lp.msn > msn || (lp.msn === msn && lp.part >= q.part));
          };
          const ok = await blocked("playlist", rendition.waitFor(ready, blockingTimeoutMs(timing), c.req.raw.signal), c.req.raw.signal);
          if (!ok) {
            const res = jsonError(503, "playlist update not available within 3 target durations", { msn, part: q.part });
            res.headers.set("retry-after", String(timing.targetDuration));
            return count("playlist", res);
          }
        }
        const skip = live ? q.skip : null;
        const siblings = registry.activeRenditions(stream);
        const rendered = cache.getRendered(`${id}/${stream.sessionId}/${rendition.name}/${skip ?? ""}`, streamVersion(stream), () =>
          mediaRenderer.render(rendition, siblings, skip),
        );
        const cc = maxAge(blocking ? life.blockingPlaylist : rendition.ended ? life.immutableMedia : life.playlist);
        return count("playlist", playlistResponse(c.req.raw, rendered, cc, rendition.lastModifiedMs));
      }
      case "init": {
        const bytes = await rendition.readInit(resource.version);
        if (!bytes) return count("init", jsonError(404, "init segment not found", {}, timing.targetDuration));
        return count("init", mediaResponse(bytes, MIME.init, IMMUTABLE));
      }
      case "segment": {
        const bytes = await rendition.readSegment(resource.msn);
        if (!bytes) return count("segment", jsonError(404, "segment not found", { msn: resource.msn }, timing.targetDuration));
        return count("segment", mediaResponse(bytes, MIME.media, IMMUTABLE));
      }
      case "part": {
        const { msn, part } = resource;
        let bytes = await rendition.readPart(msn, part);
        if (bytes) return count("part", mediaResponse(bytes, MIME.media, IMMUTABLE));
        const hint = rendition.nextPart();
        if (!hint || hint.msn !== msn || hint.part !== part) {
          // Never hinted: 404 at once (RFC §6.2.6).
          return count("part", jsonError(404, "part not found", { msn, part }, life.hintedMediaError));
        }
        // A hinted part: hold the request until the whole part exists, then send it in one go.
        const settled = () => rendition.findSegment(msn)?.parts[part] !== undefined || gone(rendition, msn, part);
        const ok = await blocked("part", rendition.waitFor(settled, blockingTimeoutMs(timing), c.req.raw.signal), c.req.raw.signal);
        bytes = ok ? await rendition.readPart(msn, part) : null;
        if (bytes) return count("part", mediaResponse(bytes, MIME.media, IMMUTABLE));
        if (!ok) return count("part", jsonError(503, "hinted part not available within 3 target durations", { msn, part }));
        return count("part", jsonError(404, "hinted part was never published", { msn, part }, life.hintedMediaError));
      }
    }
  });

  return app;
};

/** True once a part can no longer appear: its segment closed without it, or the stream moved past. */
const gone = (r: RenditionState, msn: number, part: number): boolean => {
  if (r.ended) return true;
  const seg = r.findSegment(msn);
  if (seg) return seg.complete && part >= seg.parts.length;
  const lp = r.lastPart();
  return lp !== null && lp.msn > msn;
};
