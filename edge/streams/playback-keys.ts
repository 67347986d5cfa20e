import { derivePlaybackSecret, importPlaybackKey, MIN_PLAYBACK_SECRET_LENGTH } from "../../shared/playback-token.ts";
import { MIN_JWT_SECRET_LENGTH } from "../accounts/user-token.ts";
import { edgeConfig } from "../config.ts";

export type PlaybackKeyResult = { ok: true; key: CryptoKey } | { ok: false; error: string };

// Importing (and deriving) a key costs more than the HMAC itself: once per secret and isolate, not
// once per segment request. A handful of entries: tests run one isolate with several configurations.
const keys = new Map<string, Promise<CryptoKey>>();
const MAX_KEYS = 4;

const cached = (id: string, make: () => Promise<CryptoKey>): Promise<CryptoKey> => {
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= MAX_KEYS) keys.clear();
    key = make();
    keys.set(id, key);
    key.catch(() => keys.delete(id));
  }
  return key;
};

/**
 * The key that signs and verifies playback tokens: PLAYBACK_SECRET when set, else one derived from
 * JWT_SECRET under a label of its own (so `npm start` needs no extra configuration and every edge
 * sharing JWT_SECRET agrees). A PLAYBACK_SECRET that is set but too short is an error rather than
 * a silent fallback: an operator who set one expects it to be used.
 */
export const playbackKey = async (env: Env): Promise<PlaybackKeyResult> => {
  const { playbackSecret: explicit, jwtSecret: jwt } = edgeConfig(env);
  if (explicit !== "") {
    if (explicit.length < MIN_PLAYBACK_SECRET_LENGTH) return { ok: false, error: `signed playback URLs are disabled: PLAYBACK_SECRET must be at least ${MIN_PLAYBACK_SECRET_LENGTH} characters` };
    return { ok: true, key: await cached(`playback:${explicit}`, () => importPlaybackKey(explicit)) };
  }
  if (jwt.length < MIN_JWT_SECRET_LENGTH) return { ok: false, error: "signed playback URLs are disabled: set PLAYBACK_SECRET (or JWT_SECRET)" };
  return { ok: true, key: await cached(`jwt:${jwt}`, async () => importPlaybackKey(await derivePlaybackSecret(jwt))) };
};
