/**
 * Signed playback tokens for private streams: `<streamId>.<expires>[.<viewer>].<signature>` where
 * `expires` is unix seconds, `viewer` an optional opaque viewer/session id and `signature` is
 * base64url(HMAC-SHA256(key, "cascade-playback/v1\n<streamId>\n<expires>\n<viewer>")).
 *
 * Every part is URL-path safe (stream ids, digits, base64url), so the token travels as one path
 * segment (`/hls/<streamId>/~<token>/master.m3u8`) and the relative URIs inside playlists resolve
 * below it: players never have to carry a query string from one request to the next.
 * WebCrypto only, so the edge Worker, the origin and tests share it.
 */
import { isStreamId, parseUint } from "./ids.ts";

const encoder = new TextEncoder();

/** Shortest and longest lifetime a token may be minted with (seconds). */
export const PLAYBACK_TTL_MIN_S = 60;
export const PLAYBACK_TTL_MAX_S = 86_400;
export const PLAYBACK_TTL_DEFAULT_S = 3_600;
/** Shortest secret accepted as PLAYBACK_SECRET: HMAC is only as strong as its key. */
export const MIN_PLAYBACK_SECRET_LENGTH = 32;
/** Opaque viewer/session ids bound into a token (a user id, a session id …). */
export const PLAYBACK_VIEWER_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** Longer than any token we mint (64 + 1 + 15 + 1 + 64 + 1 + 43): anything longer is refused unread. */
export const PLAYBACK_TOKEN_MAX_LENGTH = 200;
/** The path segment prefix that marks a token in a playback URL (never the first character of a rendition). */
export const PLAYBACK_TOKEN_PREFIX = "~";

/** The label that separates the playback key derived from another secret from every other use of it. */
const DERIVE_LABEL = "cascade/playback-url-key/v1";
const MESSAGE_LABEL = "cascade-playback/v1";
const SIGNATURE_RE = /^[A-Za-z0-9_-]{43}$/;
const EXPIRES_RE = /^[1-9][0-9]{0,14}$/;

export interface PlaybackClaims {
  streamId: string;
  /** Unix seconds after which the token is refused. */
  expires: number;
  viewer: string | null;
}

export type PlaybackVerdict =
  | { ok: true; claims: PlaybackClaims }
  /**
   * malformed: not a token at all (wrong shape, characters, lengths); signature: well-formed but not
   * signed with our key (tampered, forged, truncated within the base64url alphabet); stream: a genuine
   * token for another stream; expired: a genuine token past its expiry.
   */
  | { ok: false; reason: "malformed" | "signature" | "stream" | "expired" };

const toBase64Url = (bytes: Uint8Array): string => {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
};

/** Only the canonical encoding of 32 bytes: 43 characters whose last one carries no stray bits. */
const signatureBytes = (text: string): Uint8Array<ArrayBuffer> | null => {
  if (!SIGNATURE_RE.test(text)) return null;
  const bytes = Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/") + "="), (c) => c.charCodeAt(0));
  // Two spellings of one signature would make two cache-distinct yet equally valid tokens.
  return toBase64Url(bytes) === text ? bytes : null;
};

const message = (c: PlaybackClaims): Uint8Array<ArrayBuffer> => new Uint8Array(encoder.encode(`${MESSAGE_LABEL}\n${c.streamId}\n${c.expires}\n${c.viewer ?? ""}`));

/** An HMAC-SHA256 key for signing and verifying playback tokens. */
export const importPlaybackKey = (secret: string | Uint8Array<ArrayBuffer>): Promise<CryptoKey> =>
  crypto.subtle.importKey("raw", typeof secret === "string" ? new Uint8Array(encoder.encode(secret)) : secret, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);

/**
 * Key material derived from another secret (the edge's JWT_SECRET) under a label of its own, so a
 * deployment without PLAYBACK_SECRET still signs URLs, and nothing signed for one purpose verifies
 * for the other.
 */
export const derivePlaybackSecret = async (secret: string): Promise<Uint8Array<ArrayBuffer>> => {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(DERIVE_LABEL)));
};

export const signPlaybackToken = async (key: CryptoKey, claims: PlaybackClaims): Promise<string> => {
  if (!isStreamId(claims.streamId)) throw new Error("invalid stream id");
  if (!Number.isSafeInteger(claims.expires) || claims.expires <= 0) throw new Error("invalid expiry");
  if (claims.viewer !== null && !PLAYBACK_VIEWER_PATTERN.test(claims.viewer)) throw new Error("invalid viewer id");
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, message(claims)));
  return [claims.streamId, String(claims.expires), ...(claims.viewer !== null ? [claims.viewer] : []), toBase64Url(sig)].join(".");
};

/** The claims a token states, unverified; null when it is not shaped like a token. */
export const parsePlaybackToken = (token: string): { claims: PlaybackClaims; signature: Uint8Array<ArrayBuffer> } | null => {
  if (token.length > PLAYBACK_TOKEN_MAX_LENGTH) return null;
  const parts = token.split(".");
  if (parts.length !== 3 && parts.length !== 4) return null;
  const [streamId, expiresText] = parts as [string, string];
  const viewer = parts.length === 4 ? parts[2]! : null;
  const signature = signatureBytes(parts.at(-1)!);
  if (!isStreamId(streamId) || !EXPIRES_RE.test(expiresText) || !signature) return null;
  if (viewer !== null && !PLAYBACK_VIEWER_PATTERN.test(viewer)) return null;
  const expires = parseUint(expiresText);
  if (expires === null) return null;
  return { claims: { streamId, expires, viewer }, signature };
};

/**
 * Checks a token for `streamId` at `nowS`. The signature is checked before anything the token
 * says is believed; crypto.subtle.verify compares in constant time.
 */
export const verifyPlaybackToken = async (key: CryptoKey, token: string, expected: { streamId: string; nowS: number }): Promise<PlaybackVerdict> => {
  const parsed = parsePlaybackToken(token);
  if (!parsed) return { ok: false, reason: "malformed" };
  const genuine = await crypto.subtle.verify("HMAC", key, parsed.signature, message(parsed.claims));
  if (!genuine) return { ok: false, reason: "signature" };
  if (parsed.claims.streamId !== expected.streamId) return { ok: false, reason: "stream" };
  if (parsed.claims.expires <= expected.nowS) return { ok: false, reason: "expired" };
  return { ok: true, claims: parsed.claims };
};
