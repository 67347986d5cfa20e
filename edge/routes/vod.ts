/**
 * `/vod/<recordingId>/…`: finished recordings straight from R2 (the RECORDINGS bucket), through
 * the Cache API. Only the recording layout is served (edge/recordings/layout.ts: master, media
 * playlists, inits, segments, poster; never the archived manifest) and only for recordings whose
 * row is `ready` (404 for every other status, for deleted and for unknown ones). Media and poster
 * answer Range requests (206, 416); everything has an ETag (304 on If-None-Match); media is
 * immutable, playlists live a minute; CORS is open for players on other origins, as for /hls.
 * A private stream's recordings are served only as `/vod/<recordingId>/~<token>/…` with a playback
 * token for that stream (edge/streams/playback-access.ts); the cache key never holds the token.
 */
import { Hono } from "hono";
import { cors } from "hono/cors";
import { MIME } from "../../shared/urls.ts";
import { jsonError } from "../../shared/http/json-error.ts";
import { etagMatches, parseByteRange } from "../recordings/byte-range.ts";
import { isRecordingId, parseRecordingPath, recordingKey, type RecordingResource } from "../recordings/layout.ts";
import { isReadyCached, rememberReady } from "../recordings/status-cache.ts";
import { accessUnknown, checkPlaybackToken, refuseDirect, splitPlaybackToken } from "../streams/playback-access.ts";
import { recordingVisibility } from "../streams/visibility.ts";

export interface VodRoutesOptions {
  /** The cache to use; `caches.default` unless given. */
  cache?: () => Promise<Cache>;
}

/** Seconds clients and the edge keep each kind: media never changes, playlists are rewritten only by a re-finalise. */
export const VOD_LIFETIMES = { media: 14 * 24 * 3600, playlist: 60, poster: 300 } as const;

type Served = Exclude<RecordingResource, { kind: "manifest" }>;

const kindOf = (r: Served) => {
  switch (r.kind) {
    case "master":
    case "playlist":
      return { type: MIME.playlist, ttl: VOD_LIFETIMES.playlist, ranges: false, cacheControl: `public, max-age=${VOD_LIFETIMES.playlist}` };
    case "init":
      return { type: MIME.init, ttl: VOD_LIFETIMES.media, ranges: true, cacheControl: `public, max-age=${VOD_LIFETIMES.media}, immutable` };
    case "segment":
      return { type: MIME.media, ttl: VOD_LIFETIMES.media, ranges: true, cacheControl: `public, max-age=${VOD_LIFETIMES.media}, immutable` };
    case "poster":
      return { type: MIME.thumbnail, ttl: VOD_LIFETIMES.poster, ranges: true, cacheControl: `public, max-age=${VOD_LIFETIMES.poster}` };
  }
};

const PATH_RE = /^\/vod\/([^/]*)\/(.*)$/;
const CACHE_BASE = "https://vod-cache.cascade.internal/";
const notFound = (what: string, path: string) => jsonError(404, what, { path });

/** Whether the recording may be served: its row says `ready` (remembered for a few seconds). */
const isReady = async (db: D1Database, id: string): Promise<boolean> => {
  if (isReadyCached(id)) return true;
  const row = await db.prepare("SELECT status FROM recordings WHERE id = ?1").bind(id).first<{ status: string }>();
  if (row?.status !== "ready") return false;
  rememberReady(id);
  return true;
};

