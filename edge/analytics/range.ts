/** The `from`/`to` of `GET /api/v1/streams/:id/analytics`: ISO timestamps, default the last hour, at most 7 days. */
import type { FieldErrors } from "../http/api-error.ts";
import { MINUTE_MS } from "./player-minutes.ts";

export const DEFAULT_RANGE_MS = 60 * 60_000;
export const MAX_RANGE_MS = 7 * 24 * 60 * 60_000;

/** `2025-01-17T10:00:00Z`, with optional seconds, fraction and a numeric offset instead of Z. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Milliseconds of an ISO timestamp, or null (`2025-02-30` is not a date, even where Date would roll it over). */
export const parseIso = (text: string): number | null => {
  const m = ISO.exec(text);
  if (!m) return null;
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as number[];
  const probe = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s ?? 0));
  const valid = probe.getUTCFullYear() === y && probe.getUTCMonth() === mo! - 1 && probe.getUTCDate() === d && probe.getUTCHours() === h && probe.getUTCMinutes() === mi;
  return valid ? ms : null;
};

export interface MinuteRange {
  from: number;
  to: number;
  /** Minutes in [fromMinute, toMinute) overlap [from, to). */
  fromMinute: number;
  toMinute: number;
}

/** The range a query asks for, or field errors naming each problem. */
export const parseRange = (query: Record<string, string>, now: number): { range: MinuteRange | null; errors: FieldErrors } => {
  const errors: FieldErrors = {};
  for (const k of Object.keys(query)) if (k !== "from" && k !== "to") errors[k] = "unknown parameter";
  const read = (name: "from" | "to"): number | undefined => {
    const v = query[name];
    if (v === undefined) return undefined;
    const ms = parseIso(v);
    if (ms === null) errors[name] = "must be an ISO 8601 timestamp such as 2025-01-17T10:00:00Z";
    return ms ?? undefined;
  };
  const fromQ = read("from");
  const toQ = read("to");
  if (Object.keys(errors).length > 0) return { range: null, errors };
  const to = toQ ?? (fromQ !== undefined ? Math.min(now, fromQ + DEFAULT_RANGE_MS) : now);
  const from = fromQ ?? to - DEFAULT_RANGE_MS;
  if (from >= to) errors.from = "must be before to";
  else if (to - from > MAX_RANGE_MS) errors.to = `must be at most ${MAX_RANGE_MS / 86_400_000} days after from`;
  if (Object.keys(errors).length > 0) return { range: null, errors };
  return { range: { from, to, fromMinute: Math.floor(from / MINUTE_MS), toMinute: Math.ceil(to / MINUTE_MS) }, errors };
};
