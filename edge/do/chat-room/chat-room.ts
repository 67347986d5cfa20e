/**
 * ChatRoom: one shard of a stream's chat, a Durable Object on the WebSocket Hibernation API.
 *
 * Sockets are accepted with `ctx.acceptWebSocket`, so the object may be evicted between messages
 * while clients stay connected: who a socket is lives in its attachment, and everything that must
 * survive (history, rate-limit windows, sanctions, settings, moderation log) in SQLite (RoomStore).
 *
 * A room is CHAT_SHARDS objects (client.ts); a user's sockets all join the same shard,
 * so per-user checks (rate limit, slow mode, repeat guard) run there. Room-wide effects (messages,
 * moderation) are applied where they happen and relayed to the other shards, which apply them to
 * their own copy and broadcast to their sockets. Calls that concern the whole room from outside
 * (viewer counts, moderators, emotes, stream events) are made on every shard by the caller.
 */
import { DurableObject } from "cloudflare:workers";
import { edgeConfig } from "../../config.ts";
import { parseClientFrame, type ClientCommand } from "./client-frames.ts";
import { Fanout } from "./fanout.ts";
import { BADGES, HISTORY_ON_JOIN, normalizeForRepeat, RATE_LIMIT_COUNT, RATE_LIMIT_WINDOW_MS, RETENTION_MS, type Badge, type BroadcastFrame, type ChatMessage, type ChatUser, type ErrorCode, type ErrorFrame, type SystemEventFrame, type WelcomeFrame } from "../../chat/protocol.ts";
import { chatShard } from "./client.ts";
import { RoomStore, type ModLogEntry, type RoomMeta } from "./room-store.ts";

/** Set by the chat route on the request it forwards to the room (never taken from clients). */
export const CHAT_JOIN_HEADER = "x-cascade-chat-join";
export const CHAT_PROTOCOL_HEADER = "x-cascade-chat-protocol";

/** Who joins, as the chat route resolved it (token verified, badges from D1). */
export interface ChatJoin {
  streamId: string;
  shard: number;
  /** Shards the room has (CHAT_SHARDS when this socket joined): where relays go. */
  shards: number;
  ownerId: string;
  user: ChatUser | null;
  /** Broadcaster, channel moderator, or platform staff (admin / moderator role). */
  canModerate: boolean;
  /** Platform staff moderate every room whatever the channel's moderator list says. */
  staff: boolean;
}

/** What each socket carries across hibernation. */
export interface ChatAttachment extends ChatJoin {
  joinedAt: number;
}

