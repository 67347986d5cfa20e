/**
 * Fixed-bucket histograms for player figures. Every isolate and the counter object use the same
 * bucket bounds, so merging is adding counts: an isolate's memory and a flush's size stay the same
 * whatever the audience, and quantiles come out of the merged counts at the end.
 */

/** Upper bounds (ms, inclusive) of the latency buckets; one more bucket holds everything above the last. */
export const LATENCY_BOUNDS_MS: readonly number[] = [
  100, 200, 300, 400, 500, 600, 700, 800, 900, 1000,
  1250, 1500, 1750, 2000, 2250, 2500, 2750, 3000,
  3500, 4000, 4500, 5000, 5500, 6000,
  7000, 8000, 9000, 10_000,
  12_000, 14_000, 16_000, 18_000, 20_000,
  25_000, 30_000, 40_000, 50_000, 60_000, 90_000, 120_000, 180_000, 300_000, 600_000,
];

/** Upper bounds (s, inclusive) of the buffer-ahead buckets. */
export const BUFFER_BOUNDS_S: readonly number[] = [0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10, 15, 20, 30, 60];

/** Counts per bucket: `bounds.length + 1` entries, the last one for values above every bound. */
export type Counts = number[];

export const emptyCounts = (bounds: readonly number[]): Counts => new Array<number>(bounds.length + 1).fill(0);

export const bucketOf = (bounds: readonly number[], value: number): number => {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
};

export const addInto = (into: Counts, from: readonly number[]): void => {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0;
};

export const total = (counts: readonly number[]): number => counts.reduce((a, b) => a + b, 0);

/**
 * The q-quantile (0 < q < 1) of the counted values, interpolated linearly inside its bucket (the
 * first bucket starts at 0); in the overflow bucket, the last bound. Null without values.
 */
export const quantile = (bounds: readonly number[], counts: readonly number[], q: number): number | null => {
  const n = total(counts);
  if (n === 0) return null;
  const rank = q * n;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c > 0 && below + c >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1]!;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      return lower + (bounds[i]! - lower) * Math.max(0, rank - below) / c;
    }
    below += c;
  }
  return bounds[bounds.length - 1]!;
};

/** Counts read from untrusted JSON: exactly `bounds.length + 1` non-negative integers, else null. */
export const parseCounts = (bounds: readonly number[], raw: unknown, max: number): Counts | null => {
  if (!Array.isArray(raw) || raw.length !== bounds.length + 1) return null;
  for (const v of raw) if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) return null;
  return raw as Counts;
};
