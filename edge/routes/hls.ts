import { Hono } from "hono";
import { clientCacheControl, deliver, isPlaylist, mimeOf, type Delivery, type DeliveryDepsOf } from "../hls/deliver.ts";
import { resolveEdgeObject, type EdgeObject } from "../hls/edge-object.ts";
import { gzipOnce } from "../hls/gzip-once.ts";
import { jsonError } from "../../shared/http/json-error.ts";
import { isStreamId } from "../../shared/ids.ts";
import { accessUnknown, checkPlaybackToken, refuseDirect, splitPlaybackToken } from "../streams/playback-access.ts";
import { streamVisibility, type Forward } from "../streams/visibility.ts";

const ageOf = (fetchedAt: number, now: number): string => String(Math.max(0, Math.floor((now - fetchedAt) / 1000)));

const respond = async (req: Request, object: EdgeObject, delivery: Delivery, now: number): Promise<Response> => {
  if (delivery.kind === "timeout") {
    return jsonError(503, "not available within 3 target durations", { waitedMs: delivery.waitedMs }, { "retry-after": String(delivery.targetDuration) });
  }
  if (delivery.kind === "upstream-error") return jsonError(502, "origin unreachable", { detail: delivery.error });
  const { fetched, outcome, ttl } = delivery;
  const headers = new Headers({
    "content-type": mimeOf(object, fetched),
    "cache-control": clientCacheControl(object, fetched.status, ttl),
    age: ageOf(fetched.fetchedAt, now),
    "x-cascade-cache": outcome,
  });
  const thumbnail = object.resource.kind === "thumbnail";
  if (fetched.lastModified && (isPlaylist(object) || thumbnail)) headers.set("last-modified", fetched.lastModified);
  if (thumbnail && fetched.status === 200 && fetched.etag) {
    headers.set("etag", fetched.etag);
    // A page polling the thumbnail revalidates it for free while it has not changed.
    const inm = req.headers.get("if-none-match");
    if (inm && inm.split(",").some((v) => v.trim().replace(/^W\//, "") === fetched.etag)) return new Response(null, { status: 304, headers });
  }
  if (isPlaylist(object)) {
    headers.set("vary", "Accept-Encoding");
    if (/\bgzip\b/.test(req.headers.get("accept-encoding") ?? "")) {
      // RFC 8216bis B.1, §6.2.1. Compressed once per playlist version and sent as is ("manual").
      const gz = await gzipOnce(fetched);
      headers.set("content-encoding", "gzip");
      headers.set("content-length", String(gz.byteLength));
      return new Response(req.method === "HEAD" ? null : (gz as Uint8Array<ArrayBuffer>), { status: fetched.status, headers, encodeBody: "manual" });
    }
  } else {
    headers.set("content-length", String(fetched.body.byteLength));
  }
  const body = req.method === "HEAD" ? null : (fetched.body as Uint8Array<ArrayBuffer>);
  return new Response(body, { status: fetched.status, headers });
};

export interface HlsRoutesOptions {
  /** How a forwarding edge (CONTROL_PLANE_URL) asks the control plane for a stream's visibility; `fetch` unless given. */
  forward?: Forward;
}

/**
 * `/hls/<streamId>/…`: the origin's `/live/<streamId>/…` through cache and coalescing; a private
 * stream only as `/hls/<streamId>/~<token>/…` (edge/streams/playback-access.ts).
 */
export const hlsRoutes = (deps: DeliveryDepsOf, options: HlsRoutesOptions = {}) => {
  const app = new Hono<{ Bindings: Env }>();
  app.on(["GET", "HEAD"], "/hls/:streamId/*", async (c) => {
    const streamId = c.req.param("streamId");
    const url = new URL(c.req.url);
    const { token, rest } = splitPlaybackToken(url.pathname.slice(`/hls/${streamId}/`.length));
    if (!isStreamId(streamId)) return jsonError(400, "invalid stream id", { path: url.pathname });
    if (token !== null) {
      const checked = await checkPlaybackToken(c.env, token, streamId, url.pathname);
      if (!checked.ok) return checked.response;
    }
    const resolved = resolveEdgeObject(streamId, rest, url.searchParams);
    if (!resolved.ok) return jsonError(resolved.status, resolved.error, { path: url.pathname });
    if (token === null) {
      let visibility;
      try {
        visibility = await streamVisibility(c.env, streamId, options.forward);
      } catch (err) {
        return accessUnknown(err, url.pathname);
      }
      const refused = refuseDirect(visibility, url.pathname);
      if (refused) return refused;
    }
    const d = deps(c);
    const delivery = await deliver(resolved.object, d);
    return respond(c.req.raw, resolved.object, delivery, d.now());
  });
  return app;
};
