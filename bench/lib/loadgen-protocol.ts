/** Messages between the benchmark and the load-generator child (bench/lib/loadgen-child.ts). */

export interface LoadgenStart {
  type: "start";
  /** Media playlist URL (without query). */
  playlistUrl: string;
  clients: number;
  /** Client start-up is spread over this long so 1000 connects do not land in one burst. */
  rampMs: number;
}

export interface LoadgenStop {
  type: "stop";
}

export type ToLoadgen = LoadgenStart | LoadgenStop;

export interface LoadgenResult {
  type: "result";
  /** Flattened triples: msn, part, monotonic ms the full response arrived (see clock.ts). */
  records: number[];
  responses: number;
  /** Non-200 answers and transport errors, keyed by status or error code. */
  errors: Record<string, number>;
  bodyBytes: number;
}

export type FromLoadgen = { type: "ready"; atMs: number } | LoadgenResult | { type: "failed"; error: string };
