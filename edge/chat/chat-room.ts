/**
 * ChatRoom: one Durable Object per stream holding its chat (issue 5, first slice).
 *
 * WebSocket Hibernation API: sockets are accepted with `ctx.acceptWebSocket`, so the object may be
 * evicted from memory between messages while clients stay connected. Nothing lives in fields: who a
 * socket is comes from its attachment (`serializeAttachment`, well under 16 KB), and everything that
 * must survive — the message history and the per-user rate-limit window — is in the object's SQLite
 * storage. Anyone may read; only sockets opened with a valid user token may write.
 */
import { DurableObject } from "cloudflare:workers";
import type { EdgeEnv } from "../env.ts";
import {
  codePointLength,
  HISTORY_ON_JOIN,
  isFrameType,
  MAX_FRAME_CHARS,
  MAX_MESSAGE_CHARS,
  MAX_TIMEOUT_S,
  RATE_LIMIT_COUNT,
  RATE_LIMIT_WINDOW_MS,
  type ChatMessage,
  type ErrorCode,
  type ErrorFrame,
  type ServerFrame,
  type WelcomeFrame,
} from "./protocol.ts";

/** Headers the chat route sets on the request it forwards to the room (never taken from clients). */
export const CHAT_USER_HEADER = "x-cascade-chat-user";
export const CHAT_STREAM_HEADER = "x-cascade-chat-stream";
export const CHAT_PROTOCOL_HEADER = "x-cascade-chat-protocol";

/** Rows kept in storage (history on join reads the last HISTORY_ON_JOIN of them). */
const STORED_MESSAGES = 1000;

/** What each socket carries across hibernation. */
export interface ChatAttachment {
  streamId: string;
  /** `broadcaster`: the stream's owner, who may delete messages, time out and ban users. */
  user: { id: string; username: string; broadcaster: boolean } | null;
  joinedAt: number;
}

interface MessageRow extends Record<string, SqlStorageValue> {
  id: string;
  user_id: string;
  username: string;
  text: string;
  ts: number;
}

