/** Order statistics for latency samples (nearest-rank percentiles: every reported value was observed). */

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export const percentile = (sorted: readonly number[], p: number): number => {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
};

export const summarize = (values: readonly number[]): Summary => {
  const sorted = Float64Array.from(values).sort();
  const arr = Array.from(sorted);
  const sum = arr.reduce((a, v) => a + v, 0);
  return {
    count: arr.length,
    min: arr[0] ?? Number.NaN,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.at(-1) ?? Number.NaN,
    mean: arr.length ? sum / arr.length : Number.NaN,
  };
};

/** The middle value (the mean of the two middle values for an even count), for small sets of repeated runs. */
export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Fixed decimals, with "–" for a missing value so tables never show NaN. */
export const fmt = (value: number, digits = 2): string => (Number.isFinite(value) ? value.toFixed(digits) : "–");

export const ratio = (a: number, b: number, digits = 2): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(digits)}×` : "–");

/** A tally as `key×count, …` (empty string when empty); `byCount`: largest first; `spaced`: `key ×count`. */
export const countsText = (counts: Record<string, number>, o: { byCount?: boolean; spaced?: boolean } = {}): string => {
  const entries = Object.entries(counts);
  if (o.byCount) entries.sort((a, b) => b[1] - a[1]);
  return entries.map(([k, v]) => `${k}${o.spaced ? " " : ""}×${v}`).join(", ");
};
