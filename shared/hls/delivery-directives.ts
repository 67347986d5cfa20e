import { parseUint } from "../ids.ts";
import type { SkipDirective } from "./types.ts";

/** The LL-HLS delivery directives of one request, validated (RFC 8216bis §6.2.5). */
export interface Directives {
  msn: number | null;
  part: number | null;
  skip: SkipDirective | null;
}

export type DirectivesResult = { ok: true; directives: Directives } | { ok: false; error: string };

/**
 * Reads `_HLS_msn`, `_HLS_part` and `_HLS_skip`. Malformed numbers and a part without an msn are
 * errors (answered 400 at the edge without going upstream); other `_HLS_` parameters are reserved
 * and dropped, and so is anything else in the query, so it can neither split nor poison the cache.
 */
export const readDirectives = (params: URLSearchParams): DirectivesResult => {
  const rawMsn = params.get("_HLS_msn");
  const rawPart = params.get("_HLS_part");
  const rawSkip = params.get("_HLS_skip");
  const msn = rawMsn === null ? null : parseUint(rawMsn);
  const part = rawPart === null ? null : parseUint(rawPart);
  if (rawMsn !== null && msn === null) return { ok: false, error: "_HLS_msn must be a non-negative integer" };
  if (rawPart !== null && part === null) return { ok: false, error: "_HLS_part must be a non-negative integer" };
  if (part !== null && msn === null) return { ok: false, error: "_HLS_part requires _HLS_msn" };
  const skip = rawSkip === "YES" || rawSkip === "v2" ? rawSkip : null;
  return { ok: true, directives: { msn, part, skip } };
};

/** The canonical query string: fixed order, integers re-serialised, nothing else. */
export const directivesQuery = (d: Directives): string => {
  const out: string[] = [];
  if (d.msn !== null) out.push(`_HLS_msn=${d.msn}`);
  if (d.part !== null) out.push(`_HLS_part=${d.part}`);
  if (d.skip !== null) out.push(`_HLS_skip=${d.skip}`);
  return out.length ? `?${out.join("&")}` : "";
};

export const isBlocking = (d: Directives): boolean => d.msn !== null;
