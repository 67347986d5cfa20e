import { Hono } from "hono";
import { isStreamId, STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { jsonError } from "../../shared/http/json-error.ts";
import { creatorPage } from "../pages/creator-page.ts";
import { listedOnly, loadDirectory, unlistedLive } from "../pages/directory-data.ts";
import { directoryDbPage, directoryPage } from "../pages/directory-page.ts";
import { HLS_JS_PATH, HLS_JS_SOURCE } from "../pages/hls-asset.ts";
import { contentSecurityPolicy, cspNonce, htmlResponse } from "../pages/html.ts";
import { fetchLiveStreams, type LiveStreamEntry } from "../pages/live-streams.ts";
import { loginPage } from "../pages/login-page.ts";
import { watchPage, type WatchPlayback } from "../pages/watch-page.ts";
import type { Visibility } from "../streams/model.ts";
import { checkPlaybackToken } from "../streams/playback-access.ts";
import { signedStreamUrls } from "../streams/playback-input.ts";
import { streamVisibility, type Forward } from "../streams/visibility.ts";
import { edgeConfig } from "../config.ts";

/** How long the D1 directory waits for the origin's list of streams without an account. */
const UNLISTED_TIMEOUT_MS = 1500;

export interface PageRoutesOptions {
  /** How the edge reaches the origin (the app's `upstream`): `fetch` in production, a stand-in in tests. */
  upstream?: (request: Request) => Promise<Response>;
  /** How a forwarding edge asks the control plane for a stream's visibility; `fetch` unless given. */
  forward?: Forward;
}

/**
 * The player (`/watch/<id>`), the directory (`/`), sign-up/login (`/login`), the creator dashboard
 * (`/creator`), `/api/v1/live` and the bundled hls.js.
 */
export const pageRoutes = (options: PageRoutesOptions = {}) => {
  const upstream = options.upstream ?? ((req: Request) => fetch(req));
  const app = new Hono<{ Bindings: Env }>();

  app.get(HLS_JS_PATH, () =>
    new Response(HLS_JS_SOURCE, {
      headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=31536000, immutable", "content-encoding": "gzip" },
    }),
  );

  app.get("/watch/:streamId", async (c) => {
    const streamId = c.req.param("streamId");
    if (!isStreamId(streamId)) return jsonError(400, "invalid stream id", { pattern: STREAM_ID_PATTERN.source });
    const signed = c.req.query("t");
    // The page only chooses what to show; the playlist routes enforce. Unknown: the plain player
    // page, whose playlist requests are then refused (403) if the stream is private.
    const visibility: Visibility | null = await streamVisibility(c.env, streamId, options.forward).catch(() => null);
    let playback: WatchPlayback = { kind: "public" };
    let status = 200;
    if (signed !== undefined && signed !== "") {
      // `?t=<token>` from a signed watch link: play through the signed playlist URL when the token is good.
      const checked = await checkPlaybackToken(c.env, signed, streamId, `/watch/${streamId}`);
      if (checked.ok) playback = { kind: "signed", src: signedStreamUrls(streamId, signed).hls, token: signed };
      else if (visibility === "private") {
        status = checked.response.status;
        await checked.response.body?.cancel();
        playback = { kind: "private", message: "This playback link has expired or is not valid for this stream. Ask the broadcaster for a new one.", askOwner: true };
      }
    } else if (visibility === "private") {
      playback = { kind: "private", message: "This stream is private.", askOwner: true };
    }
    const nonce = cspNonce();
    // The page is the same for every viewer but carries a per-response nonce: not cached.
    // Chat emotes may be images from anywhere over https:.
    return htmlResponse(watchPage(streamId, { nonce, playback }), { status, csp: contentSecurityPolicy({ nonce, media: true, remoteImages: true }), cacheControl: "no-store" });
  });

  app.get("/", async (c) => {
    // With the control plane's database: live streams from D1 by viewers, search and category filter.
    // Without one (an edge deployed without D1): the origin's list of live streams, as before.
    // An edge that forwards the control plane (CONTROL_PLANE_URL, local multi-edge) has an empty D1: origin list too.
    const config = edgeConfig(c.env);
    // The database to ask, when this edge has the control plane's.
    const db = c.env.DB && !config.controlPlaneUrl ? c.env.DB : null;
    if (db) {
      const nonce = cspNonce();
      const csp = contentSecurityPolicy({ nonce, forms: true });
      const params = { q: c.req.query("q"), category: c.req.query("category"), cursor: c.req.query("cursor") };
      // The unfiltered first page also lists what the origin has live without an account (local keys).
      const plain = !params.q && !params.category && !params.cursor;
      const originList = plain ? fetchLiveStreams(upstream, config.primaryOrigin, UNLISTED_TIMEOUT_MS) : null;
      try {
        const data = await loadDirectory(db, params);
        const origin = await originList;
        const unlisted: LiveStreamEntry[] = origin?.ok ? await unlistedLive(db, origin.streams) : [];
        return htmlResponse(directoryDbPage(data, { nonce, unlisted }), { csp, cacheControl: "public, max-age=2" });
      } catch (err) {
        console.error(JSON.stringify({ event: "directory_db_error", error: err instanceof Error ? err.message : String(err) }));
        // The database failed: the origin's list still says what is live (less what D1 cannot vouch is public).
      }
    }
    const listed = await fetchLiveStreams(upstream, config.primaryOrigin);
    const result = listed.ok ? { ok: true as const, streams: await listedOnly(db, listed.streams) } : listed;
    const nonce = cspNonce();
    return htmlResponse(directoryPage(result, { nonce }), {
      status: result.ok ? 200 : 502,
      csp: contentSecurityPolicy({ nonce }),
      cacheControl: result.ok ? "public, max-age=2" : "no-store",
    });
  });

  // Pure client-side pages: their scripts call the JSON API with the bearer token kept in localStorage.
  // Nothing secret is in the HTML; per-response nonce, so not cached.
  app.get("/login", () => {
    const nonce = cspNonce();
    return htmlResponse(loginPage({ nonce }), { csp: contentSecurityPolicy({ nonce, connect: true }), cacheControl: "no-store" });
  });

  app.get("/creator", () => {
    const nonce = cspNonce();
    return htmlResponse(creatorPage({ nonce }), { csp: contentSecurityPolicy({ nonce, connect: true }), cacheControl: "no-store" });
  });

  app.get("/api/v1/live", async (c) => {
    const config = edgeConfig(c.env);
    const result = await fetchLiveStreams(upstream, config.primaryOrigin);
    if (!result.ok) return jsonError(502, "origin unreachable", { detail: result.error });
    const body = (await listedOnly(c.env.DB && !config.controlPlaneUrl ? c.env.DB : null, result.streams)).map((s) => ({
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
