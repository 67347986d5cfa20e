/** Messages between edge-offload and its load-generator children (bench/lib/player-loadgen-child.ts). */

export interface PlayerTarget {
  /** "edge-1", …, or "direct". */
  label: string;
  /** Base URL of the server. */
  baseUrl: string;
  /** Path prefix of the stream on that server: `/hls/<id>` (edge) or `/live/<id>` (origin). */
  streamPath: string;
  clients: number;
}

export interface PlayerLoadgenStart {
  type: "start";
  targets: PlayerTarget[];
  rendition: string;
  /** Each client starts at a uniformly random offset in [0, rampMs). */
  rampMs: number;
  /** A request not answered within this long counts as a timeout; the client reconnects and joins again. */
  playlistTimeoutMs: number;
  partTimeoutMs: number;
}

export type ToPlayerLoadgen = PlayerLoadgenStart | { type: "stop" };

/** Per target, as seen by the clients. */
export interface TargetTally {
  /** Requests sent, by kind (`plain` = a playlist reload without directives, on join). */
  sent: { plain: number; blocking: number; part: number };
  /** Distinct objects requested: blocking playlists (`msn.part`) and parts (`msn.part`). */
  blockingKeys: string[];
  partKeys: string[];
  /** `x-cascade-cache` of the answers, by kind and outcome (edges only): MISS = this request made the upstream fill. */
  cache: Record<string, number>;
  /** Non-200 answers, timeouts and transport errors, keyed `<kind> <status or error>`. */
  errors: Record<string, number>;
  /** Blocking playlists whose answer did not list the part asked for (the client then fetches nothing). */
  partNotListed: number;
  /** A new part was listed while the previous part download was still running (skipped, as a player falls behind). */
  partSkipped: number;
  bodyBytes: number;
}

export interface PlayerLoadgenResult {
  type: "result";
  targets: string[];
  /** Flattened quadruples: target index, msn, part, monotonic ms the full answer arrived (see clock.ts). */
  playlistRecords: number[];
  partRecords: number[];
  tallies: TargetTally[];
}

export type FromPlayerLoadgen = { type: "ready"; atMs: number } | PlayerLoadgenResult | { type: "failed"; error: string };