export class ChatRoom extends DurableObject<EdgeEnv> {
  constructor(ctx: DurableObjectState, env: EdgeEnv) {
    super(ctx, env);
    const sql = ctx.storage.sql;
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      user_id TEXT NOT NULL,
      username TEXT NOT NULL,
      text TEXT NOT NULL,
      ts INTEGER NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS rate_events (user_id TEXT NOT NULL, ts INTEGER NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS rate_events_user_ts ON rate_events (user_id, ts)`);
    // Bans (until NULL) and timeouts (until = end, ms since the epoch), one row per user.
    sql.exec(`CREATE TABLE IF NOT EXISTS sanctions (user_id TEXT PRIMARY KEY, kind TEXT NOT NULL, until INTEGER, by TEXT NOT NULL, ts INTEGER NOT NULL)`);
    // Every moderation action, in order.
    sql.exec(`CREATE TABLE IF NOT EXISTS mod_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT)`);
  }

  /** The WebSocket upgrade, forwarded by the chat route with the caller's identity already verified. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    const streamId = request.headers.get(CHAT_STREAM_HEADER) ?? "";
    const userHeader = request.headers.get(CHAT_USER_HEADER);
    let user: ChatAttachment["user"] = null;
    if (userHeader) {
      const parsed = JSON.parse(userHeader) as { id?: unknown; username?: unknown };
      if (typeof parsed.id === "string" && typeof parsed.username === "string") user = { id: parsed.id, username: parsed.username, broadcaster: (parsed as { broadcaster?: unknown }).broadcaster === true };
    }
    const banned = user !== null && this.sanction(user.id, Date.now())?.kind === "ban";
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const attachment: ChatAttachment = { streamId, user, joinedAt: Date.now() };
    server.serializeAttachment(attachment);
    const welcome: WelcomeFrame = { type: "system", event: "welcome", stream_id: streamId, user, can_write: user !== null && !banned, history: this.history(HISTORY_ON_JOIN) };
    server.send(JSON.stringify(welcome));
    const protocol = request.headers.get(CHAT_PROTOCOL_HEADER);
    return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "sec-websocket-protocol": protocol } : {} });
  }

  /** The last `limit` messages, oldest first. */
  async recentMessages(limit = HISTORY_ON_JOIN): Promise<ChatMessage[]> {
    return this.history(limit);
  }

  /** Connected sockets (readers and writers). */
  async connections(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  /** The moderation log, oldest first. */
  async moderationLog(): Promise<Array<{ ts: number; actor: string; action: string; target: string; detail: string | null }>> {
    return this.ctx.storage.sql.exec<{ ts: number; actor: string; action: string; target: string; detail: string | null }>("SELECT ts, actor, action, target, detail FROM mod_log ORDER BY seq").toArray();
  }

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    try {
      this.handleFrame(ws, data);
    } catch (err) {
      // Never let a frame take the object down: the sender gets an error, the socket stays open.
      this.sendError(ws, "invalid_frame", err instanceof Error ? err.message : "could not handle the frame");
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed (the runtime may have answered the close itself).
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    try {
      ws.close(1011, "socket error");
    } catch {
      // Already closed.
    }
  }

  private handleFrame(ws: WebSocket, data: string | ArrayBuffer): void {
    if (typeof data !== "string") return this.sendError(ws, "binary_not_supported", "frames must be JSON text");
    if (data.length > MAX_FRAME_CHARS) return this.sendError(ws, "frame_too_large", `frames are limited to ${MAX_FRAME_CHARS} characters`);
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return this.sendError(ws, "invalid_json", "frames must be JSON");
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return this.sendError(ws, "invalid_frame", "a frame is a JSON object with a `type`");
    const type = (frame as { type?: unknown }).type;
    if (!isFrameType(type)) return this.sendError(ws, "unknown_type", `unknown frame type: ${typeof type === "string" ? type.slice(0, 40) : String(type)}`);
    const attachment = ws.deserializeAttachment() as ChatAttachment | null;
    const user = attachment?.user ?? null;
    if (type === "delete" || type === "timeout" || type === "ban") {
      if (!user) return this.sendError(ws, "unauthenticated", "sign in to moderate");
      if (!user.broadcaster) return this.sendError(ws, "forbidden", "only the broadcaster may moderate this chat");
      return this.moderate(ws, user, type, frame as Record<string, unknown>);
    }
    if (type !== "message") return this.sendError(ws, "unsupported_type", `clients cannot send \`${type}\` frames`);
    if (!user) return this.sendError(ws, "unauthenticated", "sign in to chat");
    const raw = (frame as { text?: unknown }).text;
    if (typeof raw !== "string") return this.sendError(ws, "invalid_frame", "`text` must be a string");
    const text = raw.trim();
    if (text === "") return this.sendError(ws, "empty_message", "the message is empty");
    if (codePointLength(text) > MAX_MESSAGE_CHARS) return this.sendError(ws, "message_too_long", `messages are limited to ${MAX_MESSAGE_CHARS} characters`);
    const now = Date.now();
    const sanction = this.sanction(user.id, now);
    if (sanction?.kind === "ban") return this.sendError(ws, "banned", "you are banned from this chat");
    if (sanction) return this.sendError(ws, "timed_out", "you are timed out", Math.max(1, (sanction.until ?? now) - now));
    const retryAfter = this.takeRateSlot(user.id, now);
    if (retryAfter !== null) return this.sendError(ws, "rate_limited", `at most ${RATE_LIMIT_COUNT} messages per ${RATE_LIMIT_WINDOW_MS / 1000} s`, retryAfter);
    const message: ChatMessage = { type: "message", id: crypto.randomUUID(), user_id: user.id, username: user.username, text, ts: now };
    this.store(message);
    this.broadcast(message);
  }

  /** The broadcaster's delete / timeout / ban; applied, logged and broadcast to every socket. */
  private moderate(ws: WebSocket, actor: { id: string; username: string }, type: "delete" | "timeout" | "ban", frame: Record<string, unknown>): void {
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const log = (action: string, target: string, detail: string | null) => sql.exec("INSERT INTO mod_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)", now, actor.id, action, target, detail);
    if (type === "delete") {
      const messageId = frame.message_id;
      if (typeof messageId !== "string" || messageId === "") return this.sendError(ws, "invalid_frame", "`message_id` must be a string");
      const deleted = sql.exec("DELETE FROM messages WHERE id = ? RETURNING id", messageId).toArray().length;
      if (deleted === 0) return this.sendError(ws, "not_found", "no such message");
      log("delete", messageId, null);
      return this.broadcast({ type: "delete", message_id: messageId, by: actor.id, ts: now });
    }
    const target = frame.user_id;
    if (typeof target !== "string" || target === "") return this.sendError(ws, "invalid_frame", "`user_id` must be a string");
    if (target === actor.id) return this.sendError(ws, "invalid_frame", "the broadcaster cannot sanction themselves");
    if (type === "timeout") {
      const seconds = frame.seconds;
      if (typeof seconds !== "number" || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_TIMEOUT_S) return this.sendError(ws, "invalid_frame", `\`seconds\` must be an integer from 1 to ${MAX_TIMEOUT_S}`);
      const until = now + seconds * 1000;
      sql.exec("INSERT OR REPLACE INTO sanctions (user_id, kind, until, by, ts) VALUES (?, 'timeout', ?, ?, ?)", target, until, actor.id, now);
      log("timeout", target, String(seconds));
      return this.broadcast({ type: "timeout", user_id: target, seconds, until, by: actor.id, ts: now });
    }
    const banned = frame.banned !== false;
    if (banned) sql.exec("INSERT OR REPLACE INTO sanctions (user_id, kind, until, by, ts) VALUES (?, 'ban', NULL, ?, ?)", target, actor.id, now);
    else sql.exec("DELETE FROM sanctions WHERE user_id = ?", target);
    log(banned ? "ban" : "unban", target, null);
    // A banned user's sockets stay open for reading (as anyone may read); their writes are refused.
    this.broadcast({ type: "ban", user_id: target, banned, by: actor.id, ts: now });
  }

  /** The user's ban or unexpired timeout, if any. */
  private sanction(userId: string, now: number): { kind: "ban" | "timeout"; until: number | null } | null {
    const row = this.ctx.storage.sql.exec<{ kind: "ban" | "timeout"; until: number | null }>("SELECT kind, until FROM sanctions WHERE user_id = ?", userId).toArray()[0];
    if (!row) return null;
    if (row.kind === "timeout" && (row.until ?? 0) <= now) return null;
    return row;
  }

  /**
   * Sliding-window rate limit kept in SQLite (it survives hibernation and eviction): null when the
   * user may send now (the send is recorded), else milliseconds until the oldest send leaves the window.
   */
  private takeRateSlot(userId: string, now: number): number | null {
    const sql = this.ctx.storage.sql;
    const since = now - RATE_LIMIT_WINDOW_MS;
    sql.exec("DELETE FROM rate_events WHERE ts <= ?", since);
    const rows = sql.exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(ts) AS oldest FROM rate_events WHERE user_id = ?", userId).one();
    if (rows.n >= RATE_LIMIT_COUNT) return Math.max(1, (rows.oldest ?? now) + RATE_LIMIT_WINDOW_MS - now);
    sql.exec("INSERT INTO rate_events (user_id, ts) VALUES (?, ?)", userId, now);
    return null;
  }

  private store(m: ChatMessage): void {
    const sql = this.ctx.storage.sql;
    sql.exec("INSERT INTO messages (id, user_id, username, text, ts) VALUES (?, ?, ?, ?, ?)", m.id, m.user_id, m.username, m.text, m.ts);
    sql.exec("DELETE FROM messages WHERE seq <= (SELECT MAX(seq) FROM messages) - ?", STORED_MESSAGES);
  }

  private history(limit: number): ChatMessage[] {
    const rows = this.ctx.storage.sql.exec<MessageRow>("SELECT id, user_id, username, text, ts FROM messages ORDER BY seq DESC LIMIT ?", limit).toArray();
    return rows.reverse().map((r) => ({ type: "message", id: r.id, user_id: r.user_id, username: r.username, text: r.text, ts: r.ts }));
  }

  private broadcast(frame: ServerFrame): void {
    const payload = JSON.stringify(frame);
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(payload);
      } catch {
        // A socket closing under us; its close handler cleans up.
      }
    }
  }

  private sendError(ws: WebSocket, code: ErrorCode, message: string, retryAfterMs?: number): void {
    const frame: ErrorFrame = { type: "error", code, message, ...(retryAfterMs !== undefined ? { retry_after_ms: retryAfterMs } : {}) };
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      // The socket went away.
    }
  }
}
