import { STREAM_ID_PATTERN } from "../../shared/ids.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

/**
 * A random id of `length` lowercase base32 characters (5 bits each; 12 characters = 60 bits).
 * Ids appear in URLs (`/hls/<id>/…`), so they always satisfy STREAM_ID_PATTERN.
 */
export const randomId = (length = 12): string => {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const b of bytes) out += BASE32[b & 31];
  return out;
};

export const newStreamId = (): string => {
  const id = randomId(12);
  if (!STREAM_ID_PATTERN.test(id)) throw new Error("generated stream id does not satisfy STREAM_ID_PATTERN");
  return id;
};
