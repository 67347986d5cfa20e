/** What a viewer session is and how long it counts: shared by the edge aggregator, the counter object and the routes. */
import type { PlayerStats } from "../analytics/player-stats.ts";

/** A player's random session id: 16–64 characters from the base64url alphabet (e.g. 16 random bytes, base64url). */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{16,64}$/;
export const SESSION_ID_RULE = "must be 16–64 characters: letters, digits, '-' and '_'";
export const isSessionId = (value: unknown): value is string => typeof value === "string" && SESSION_ID_PATTERN.test(value);

/** A session counts as watching while its last heartbeat is younger than this (players beat every 15–30 s). */
export const SESSION_WINDOW_MS = 60_000;

/**
 * One flush from an isolate: each session with how long ago (ms) this isolate last saw it. Ages
 * rather than timestamps, so the counter dates them by its own clock and edge clock skew cannot
 * stretch or shorten the 60 s window.
 */
export interface HeartbeatBatch {
  streamId: string;
  /** EDGE_ID of the isolate's Worker, for the per-edge flush figures. */
  edge: string;
  sessions: Array<[sessionId: string, ageMs: number]>;
  /** The players' latency, buffer and error figures the batch's heartbeats carried, if any did. */
  player?: PlayerStats;
}

/** What the counter answers: distinct sessions in the last 60 s, the stream's peak, and when it last heard from an edge. */
export interface ViewerCounts {
  viewers: number;
  peak: number;
  /** ISO time of the last flush the counter received; null before the first. */
  updated_at: string | null;
}
