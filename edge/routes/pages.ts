import { Hono } from "hono";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import type { EdgeEnv } from "../env.ts";
import { jsonError } from "../http/json-error.ts";
import { directoryPage } from "../pages/directory-page.ts";
import { HLS_JS_PATH, HLS_JS_SOURCE } from "../pages/hls-asset.ts";
import { contentSecurityPolicy, cspNonce, htmlResponse } from "../pages/html.ts";
import { fetchLiveStreams } from "../pages/live-streams.ts";
import { watchPage } from "../pages/watch-page.ts";

export interface PageRoutesOptions {
  /** How the edge reaches the origin (the app's `upstream`): `fetch` in production, a stand-in in tests. */
  upstream?: (request: Request) => Promise<Response>;
}

/** The player (`/watch/<id>`), the directory (`/`), `/api/v1/live` and the bundled hls.js. */
export const pageRoutes = (options: PageRoutesOptions = {}) => {
  const upstream = options.upstream ?? ((req: Request) => fetch(req));
  const app = new Hono<{ Bindings: EdgeEnv }>();

  app.get(HLS_JS_PATH, () =>
    new Response(HLS_JS_SOURCE, {
      headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=31536000, immutable", "content-encoding": "gzip" },
    }),
  );

  app.get("/watch/:streamId", (c) => {
    const streamId = c.req.param("streamId");
    if (!isStreamId(streamId)) return jsonError(400, "invalid stream id", { pattern: STREAM_ID_PATTERN.source });
    const nonce = cspNonce();
    // The page is the same for every viewer but carries a per-response nonce: not cached.
    return htmlResponse(watchPage(streamId, { nonce }), { csp: contentSecurityPolicy({ nonce, media: true }), cacheControl: "no-store" });
  });

  app.get("/", async (c) => {
    const result = await fetchLiveStreams(upstream, c.env.ORIGIN_URL);
    const nonce = cspNonce();
    return htmlResponse(directoryPage(result, { nonce }), {
      status: result.ok ? 200 : 502,
      csp: contentSecurityPolicy({ nonce }),
      cacheControl: result.ok ? "public, max-age=2" : "no-store",
    });
  });

  app.get("/api/v1/live", async (c) => {
    const result = await fetchLiveStreams(upstream, c.env.ORIGIN_URL);
    if (!result.ok) return jsonError(502, "origin unreachable", { detail: result.error });
    const body = result.streams.map((s) => ({
      id: s.id,
      startedAt: s.startedAt,
      renditions: s.renditions,
      watch: `/watch/${s.id}`,
      playlist: `/hls/${s.id}/master.m3u8`,
    }));
    return new Response(JSON.stringify(body), {
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "public, max-age=2", "access-control-allow-origin": "*" },
    });
  });

  return app;
};
