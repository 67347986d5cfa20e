import { readDirectives } from "../../shared/hls/delivery-directives.ts";
import type { SkipDirective } from "../../shared/hls/index.ts";

export type LlHlsQuery =
  | { ok: true; msn: number | null; part: number | null; skip: SkipDirective | null }
  | { ok: false; error: string };

/** Reads the delivery directives; other `_HLS_` parameters are reserved and ignored (RFC §6.2.5). */
export const parseLlHlsQuery = (url: URL): LlHlsQuery => {
  const read = readDirectives(url.searchParams);
  return read.ok ? { ok: true, ...read.directives } : read;
};
