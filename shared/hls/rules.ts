/** LL-HLS numbers derived from the target duration and part target (RFC 8216bis §4.4.3.8, B.1). */

export interface LlHlsTiming {
  targetDuration: number;
  partTarget: number;
}

/** Apple AUTH 14.3: PART-HOLD-BACK ≥ 3 × PART-TARGET (rounded up to the ms: rounding down would break the rule). */
export const partHoldBack = (t: LlHlsTiming): number => Math.ceil(3 * t.partTarget * 1000 - 1e-6) / 1000;
/** RFC §4.4.3.8: CAN-SKIP-UNTIL ≥ 6 × TD. */
export const canSkipUntil = (t: LlHlsTiming): number => 6 * t.targetDuration;
/** RFC §4.4.3.8: HOLD-BACK ≥ 3 × TD. */
export const holdBack = (t: LlHlsTiming): number => 3 * t.targetDuration;
/** RFC §6.2.5.2: parts a request may ask ahead of the last one before a 400. */
export const advancePartLimit = (t: LlHlsTiming): number => (t.partTarget < 1 ? Math.floor(3 / t.partTarget) : 3);
/** RFC §6.2.5.2: a blocking request unsatisfied after this long gets a 503. */
export const blockingTimeoutMs = (t: LlHlsTiming): number => 3 * t.targetDuration * 1000;
/** RFC §6.2.2: EXT-X-PART tags older than this (from the playlist end) are dropped. */
export const partTagWindow = (t: LlHlsTiming): number => 3 * t.targetDuration;

/** RFC B.1 cache lifetimes, in seconds. */
export const cacheLifetimes = (t: LlHlsTiming) => ({
  blockingPlaylist: 6 * t.targetDuration,
  blockingPlaylistError: 4 * t.targetDuration,
  playlist: Math.max(0.5 * t.targetDuration, 0),
  playlistError: t.targetDuration,
  hintedMedia: 6 * t.targetDuration,
  hintedMediaError: t.targetDuration,
  immutableMedia: 14 * 24 * 3600,
});