export const vodRoutes = (o: VodRoutesOptions = {}) => {
  const app = new Hono<{ Bindings: Env }>();
  let cache: Promise<Cache> | null = null;
  app.use("/vod/*", cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], exposeHeaders: ["Accept-Ranges", "Content-Length", "Content-Range", "ETag", "X-Cascade-Cache"], maxAge: 86_400 }));
  app.on(["GET", "HEAD"], "/vod/*", async (c) => {
    // The raw path: percent-encodings stay encoded and fail the layout's patterns.
    const path = new URL(c.req.url).pathname;
    const m = PATH_RE.exec(path);
    if (!m) return notFound("no such resource", path);
    const [, id, tail] = m as unknown as [string, string, string];
    if (!isRecordingId(id)) return jsonError(400, "invalid recording id", { path });
    // `~<token>/` in front of the path: a signed URL for a private stream's recording.
    const { token, rest } = splitPlaybackToken(tail);
    const resource = parseRecordingPath(rest);
    if (!resource || resource.kind === "manifest") return notFound("no such resource", path);
    if (!c.env.DB || !c.env.RECORDINGS) return jsonError(503, "recordings are not configured on this edge (D1 binding DB, R2 binding RECORDINGS)");
    let access;
    try {
      access = await recordingVisibility(c.env.DB, id);
    } catch (err) {
      return accessUnknown(err, path);
    }
    if (!access) return notFound("recording not found", path);
    if (token !== null) {
      const checked = await checkPlaybackToken(c.env, token, access.streamId, path);
      if (!checked.ok) return checked.response;
    } else {
      const refused = refuseDirect(access.visibility, path);
      if (refused) return refused;
    }
    if (!(await isReady(c.env.DB, id))) return notFound("recording not found", path);

    const kind = kindOf(resource);
    const req = c.req.raw;
    const head = req.method === "HEAD";
    const headers = new Headers({ "content-type": kind.type, "cache-control": kind.cacheControl });
    if (kind.ranges) headers.set("accept-ranges", "bytes");
    const gzip = !kind.ranges && /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
    if (!kind.ranges) headers.set("vary", "Accept-Encoding");

    cache ??= o.cache ? o.cache() : Promise.resolve(caches.default);
    const store = await cache;
    const key = recordingKey(id, rest);
    const cacheKey = new Request(`${CACHE_BASE}${key}`);
    const conditional = req.headers.has("if-none-match") || (kind.ranges && req.headers.has("range"));

    // What is known before the body: from the cache, from an R2 head (conditional requests), or from the R2 get itself.
    let meta: { etag: string; size: number; lastModified: string | null };
    let object: R2ObjectBody | null = null;
    const hit = await store.match(cacheKey);
    // A cached body is streamed as it is; read whole only for a range, or when its length is unknown.
    let cached: ArrayBuffer | null = null;
    if (hit) {
      headers.set("x-cascade-cache", "HIT");
      const length = hit.headers.get("content-length");
      if (length === null) cached = await hit.arrayBuffer();
      meta = { etag: hit.headers.get("etag") ?? "", size: cached ? cached.byteLength : Number(length), lastModified: hit.headers.get("last-modified") };
    } else {
      headers.set("x-cascade-cache", "MISS");
      const found = conditional || head ? await c.env.RECORDINGS.head(key) : (object = await c.env.RECORDINGS.get(key));
      if (!found) return notFound("no such object in this recording", path);
      meta = { etag: found.httpEtag, size: found.size, lastModified: found.uploaded.toUTCString() };
    }
    const bodyless = async (status: number) => {
      if (hit && !hit.bodyUsed) await hit.body?.cancel();
      return new Response(null, { status, headers });
    };
    headers.set("etag", meta.etag);
    if (meta.lastModified) headers.set("last-modified", meta.lastModified);
    if (etagMatches(req.headers.get("if-none-match"), meta.etag)) return bodyless(304);

    const ifRange = req.headers.get("if-range");
    const range = kind.ranges && (ifRange === null || ifRange === meta.etag) ? parseByteRange(req.headers.get("range"), meta.size) : ({ kind: "none" } as const);
    if (range.kind === "unsatisfiable") {
      headers.set("content-range", `bytes */${meta.size}`);
      headers.set("cache-control", "no-store");
      return bodyless(416);
    }
    if (range.kind === "range") {
      const length = range.end - range.start + 1;
      headers.set("content-range", `bytes ${range.start}-${range.end}/${meta.size}`);
      headers.set("content-length", String(length));
      if (head) return bodyless(206);
      if (hit) return new Response((cached ?? (await hit.arrayBuffer())).slice(range.start, range.end + 1), { status: 206, headers });
      const part = await c.env.RECORDINGS.get(key, { range: { offset: range.start, length } });
      if (!part) return notFound("no such object in this recording", path);
      return new Response(part.body, { status: 206, headers });
    }

    if (gzip) headers.set("content-encoding", "gzip");
    else headers.set("content-length", String(meta.size));
    if (head) return bodyless(200);
    if (hit) return new Response(cached ?? hit.body, { status: 200, headers });
    object ??= await c.env.RECORDINGS.get(key);
    if (!object) return notFound("no such object in this recording", path);
    // One branch to the client, one into the cache (in the background).
    const [toClient, toCache] = object.body.tee();
    const stored = new Headers({ "content-type": kind.type, "cache-control": `public, max-age=${kind.ttl}`, etag: meta.etag, "content-length": String(meta.size) });
    if (meta.lastModified) stored.set("last-modified", meta.lastModified);
    c.executionCtx.waitUntil(store.put(cacheKey, new Response(toCache, { headers: stored })).catch(() => undefined));
    return new Response(toClient, { status: 200, headers });
  });
  return app;
};
