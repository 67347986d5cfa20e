import { describe, expect, it } from "vitest";
import { BUFFER_BOUNDS_S, bucketOf, emptyCounts, LATENCY_BOUNDS_MS, quantile } from "./histogram.ts";
import { addSample, emptyPlayerStats, mergeStats, parsePlayerStats } from "./player-stats.ts";

describe("fixed-bucket histograms", () => {
  it("bucket bounds are inclusive upper bounds; above the last goes to the overflow bucket", () => {
    expect(bucketOf(LATENCY_BOUNDS_MS, 0)).toBe(0);
    expect(bucketOf(LATENCY_BOUNDS_MS, 100)).toBe(0);
    expect(bucketOf(LATENCY_BOUNDS_MS, 100.5)).toBe(1);
    expect(bucketOf(LATENCY_BOUNDS_MS, 600_000)).toBe(LATENCY_BOUNDS_MS.length - 1);
    expect(bucketOf(LATENCY_BOUNDS_MS, 600_001)).toBe(LATENCY_BOUNDS_MS.length);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i++) expect(LATENCY_BOUNDS_MS[i]!).toBeGreaterThan(LATENCY_BOUNDS_MS[i - 1]!);
    for (let i = 1; i < BUFFER_BOUNDS_S.length; i++) expect(BUFFER_BOUNDS_S[i]!).toBeGreaterThan(BUFFER_BOUNDS_S[i - 1]!);
  });

  it("quantiles interpolate inside the bucket; none without values; the overflow answers the last bound", () => {
    const counts = emptyCounts(LATENCY_BOUNDS_MS);
    expect(quantile(LATENCY_BOUNDS_MS, counts, 0.5)).toBeNull();
    // 100 values uniform over (2000, 2250]: all in one bucket.
    counts[bucketOf(LATENCY_BOUNDS_MS, 2100)] = 100;
    expect(quantile(LATENCY_BOUNDS_MS, counts, 0.5)).toBe(2125);
    expect(quantile(LATENCY_BOUNDS_MS, counts, 0.95)).toBe(2237.5);
    const over = emptyCounts(LATENCY_BOUNDS_MS);
    over[LATENCY_BOUNDS_MS.length] = 3;
    expect(quantile(LATENCY_BOUNDS_MS, over, 0.5)).toBe(600_000);
  });

  it("merging isolates' stats is adding; parsing refuses malformed or impossible batches", () => {
    const a = emptyPlayerStats();
    const b = emptyPlayerStats();
    addSample(a, { latencyMs: 1500, bufferS: 2, errors: 1 });
    addSample(b, { latencyMs: 1500 });
    addSample(b, { errors: 2 });
    mergeStats(a, b);
    expect(a.reports).toBe(3);
    expect(a.errors).toBe(3);
    expect(a.latency[bucketOf(LATENCY_BOUNDS_MS, 1500)]).toBe(2);
    expect(parsePlayerStats(JSON.parse(JSON.stringify(a)))).toEqual(a);
    expect(typeof parsePlayerStats({ ...a, latency: a.latency.slice(1) })).toBe("string");
    expect(typeof parsePlayerStats({ ...a, reports: 1 })).toBe("string");
    expect(typeof parsePlayerStats({ ...a, errors: 0.5 })).toBe("string");
  });
});
