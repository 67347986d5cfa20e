/**
 * Messages between bench/soak.ts and its load-generator children: simulated LL-HLS viewers
 * (soak-player-child.ts) and chat clients (soak-chat-child.ts). Both report what happened since
 * their previous report whenever the soak asks (once a minute), so figures come per minute.
 */

/** Sparse histogram: [bucket, count] pairs (bucket = value in ms for viewers, in 0.1 ms for chat). */
export type Hist = Array<[number, number]>;

export interface ViewerTarget {
  /** "edge-1", … */
  label: string;
  baseUrl: string;
  /** `/hls/<stream id>` */
  streamPath: string;
  clients: number;
}

export interface ViewersStart {
  type: "start";
  targets: ViewerTarget[];
  rendition: string;
  /** Each viewer starts at a random offset in [0, rampMs). */
  rampMs: number;
  playlistTimeoutMs: number;
  partTimeoutMs: number;
}

export interface ViewerTally {
  sent: { plain: number; blocking: number; part: number };
  /** Non-200 answers, timeouts and transport errors, keyed `<kind> <status or error>`. */
  errors: Record<string, number>;
  /** Parts whose bytes arrived (200). */
  parts: number;
  bytes: number;
  /** A blocking playlist answer that did not list the part asked for. */
  partNotListed: number;
  /** A new part was listed while the previous download still ran (the viewer fell behind). */
  partSkipped: number;
  /** A listed part whose PROGRAM-DATE-TIME could not be worked out (no latency sample). */
  noPdt: number;
  /** Capture-to-display: wall clock when the part's bytes arrived − PROGRAM-DATE-TIME of the part's first frame (1 ms buckets). */
  latency: Hist;
}

export interface ViewersReport {
  type: "report";
  /** Viewers that have joined (had a first playlist with a PRELOAD-HINT). */
  joined: number;
  targets: string[];
  tallies: ViewerTally[];
}

export type ToViewers = ViewersStart | { type: "sample" } | { type: "stop" };
export type FromViewers = { type: "ready" } | ViewersReport | { type: "failed"; error: string };

export interface ChatStart {
  type: "start";
  /** One entry per chatter: the socket URL (`ws://…/api/v1/streams/<id>/chat?token=…`) and the edge it goes to. */
  sockets: Array<{ url: string; edge: string }>;
  /** Messages per second, all chatters together (message k is sent by chatter k mod chatters). */
  rate: number;
  /** A message not delivered to every socket that was in the room when it was sent within this long counts as lost. */
  deliveryDeadlineMs: number;
  connectTimeoutMs: number;
}

export interface ChatReport {
  type: "report";
  /** Sockets open and welcomed now. */
  open: number;
  sent: number;
  /** ws.send threw, or the socket was not open when the chatter's turn came. */
  sendFailures: number;
  /** error frames the server sent back (rate_limited, …), by code. */
  errorFrames: Record<string, number>;
  deliveries: number;
  /** Deliveries missing when a message's deadline passed (sockets in the room at send time that never got it). */
  lost: number;
  /** Deliveries owed to the messages of this interval that are still inside their deadline (checked in a later report). */
  pending: number;
  /** Unexpected closes by code, and sockets that failed to (re)connect by reason. */
  closed: Record<string, number>;
  connectFailures: Record<string, number>;
  reconnects: number;
  /** send → receive on the shared monotonic clock, 0.1 ms buckets. */
  latency: Hist;
}

export type ToChat = ChatStart | { type: "sample" } | { type: "stop" };
export type FromChat = { type: "ready"; open: number; failures: Record<string, number> } | ChatReport | { type: "failed"; error: string };

/** Adds `[bucket, count]` pairs into `into`. */
export const mergeHist = (into: Map<number, number>, hist: Hist): void => {
  for (const [b, n] of hist) into.set(b, (into.get(b) ?? 0) + n);
};

/** Nearest-rank percentile of a histogram, in bucket units × `scale`. */
export const histPercentile = (hist: Map<number, number>, p: number, scale = 1): number => {
  let total = 0;
  for (const n of hist.values()) total += n;
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const b of [...hist.keys()].sort((a, c) => a - c)) {
    seen += hist.get(b)!;
    if (seen >= rank) return b * scale;
  }
  return Number.NaN;
};

export const histCount = (hist: Map<number, number>): number => {
  let total = 0;
  for (const n of hist.values()) total += n;
  return total;
};
