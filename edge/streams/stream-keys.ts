import { randomToken } from "../../shared/tokens.ts";
import { bytesEqual } from "../accounts/password.ts";

/**
 * Stream keys: `sk_<stream id>_<256 random bits, base64url>`. The id part lets a key check load one
 * row and rate-limit guesses per stream; the secret part is what authorises. Only SHA-256 of the
 * whole key is stored (a 256-bit random secret needs no slow hash), compared in constant time.
 */
export const STREAM_KEY_PATTERN = /^sk_([a-z2-7]{12})_([A-Za-z0-9_-]{43})$/;

const hex = (bytes: ArrayBuffer): string => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");

export const hashStreamKey = async (key: string): Promise<string> => hex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));

/** A fresh key for `streamId` and the hash to store. The key is returned to the owner once and never kept. */
export const newStreamKey = async (streamId: string): Promise<{ key: string; hash: string }> => {
  const key = `sk_${streamId}_${randomToken(32)}`;
  if (!STREAM_KEY_PATTERN.test(key)) throw new Error("stream ids of generated keys must be 12 base32 characters");
  return { key, hash: await hashStreamKey(key) };
};

/** The stream id a well-formed key names, or null. */
export const streamIdOfKey = (key: string): string | null => STREAM_KEY_PATTERN.exec(key)?.[1] ?? null;

/** Does `key` hash to `storedHash`? Compares the digests in constant time. */
export const streamKeyMatches = async (key: string, storedHash: string): Promise<boolean> => {
  const presented = await hashStreamKey(key);
  const enc = new TextEncoder();
  return bytesEqual(enc.encode(presented), enc.encode(storedHash.padEnd(presented.length, "\0").slice(0, presented.length))) && storedHash.length === presented.length;
};