export class ChatRoom extends DurableObject<Env> {
  private readonly store: RoomStore;
  private readonly fanout: Fanout;
  /** One relay chain per target shard, so a shard receives our frames in the order we sent them. */
  private readonly relayChains = new Map<number, Promise<void>>();
  private retentionAlarmChecked = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage.sql);
    this.fanout = new Fanout({
      windowMs: edgeConfig(env).chatCoalesceMs,
      send: (payload) => {
        for (const ws of this.ctx.getWebSockets()) {
          try {
            ws.send(payload);
          } catch {
            // A socket closing under us; its close handler cleans up.
          }
        }
      },
      relay: (frames) => this.relay(frames),
    });
  }

  /** The WebSocket upgrade, forwarded by the chat route with the caller already identified. */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("expected a WebSocket upgrade", { status: 426 });
    let join: ChatJoin;
    try {
      join = JSON.parse(request.headers.get(CHAT_JOIN_HEADER) ?? "") as ChatJoin;
    } catch {
      return new Response("missing join header", { status: 400 });
    }
    this.store.setMeta({ streamId: join.streamId, shard: join.shard, shards: join.shards, ownerId: join.ownerId });
    if (join.user?.badges.includes("moderator")) this.store.setModerator(join.user.id, true);
    const now = Date.now();
    const banned = join.user !== null && this.store.sanction(join.user.id, now)?.kind === "ban";
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const attachment: ChatAttachment = { ...join, joinedAt: now };
    server.serializeAttachment(attachment);
    const welcome: WelcomeFrame = {
      type: "system",
      event: "welcome",
      stream_id: join.streamId,
      user: join.user,
      can_write: join.user !== null && !banned,
      can_moderate: join.canModerate,
      slow_mode_s: this.store.slowModeSeconds(),
      viewer_count: this.store.viewerCount(),
      history: this.store.recent(HISTORY_ON_JOIN),
    };
    server.send(JSON.stringify(welcome));
    const protocol = request.headers.get(CHAT_PROTOCOL_HEADER);
    return new Response(null, { status: 101, webSocket: client, headers: protocol ? { "sec-websocket-protocol": protocol } : {} });
  }

  // --- RPC: reads -----------------------------------------------------------------------------

  /** The last `limit` messages, oldest first. */
  async recentMessages(limit = HISTORY_ON_JOIN): Promise<ChatMessage[]> {
    return this.store.recent(limit);
  }

  /** A page of history before message `before` (null: the newest); null when `before` is unknown. */
  async historyPage(before: string | null, limit: number): Promise<{ messages: ChatMessage[]; more: boolean } | null> {
    return this.store.page(before, limit);
  }

  /** A page of the moderation log, newest first. */
  async moderationLog(before: number | null = null, limit = 100): Promise<{ entries: ModLogEntry[]; more: boolean }> {
    return this.store.logPage(before, limit);
  }

  /** Sockets connected to this shard (readers and writers). */
  async connections(): Promise<number> {
    return this.ctx.getWebSockets().length;
  }

  // --- RPC: room-wide events, called on every shard -------------------------------------------

  /** The stream's current viewer count (from its ViewerCounter), pushed to every socket. */
  async viewerCount(viewers: number, peak: number): Promise<void> {
    this.store.setViewerCount(viewers, peak);
    this.fanout.push({ type: "viewer_count", viewers, peak, ts: Date.now() }, false);
  }

  /** The stream went live (the go-live saga's warmup step) or ended. */
  async streamEvent(event: "stream_live" | "stream_ended"): Promise<void> {
    this.fanout.push({ type: "system", event, ts: Date.now() }, false);
  }

  /** A channel moderator was added or removed (already written to D1 by the route). */
  async setModerator(userId: string, username: string, on: boolean, by: string): Promise<void> {
    const now = Date.now();
    this.store.setModerator(userId, on);
    this.store.log(now, by, on ? "add_moderator" : "remove_moderator", userId, username);
    for (const ws of this.ctx.getWebSockets()) {
      const a = ws.deserializeAttachment() as ChatAttachment | null;
      if (!a?.user || a.user.id !== userId) continue;
      const had = a.user.badges;
      const badges = BADGES.filter((b) => (b === "moderator" ? on : had.includes(b)));
      const next: ChatAttachment = { ...a, user: { ...a.user, badges }, canModerate: on || a.staff || a.user.id === a.ownerId };
      ws.serializeAttachment(next);
    }
    const frame: SystemEventFrame = { type: "system", event: on ? "moderator_added" : "moderator_removed", user_id: userId, username, by, ts: now };
    this.fanout.push(frame, false);
  }

  /** The channel's emote set changed: clients refetch it. */
  async emotesChanged(by: string): Promise<void> {
    this.fanout.push({ type: "system", event: "emotes_changed", by, ts: Date.now() }, false);
  }

  /** Frames applied on another shard of this room: apply here too and broadcast to our sockets. */
  async relayed(frames: BroadcastFrame[]): Promise<void> {
    for (const frame of frames) if (this.apply(frame)) this.fanout.push(frame, false);
  }

  // --- sockets --------------------------------------------------------------------------------

  override async webSocketMessage(ws: WebSocket, data: string | ArrayBuffer): Promise<void> {
    try {
      const parsed = parseClientFrame(data);
      if (!parsed.ok) return this.sendError(ws, parsed.code, parsed.message);
      this.handle(ws, parsed.command);
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

  /** Retention: messages older than 30 days are deleted; the alarm re-arms for the next oldest one. */
  override async alarm(): Promise<void> {
    const oldest = this.store.expireMessages(Date.now());
    if (oldest !== null) await this.ctx.storage.setAlarm(oldest + RETENTION_MS);
  }

  private handle(ws: WebSocket, cmd: ClientCommand): void {
    const a = ws.deserializeAttachment() as ChatAttachment | null;
    const user = a?.user ?? null;
    if (!a || !user) return this.sendError(ws, "unauthenticated", cmd.type === "message" ? "sign in to chat" : "sign in to moderate");
    if (cmd.type === "message") return this.message(ws, a, user, cmd.text);
    if (!a.canModerate) return this.sendError(ws, "forbidden", "only the broadcaster and moderators may moderate this chat");
    const now = Date.now();
    if (cmd.type === "delete") {
      const frame: BroadcastFrame = { type: "delete", message_id: cmd.messageId, by: user.id, ts: now };
      if (!this.apply(frame)) return this.sendError(ws, "not_found", "no such message");
      return this.fanout.push(frame, true);
    }
    if (cmd.type === "clear") return this.broadcastApplied({ type: "clear", by: user.id, ts: now });
    if (cmd.type === "slow_mode") return this.broadcastApplied({ type: "slow_mode", seconds: cmd.seconds, by: user.id, ts: now });
    const refusal = this.targetRefusal(a, cmd.userId);
    if (refusal) return this.sendError(ws, refusal.code, refusal.message);
    if (cmd.type === "timeout") return this.broadcastApplied({ type: "timeout", user_id: cmd.userId, seconds: cmd.seconds, until: now + cmd.seconds * 1000, by: user.id, ts: now });
    // A banned user's sockets stay open for reading (as anyone may read); their writes are refused.
    return this.broadcastApplied({ type: "ban", user_id: cmd.userId, banned: cmd.banned, by: user.id, ts: now });
  }

  /** Why `actor` may not sanction `target`, if they may not. */
  private targetRefusal(actor: ChatAttachment, target: string): { code: ErrorCode; message: string } | null {
    if (target === actor.user?.id) return { code: "invalid_frame", message: "you cannot sanction yourself" };
    if (target === actor.ownerId) return { code: "forbidden", message: "the broadcaster cannot be sanctioned in their own chat" };
    const actorIsBroadcaster = actor.user?.id === actor.ownerId;
    if (!actorIsBroadcaster && !actor.staff && this.store.isModerator(target)) return { code: "forbidden", message: "only the broadcaster may sanction a moderator" };
    return null;
  }

  private message(ws: WebSocket, a: ChatAttachment, user: ChatUser, text: string): void {
    const now = Date.now();
    const sanction = this.store.sanction(user.id, now);
    if (sanction?.kind === "ban") return this.sendError(ws, "banned", "you are banned from this chat");
    if (sanction) return this.sendError(ws, "timed_out", "you are timed out", Math.max(1, (sanction.until ?? now) - now));
    if (!a.canModerate) {
      const slow = this.store.slowModeSeconds();
      const wait = this.store.slowModeWait(user.id, slow, now);
      if (wait > 0) return this.sendError(ws, "slow_mode", `slow mode: one message every ${slow} s`, wait);
    }
    const retryAfter = this.store.rateLimitWait(user.id, now);
    if (retryAfter !== null) return this.sendError(ws, "rate_limited", `at most ${RATE_LIMIT_COUNT} messages per ${RATE_LIMIT_WINDOW_MS / 1000} s`, retryAfter);
    const norm = normalizeForRepeat(text);
    if (this.store.isRepeat(user.id, norm, now)) return this.sendError(ws, "duplicate_message", "you sent this message a moment ago");
    this.store.recordSend(user.id, norm, now);
    const message: ChatMessage = { type: "message", id: crypto.randomUUID(), user_id: user.id, username: user.username, badges: user.badges as Badge[], text, ts: now };
    this.apply(message);
    this.fanout.push(message, true);
  }

  private broadcastApplied(frame: BroadcastFrame): void {
    this.apply(frame);
    this.fanout.push(frame, true);
  }

  /**
   * Applies a room-wide frame to this shard's storage (and logs moderation). False when it changes
   * nothing here: a message this shard already has, a delete of a message it does not have.
   */
  private apply(frame: BroadcastFrame): boolean {
    const s = this.store;
    switch (frame.type) {
      case "message": {
        const added = s.addMessage(frame);
        if (added) this.armRetention(frame.ts);
        return added;
      }
      case "delete":
        if (!s.deleteMessage(frame.message_id)) return false;
        s.log(frame.ts, frame.by, "delete", frame.message_id, null);
        return true;
      case "timeout":
        s.setTimeout(frame.user_id, frame.until, frame.by, frame.ts);
        s.log(frame.ts, frame.by, "timeout", frame.user_id, String(frame.seconds));
        return true;
      case "ban":
        s.setBan(frame.user_id, frame.banned, frame.by, frame.ts);
        s.log(frame.ts, frame.by, frame.banned ? "ban" : "unban", frame.user_id, null);
        return true;
      case "clear":
        s.clearMessages();
        s.log(frame.ts, frame.by, "clear", "*", null);
        return true;
      case "slow_mode":
        s.setSlowMode(frame.seconds);
        s.log(frame.ts, frame.by, "slow_mode", "*", String(frame.seconds));
        return true;
      default:
        return true;
    }
  }

  /** Makes sure the retention alarm exists once this shard holds messages. */
  private armRetention(ts: number): void {
    if (this.retentionAlarmChecked) return;
    this.retentionAlarmChecked = true;
    void this.ctx.storage.getAlarm().then((at) => (at === null ? this.ctx.storage.setAlarm(ts + RETENTION_MS) : undefined));
  }

  /** Hands frames that originated here to every other shard of the room, in order per shard. */
  private relay(frames: BroadcastFrame[]): void {
    const meta: RoomMeta | null = this.store.meta();
    if (!meta || meta.shards <= 1) return;
    for (let k = 0; k < meta.shards; k++) {
      if (k === meta.shard) continue;
      const target = chatShard(this.env, meta.streamId, k);
      if (!target) continue;
      const previous = this.relayChains.get(k) ?? Promise.resolve();
      const next = previous
        .then(() => target.relayed(frames))
        .catch((err: unknown) => {
          // The target shard's sockets miss these frames (and its copy of the history lacks them);
          // the sender's shard has applied them, so nothing the user sent is lost.
          console.error(JSON.stringify({ event: "chat_relay_failed", stream: meta.streamId, from: meta.shard, to: k, error: err instanceof Error ? err.message : String(err) }));
        });
      this.relayChains.set(k, next);
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
