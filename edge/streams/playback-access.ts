/**
 * The delivery routes' gate for private streams. Two ways in:
 *
 * - direct, `/hls/<stream>/<path>` and `/vod/<recording>/<path>`: anyone, unless the stream is
 *   private (403, decided before the cache or the origin is touched);
 * - signed, `/hls/<stream>/~<token>/<path>` and `/vod/<recording>/~<token>/<path>`: whoever holds a
 *   genuine, unexpired token for that stream, whatever its visibility. Needs no D1 lookup for live.
 *
 * Either way the object served (and its cache and coalescing key) is the same `<stream>/<path>`: the
 * token never reaches the cache key, so signed viewers share one upstream fill per object.
 */
import { PLAYBACK_TOKEN_PREFIX, verifyPlaybackToken, type PlaybackClaims } from "../../shared/playback-token.ts";
import { jsonError } from "../../shared/http/json-error.ts";
import type { Visibility } from "./model.ts";
import { playbackKey } from "./playback-keys.ts";

/** `~<token>/<rest>` → its parts; anything else is a direct path. */
export const splitPlaybackToken = (rest: string): { token: string | null; rest: string } => {
  if (!rest.startsWith(PLAYBACK_TOKEN_PREFIX)) return { token: null, rest };
  const slash = rest.indexOf("/");
  if (slash < 0) return { token: rest.slice(PLAYBACK_TOKEN_PREFIX.length), rest: "" };
  return { token: rest.slice(PLAYBACK_TOKEN_PREFIX.length, slash), rest: rest.slice(slash + 1) };
};

const TOKEN_ERRORS = {
  malformed: { status: 400, error: "malformed playback token" },
  signature: { status: 403, error: "invalid playback token" },
  stream: { status: 403, error: "the playback token is for another stream" },
  expired: { status: 403, error: "the playback token has expired" },
} as const;

export type TokenCheck = { ok: true; claims: PlaybackClaims } | { ok: false; response: Response };

/** A token presented for `streamId`: its claims, or the JSON answer that refuses it. */
export const checkPlaybackToken = async (env: Env, token: string, streamId: string, path: string, nowS = Math.floor(Date.now() / 1000)): Promise<TokenCheck> => {
  const key = await playbackKey(env);
  if (!key.ok) return { ok: false, response: jsonError(503, key.error, { path }) };
  const verdict = await verifyPlaybackToken(key.key, token, { streamId, nowS });
  if (verdict.ok) return verdict;
  const e = TOKEN_ERRORS[verdict.reason];
  return { ok: false, response: jsonError(e.status, e.error, { path }) };
};

/** 403 for a private stream reached without a token; null when the direct path may be served. */
export const refuseDirect = (visibility: Visibility | null, path: string): Response | null =>
  visibility === "private" ? jsonError(403, "this stream is private: play it through a signed playback URL", { path }) : null;

/** When the stream's visibility cannot be learnt: refuse rather than guess. */
export const accessUnknown = (err: unknown, path: string): Response =>
  jsonError(503, "cannot check the stream's visibility right now", { path, detail: err instanceof Error ? err.message : String(err) }, { "retry-after": "2" });
