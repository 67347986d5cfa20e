/**
 * What players report in their heartbeats beside the session id, and the compact form it travels
 * in from an isolate to the stream's counter: two histograms, an error sum and how many
 * heartbeats carried figures. Merging two of them is adding.
 */
import { addInto, BUFFER_BOUNDS_S, bucketOf, emptyCounts, LATENCY_BOUNDS_MS, parseCounts, total, type Counts } from "./histogram.ts";

/** Heartbeat field limits: anything outside is a client bug, answered 400 (the page clamps before sending). */
export const LATENCY_MS_MAX = 600_000;
export const BUFFER_S_MAX = 600;
export const ERRORS_MAX = 1_000;

/** One heartbeat's optional figures. */
export interface PlayerSample {
  /** Capture-to-display: now − PROGRAM-DATE-TIME of the frame on screen. */
  latencyMs?: number;
  /** Seconds buffered ahead of the playhead. */
  bufferS?: number;
  /** Player errors since the previous heartbeat. */
  errors?: number;
}

export interface PlayerStats {
  latency: Counts;
  buffer: Counts;
  errors: number;
  /** Heartbeats that carried at least one figure. */
  reports: number;
}

export const emptyPlayerStats = (): PlayerStats => ({ latency: emptyCounts(LATENCY_BOUNDS_MS), buffer: emptyCounts(BUFFER_BOUNDS_S), errors: 0, reports: 0 });

export const hasFigures = (s: PlayerSample): boolean => s.latencyMs !== undefined || s.bufferS !== undefined || s.errors !== undefined;

export const addSample = (into: PlayerStats, s: PlayerSample): void => {
  if (s.latencyMs !== undefined) into.latency[bucketOf(LATENCY_BOUNDS_MS, s.latencyMs)]! += 1;
  if (s.bufferS !== undefined) into.buffer[bucketOf(BUFFER_BOUNDS_S, s.bufferS)]! += 1;
  into.errors += s.errors ?? 0;
  into.reports += 1;
};

export const mergeStats = (into: PlayerStats, from: PlayerStats): void => {
  addInto(into.latency, from.latency);
  addInto(into.buffer, from.buffer);
  into.errors += from.errors;
  into.reports += from.reports;
};

/** Largest count one batch may claim: more heartbeats than any isolate could take in a flush interval. */
const COUNT_MAX = 10_000_000;

/** A batch's `player` from untrusted JSON (the control plane's flush endpoint), or a message naming the problem. */
export const parsePlayerStats = (raw: unknown): PlayerStats | string => {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return "must be an object {latency, buffer, errors, reports}";
  const o = raw as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => !["latency", "buffer", "errors", "reports"].includes(k));
  if (extra.length > 0) return `unknown field ${extra[0]}`;
  const latency = parseCounts(LATENCY_BOUNDS_MS, o.latency, COUNT_MAX);
  if (!latency) return `latency: must be ${LATENCY_BOUNDS_MS.length + 1} non-negative integer counts`;
  const buffer = parseCounts(BUFFER_BOUNDS_S, o.buffer, COUNT_MAX);
  if (!buffer) return `buffer: must be ${BUFFER_BOUNDS_S.length + 1} non-negative integer counts`;
  const int = (v: unknown, max: number) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
  if (!int(o.reports, COUNT_MAX)) return `reports: must be an integer from 0 to ${COUNT_MAX}`;
  if (!int(o.errors, ERRORS_MAX * (o.reports as number))) return "errors: must be an integer from 0 to 1000 × reports";
  const reports = o.reports as number;
  // Each heartbeat adds at most one value to each histogram.
  if (total(latency) > reports || total(buffer) > reports) return "latency, buffer: cannot count more values than reports";
  return { latency, buffer, errors: o.errors as number, reports };
};
