/**
 * The chat WebSocket protocol: JSON frames with a `type`. Clients send `message` frames
 * (`{ type: "message", text }`); the server assigns ids and timestamps and answers bad input with
 * `error` frames, never by closing the socket.
 */

/** Frame types of the protocol (`clear` and `slow_mode` are reserved: not implemented yet). */
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

export interface ChatMessage {
  type: "message";
  id: string;
  user_id: string;
  username: string;
  text: string;
  /** Milliseconds since the epoch, assigned by the server. */
  ts: number;
}

/** Longest timeout a broadcaster may give (14 days). */
export const MAX_TIMEOUT_S = 14 * 24 * 60 * 60;

export type ErrorCode = "forbidden" | "banned" | "timed_out" | "not_found" | "frame_too_large" | "binary_not_supported" | "invalid_json" | "invalid_frame" | "unknown_type" | "unsupported_type" | "unauthenticated" | "message_too_long" | "empty_message" | "rate_limited";

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
  user: { id: string; username: string; broadcaster: boolean } | null;
  can_write: boolean;
  /** The last HISTORY_ON_JOIN messages, oldest first. */
  history: ChatMessage[];
}

/** Moderation actions, broadcast to every socket. */
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

export type ServerFrame = ChatMessage | ErrorFrame | WelcomeFrame | DeleteFrame | TimeoutFrame | BanFrame;

/** Length in Unicode code points (a surrogate pair counts once). */
export const codePointLength = (s: string): number => {
  let n = 0;
  for (const _ of s) n++;
  return n;
};

export const isFrameType = (t: unknown): t is FrameType => typeof t === "string" && (FRAME_TYPES as readonly string[]).includes(t);
