import { parseUint } from "../../shared/ids.ts";
import type { SkipDirective } from "../../shared/hls/index.ts";

export type LlHlsQuery =
  | { ok: true; msn: number | null; part: number | null; skip: SkipDirective | null }
  | { ok: false; error: string };

/** Reads the delivery directives; other `_HLS_` parameters are reserved and ignored (RFC §6.2.5). */
export const parseLlHlsQuery = (url: URL): LlHlsQuery => {
  const rawMsn = url.searchParams.get("_HLS_msn");
  const rawPart = url.searchParams.get("_HLS_part");
  const rawSkip = url.searchParams.get("_HLS_skip");
  const msn = rawMsn === null ? null : parseUint(rawMsn);
  const part = rawPart === null ? null : parseUint(rawPart);
  if (rawMsn !== null && msn === null) return { ok: false, error: "_HLS_msn must be a non-negative integer" };
  if (rawPart !== null && part === null) return { ok: false, error: "_HLS_part must be a non-negative integer" };
  if (part !== null && msn === null) return { ok: false, error: "_HLS_part requires _HLS_msn" };
  const skip = rawSkip === "YES" || rawSkip === "v2" ? rawSkip : null;
  return { ok: true, msn, part, skip };
};
