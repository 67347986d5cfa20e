/**
 * The chat WebSocket protocol (`GET /api/v1/streams/:id/chat`): JSON frames with a `type`.
 *
 * One WebSocket message carries one frame object or, when the room coalesces broadcasts under load,
 * a JSON array of frames in order; clients must accept both. The server assigns ids and timestamps
 * (ms since the epoch) and answers bad input with `error` frames, never by closing the socket.
 *
 * Client → server:
 *   { type: "message", text }                         signed-in users
 *   { type: "delete", message_id }                    broadcaster and moderators
 *   { type: "timeout", user_id, seconds }             "
 *   { type: "ban", user_id, banned?: boolean }        " (banned: false lifts the ban)
 *   { type: "clear" }                                 "
 *   { type: "slow_mode", seconds }                    " (0 turns it off)
 * Moderators are added and removed over REST (`PUT`/`DELETE /api/v1/streams/:id/chat/moderators/:userId`),
 * which broadcasts `system` frames (`moderator_added` / `moderator_removed`).
 *
 * Server → client: WelcomeFrame first, then ChatMessage, DeleteFrame, TimeoutFrame, BanFrame,
 * ClearFrame, SlowModeFrame, SystemEventFrame, ViewerCountFrame and ErrorFrame.
 */

export const FRAME_TYPES = ["message", "system", "delete", "timeout", "ban", "clear", "slow_mode", "error", "viewer_count"] as const;
export type FrameType = (typeof FRAME_TYPES)[number];

/** Longest chat message, in Unicode code points. */
export const MAX_MESSAGE_CHARS = 500;
/** Longest frame accepted from a client, in UTF-16 code units (a 500-emoji message escaped as \uXXXX pairs fits). */
export const MAX_FRAME_CHARS = 8192;
/** Messages sent to a joining client. */
export const HISTORY_ON_JOIN = 100;
/** Rate limit: at most RATE_LIMIT_COUNT messages per user within RATE_LIMIT_WINDOW_MS (sliding window). */
export const RATE_LIMIT_COUNT = 20;
export const RATE_LIMIT_WINDOW_MS = 30_000;
/** Repeat-spam guard: the same text (case and spacing ignored) from one user within this window is refused. */
export const REPEAT_WINDOW_MS = 30_000;
/** Longest slow-mode interval a moderator may set. */
export const MAX_SLOW_MODE_S = 3600;
/** Longest timeout a moderator may give (14 days). */
export const MAX_TIMEOUT_S = 14 * 24 * 60 * 60;
/** Messages older than this are deleted by the room's alarm. */
export const RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Shown next to a name; computed when the socket joins (and updated when moderators change). */
export type Badge = "broadcaster" | "moderator" | "follower";
export const BADGES: readonly Badge[] = ["broadcaster", "moderator", "follower"];

export interface ChatUser {
  id: string;
  username: string;
  badges: Badge[];
}

export interface ChatMessage {
  type: "message";
  id: string;
  user_id: string;
  username: string;
  badges: Badge[];
  text: string;
  ts: number;
}

export type ErrorCode =
  | "forbidden"
  | "banned"
  | "timed_out"
  | "not_found"
  | "frame_too_large"
  | "binary_not_supported"
  | "invalid_json"
  | "invalid_frame"
  | "unknown_type"
  | "unsupported_type"
  | "unauthenticated"
  | "message_too_long"
  | "empty_message"
  | "rate_limited"
  | "slow_mode"
  | "duplicate_message";

export interface ErrorFrame {
  type: "error";
  code: ErrorCode;
  message: string;
  retry_after_ms?: number;
}

export interface WelcomeFrame {
  type: "system";
  event: "welcome";
  stream_id: string;
  /** Who this socket is; null for an anonymous (read-only) viewer. */
  user: ChatUser | null;
  can_write: boolean;
  /** Broadcaster or moderator: may send moderation frames. */
  can_moderate: boolean;
  /** Slow mode interval in seconds (0: off). */
  slow_mode_s: number;
  /** The latest count the room was told, if any. */
  viewer_count: { viewers: number; peak: number } | null;
  /** The last HISTORY_ON_JOIN messages, oldest first. */
  history: ChatMessage[];
}

/** Moderation actions and room events, broadcast to every socket. `by` is the actor's user id. */
export interface DeleteFrame {
  type: "delete";
  message_id: string;
  by: string;
  ts: number;
}
export interface TimeoutFrame {
  type: "timeout";
  user_id: string;
  seconds: number;
  /** When the timeout ends (ms since the epoch). */
  until: number;
  by: string;
  ts: number;
}
export interface BanFrame {
  type: "ban";
  user_id: string;
  /** false: the ban was lifted. */
  banned: boolean;
  by: string;
  ts: number;
}
export interface ClearFrame {
  type: "clear";
  by: string;
  ts: number;
}
export interface SlowModeFrame {
  type: "slow_mode";
  /** 0: off. */
  seconds: number;
  by: string;
  ts: number;
}
export type SystemEvent = "moderator_added" | "moderator_removed" | "emotes_changed" | "stream_live" | "stream_ended";
export interface SystemEventFrame {
  type: "system";
  event: SystemEvent;
  /** moderator_added / moderator_removed: whom. */
  user_id?: string;
  username?: string;
  by?: string;
  ts: number;
}
export interface ViewerCountFrame {
  type: "viewer_count";
  viewers: number;
  peak: number;
  ts: number;
}

/** Frames every socket of the room receives (relayed between shards). */
export type BroadcastFrame = ChatMessage | DeleteFrame | TimeoutFrame | BanFrame | ClearFrame | SlowModeFrame | SystemEventFrame | ViewerCountFrame;
export type ServerFrame = BroadcastFrame | ErrorFrame | WelcomeFrame;

/** Length in Unicode code points (a surrogate pair counts once). */
export const codePointLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

/** What the repeat-spam guard compares: case-folded, spacing collapsed. */
export const normalizeForRepeat = (s: string): string => s.normalize("NFKC").toLowerCase().replace(/\s+/gu, " ").trim();

export const isFrameType = (t: unknown): t is FrameType => typeof t === "string" && (FRAME_TYPES as readonly string[]).includes(t);

/** Emote codes: a letter, then letters, digits or `_` (2–25 characters in all). */
export const EMOTE_CODE = /^[A-Za-z][A-Za-z0-9_]{1,24}$/;
