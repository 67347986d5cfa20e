/**
 * Benchmark settings from the environment. Every BENCH_* variable shortens or changes a benchmark
 * for development; a run with any of them set (or with --quick) is not written to bench/RESULTS.md.
 */

export const envNumber = (name: string, fallback: number, range: { min: number; max: number; integer?: boolean }): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < range.min || n > range.max || (range.integer && !Number.isInteger(n))) {
    throw new Error(`${name} must be ${range.integer ? "an integer" : "a number"} from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return n;
};

export const envIntList = (name: string, fallback: number[], range: { min: number; max: number }): number[] => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < range.min || n > range.max)) {
    throw new Error(`${name} must be a comma-separated list of integers from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return list;
};

export const envWords = (name: string, fallback: string[], allowed: readonly string[]): string[] => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const list = raw.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = list.filter((w) => !allowed.includes(w));
  if (list.length === 0 || bad.length > 0) throw new Error(`${name} must be a comma-separated list of ${allowed.join(", ")}, got "${raw}"`);
  return list;
};

/** BENCH_* variables set for this run (they make it a development run). */
export const benchOverrides = (): string[] =>
  Object.keys(process.env)
    .filter((k) => k.startsWith("BENCH_") && process.env[k] !== undefined && process.env[k] !== "")
    .sort();

export const envNumberList = (name: string, fallback: number[], range: { min: number; max: number }): number[] => {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const list = raw.split(",").map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isFinite(n) || n < range.min || n > range.max)) {
    throw new Error(`${name} must be a comma-separated list of numbers from ${range.min} to ${range.max}, got "${raw}"`);
  }
  return list;
};

export const envString = (name: string, fallback: string): string => {
  const raw = process.env[name];
  return raw === undefined || raw === "" ? fallback : raw;
};
