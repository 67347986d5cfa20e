/**
 * Turns a WebSocket message from a client into a typed command, or the error frame that answers it.
 * Pure: no storage, no sockets, so every bad-input case is checked in one place.
 */
import { codePointLength, isFrameType, MAX_FRAME_CHARS, MAX_MESSAGE_CHARS, MAX_SLOW_MODE_S, MAX_TIMEOUT_S, type ErrorCode } from "../../chat/protocol.ts";

export type ClientCommand =
  | { type: "message"; text: string }
  | { type: "delete"; messageId: string }
  | { type: "timeout"; userId: string; seconds: number }
  | { type: "ban"; userId: string; banned: boolean }
  | { type: "clear" }
  | { type: "slow_mode"; seconds: number };

export type ParseResult = { ok: true; command: ClientCommand } | { ok: false; code: ErrorCode; message: string };

const fail = (code: ErrorCode, message: string): ParseResult => ({ ok: false, code, message });

/** Ids the server made (message UUIDs, user ids): bounded, printable, no separators. */
const ID = /^[A-Za-z0-9_-]{1,64}$/;

export const parseClientFrame = (data: string | ArrayBuffer): ParseResult => {
  if (typeof data !== "string") return fail("binary_not_supported", "frames must be JSON text");
  if (data.length > MAX_FRAME_CHARS) return fail("frame_too_large", `frames are limited to ${MAX_FRAME_CHARS} characters`);
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    return fail("invalid_json", "frames must be JSON");
  }
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return fail("invalid_frame", "a frame is a JSON object with a `type`");
  const f = frame as Record<string, unknown>;
  const type = f.type;
  if (!isFrameType(type)) return fail("unknown_type", `unknown frame type: ${typeof type === "string" ? type.slice(0, 40) : String(type)}`);
  switch (type) {
    case "message": {
      if (typeof f.text !== "string") return fail("invalid_frame", "`text` must be a string");
      const text = f.text.trim();
      if (text === "") return fail("empty_message", "the message is empty");
      if (codePointLength(text) > MAX_MESSAGE_CHARS) return fail("message_too_long", `messages are limited to ${MAX_MESSAGE_CHARS} characters`);
      return { ok: true, command: { type, text } };
    }
    case "delete":
      if (typeof f.message_id !== "string" || !ID.test(f.message_id)) return fail("invalid_frame", "`message_id` must be a message id");
      return { ok: true, command: { type, messageId: f.message_id } };
    case "timeout": {
      if (typeof f.user_id !== "string" || !ID.test(f.user_id)) return fail("invalid_frame", "`user_id` must be a user id");
      const s = f.seconds;
      if (typeof s !== "number" || !Number.isInteger(s) || s < 1 || s > MAX_TIMEOUT_S) return fail("invalid_frame", `\`seconds\` must be an integer from 1 to ${MAX_TIMEOUT_S}`);
      return { ok: true, command: { type, userId: f.user_id, seconds: s } };
    }
    case "ban":
      if (typeof f.user_id !== "string" || !ID.test(f.user_id)) return fail("invalid_frame", "`user_id` must be a user id");
      if (f.banned !== undefined && typeof f.banned !== "boolean") return fail("invalid_frame", "`banned` must be a boolean");
      return { ok: true, command: { type, userId: f.user_id, banned: f.banned !== false } };
    case "clear":
      return { ok: true, command: { type } };
    case "slow_mode": {
      const s = f.seconds;
      if (typeof s !== "number" || !Number.isInteger(s) || s < 0 || s > MAX_SLOW_MODE_S) return fail("invalid_frame", `\`seconds\` must be an integer from 0 (off) to ${MAX_SLOW_MODE_S}`);
      return { ok: true, command: { type, seconds: s } };
    }
    default:
      return fail("unsupported_type", `clients cannot send \`${type}\` frames`);
  }
};
