/**
 * A chat room shard's state in its Durable Object SQLite storage: everything that must survive
 * hibernation and eviction (history, sanctions, rate-limit windows, settings, the moderation log).
 * Every shard of a room keeps a full copy of the room-wide state (messages, sanctions, slow mode),
 * applied from its own sockets and from relays; per-user windows live on the user's shard.
 * All calls are synchronous SQLite, so a frame is checked and applied without interleaving.
 */
import { RATE_LIMIT_COUNT, RATE_LIMIT_WINDOW_MS, REPEAT_WINDOW_MS, RETENTION_MS, type Badge, type ChatMessage } from "../../chat/protocol.ts";

export interface ModLogEntry {
  seq: number;
  ts: number;
  actor: string;
  action: string;
  target: string;
  detail: string | null;
}

export interface Sanction {
  kind: "ban" | "timeout";
  until: number | null;
}

/** Room facts a shard learns when its first socket joins (relays and target checks need them). */
export interface RoomMeta {
  streamId: string;
  shard: number;
  shards: number;
  ownerId: string;
}

interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  id: string;
  user_id: string;
  username: string;
  badges: string;
  text: string;
  ts: number;
}

const toMessage = (r: MessageRow): ChatMessage => ({ type: "message", id: r.id, user_id: r.user_id, username: r.username, badges: JSON.parse(r.badges) as Badge[], text: r.text, ts: r.ts });

export class RoomStore {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS messages (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      id TEXT NOT NULL UNIQUE,
      user_id TEXT NOT NULL,
      username TEXT NOT NULL,
      badges TEXT NOT NULL DEFAULT '[]',
      text TEXT NOT NULL,
      ts INTEGER NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS messages_ts ON messages (ts)`);
    // One row per message a user sent in the last RATE_LIMIT_WINDOW_MS (rate limit and repeat guard).
    sql.exec(`CREATE TABLE IF NOT EXISTS sent (user_id TEXT NOT NULL, ts INTEGER NOT NULL, norm TEXT NOT NULL)`);
    sql.exec(`CREATE INDEX IF NOT EXISTS sent_user_ts ON sent (user_id, ts)`);
    // Last send per user, kept longer than `sent` for slow mode (up to an hour).
    sql.exec(`CREATE TABLE IF NOT EXISTS last_sent (user_id TEXT PRIMARY KEY, ts INTEGER NOT NULL)`);
    // Bans (until NULL) and timeouts (until = end), one row per user.
    sql.exec(`CREATE TABLE IF NOT EXISTS sanctions (user_id TEXT PRIMARY KEY, kind TEXT NOT NULL, until INTEGER, by TEXT NOT NULL, ts INTEGER NOT NULL)`);
    // Channel moderators this room knows of (target checks: a moderator cannot sanction another).
    sql.exec(`CREATE TABLE IF NOT EXISTS moderators (user_id TEXT PRIMARY KEY)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS mod_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)`);
  }

  // --- settings -----------------------------------------------------------------------------

  private setting(key: string): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM settings WHERE key = ?", key).toArray()[0]?.value ?? null;
  }

  private setSetting(key: string, value: string): void {
    this.sql.exec("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", key, value);
  }

  meta(): RoomMeta | null {
    const raw = this.setting("meta");
    return raw ? (JSON.parse(raw) as RoomMeta) : null;
  }

  setMeta(meta: RoomMeta): void {
    const current = this.meta();
    if (!current || current.streamId !== meta.streamId || current.shard !== meta.shard || current.shards !== meta.shards || current.ownerId !== meta.ownerId) this.setSetting("meta", JSON.stringify(meta));
  }

  slowModeSeconds(): number {
    return Number(this.setting("slow_mode_s") ?? 0);
  }

  setSlowMode(seconds: number): void {
    this.setSetting("slow_mode_s", String(seconds));
  }

  viewerCount(): { viewers: number; peak: number } | null {
    const raw = this.setting("viewer_count");
    return raw ? (JSON.parse(raw) as { viewers: number; peak: number }) : null;
  }

  setViewerCount(viewers: number, peak: number): void {
    this.setSetting("viewer_count", JSON.stringify({ viewers, peak }));
  }

  // --- messages -------------------------------------------------------------------------------

  /** Stores a message; false when this shard already has it (a relay arriving twice). */
  addMessage(m: ChatMessage): boolean {
    const rows = this.sql.exec("INSERT OR IGNORE INTO messages (id, user_id, username, badges, text, ts) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq", m.id, m.user_id, m.username, JSON.stringify(m.badges), m.text, m.ts).toArray();
    return rows.length > 0;
  }

  deleteMessage(id: string): boolean {
    return this.sql.exec("DELETE FROM messages WHERE id = ? RETURNING id", id).toArray().length > 0;
  }

  clearMessages(): void {
    this.sql.exec("DELETE FROM messages");
  }

  /** The last `limit` messages, oldest first. */
  recent(limit: number): ChatMessage[] {
    return this.sql.exec<MessageRow>("SELECT * FROM messages ORDER BY seq DESC LIMIT ?", limit).toArray().reverse().map(toMessage);
  }

  /**
   * A page of history, oldest first: the `limit` messages before message `before` (the newest ones
   * without it). `more` says whether older messages exist; null when `before` is not a stored message.
   */
  page(before: string | null, limit: number): { messages: ChatMessage[]; more: boolean } | null {
    let bound = Number.MAX_SAFE_INTEGER;
    if (before !== null) {
      const row = this.sql.exec<{ seq: number }>("SELECT seq FROM messages WHERE id = ?", before).toArray()[0];
      if (!row) return null;
      bound = row.seq;
    }
    const rows = this.sql.exec<MessageRow>("SELECT * FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?", bound, limit + 1).toArray();
    const more = rows.length > limit;
    return { messages: rows.slice(0, limit).reverse().map(toMessage), more };
  }

  /** Deletes messages older than the retention period; the oldest remaining message's time, if any. */
  expireMessages(now: number): number | null {
    this.sql.exec("DELETE FROM messages WHERE ts < ?", now - RETENTION_MS);
    return this.sql.exec<{ oldest: number | null }>("SELECT MIN(ts) AS oldest FROM messages").one().oldest;
  }

  // --- per-user windows -----------------------------------------------------------------------

  /**
   * Sliding-window rate limit: milliseconds until the oldest send in the window leaves it when the
   * user has used RATE_LIMIT_COUNT sends, else null.
   */
  rateLimitWait(userId: string, now: number): number | null {
    this.sql.exec("DELETE FROM sent WHERE ts <= ?", now - Math.max(RATE_LIMIT_WINDOW_MS, REPEAT_WINDOW_MS));
    const row = this.sql.exec<{ n: number; oldest: number | null }>("SELECT COUNT(*) AS n, MIN(ts) AS oldest FROM sent WHERE user_id = ? AND ts > ?", userId, now - RATE_LIMIT_WINDOW_MS).one();
    return row.n >= RATE_LIMIT_COUNT ? Math.max(1, (row.oldest ?? now) + RATE_LIMIT_WINDOW_MS - now) : null;
  }

  /** Whether the user sent the same (normalised) text within the repeat window. */
  isRepeat(userId: string, norm: string, now: number): boolean {
    return this.sql.exec("SELECT 1 FROM sent WHERE user_id = ? AND norm = ? AND ts > ? LIMIT 1", userId, norm, now - REPEAT_WINDOW_MS).toArray().length > 0;
  }

  /** Milliseconds the user must still wait under slow mode (0: may send). */
  slowModeWait(userId: string, seconds: number, now: number): number {
    if (seconds <= 0) return 0;
    const last = this.sql.exec<{ ts: number }>("SELECT ts FROM last_sent WHERE user_id = ?", userId).toArray()[0]?.ts;
    return last === undefined ? 0 : Math.max(0, last + seconds * 1000 - now);
  }

  recordSend(userId: string, norm: string, now: number): void {
    this.sql.exec("INSERT INTO sent (user_id, ts, norm) VALUES (?, ?, ?)", userId, now, norm);
    this.sql.exec("INSERT OR REPLACE INTO last_sent (user_id, ts) VALUES (?, ?)", userId, now);
  }

  // --- sanctions and moderators ---------------------------------------------------------------

  /** The user's ban or unexpired timeout, if any. */
  sanction(userId: string, now: number): Sanction | null {
    const row = this.sql.exec<{ kind: "ban" | "timeout"; until: number | null }>("SELECT kind, until FROM sanctions WHERE user_id = ?", userId).toArray()[0];
    if (!row) return null;
    if (row.kind === "timeout" && (row.until ?? 0) <= now) return null;
    return { kind: row.kind, until: row.until };
  }

  setTimeout(userId: string, until: number, by: string, now: number): void {
    this.sql.exec("INSERT OR REPLACE INTO sanctions (user_id, kind, until, by, ts) VALUES (?, 'timeout', ?, ?, ?)", userId, until, by, now);
  }

  setBan(userId: string, banned: boolean, by: string, now: number): void {
    if (banned) this.sql.exec("INSERT OR REPLACE INTO sanctions (user_id, kind, until, by, ts) VALUES (?, 'ban', NULL, ?, ?)", userId, by, now);
    else this.sql.exec("DELETE FROM sanctions WHERE user_id = ?", userId);
  }

  isModerator(userId: string): boolean {
    return this.sql.exec("SELECT 1 FROM moderators WHERE user_id = ?", userId).toArray().length > 0;
  }

  setModerator(userId: string, on: boolean): void {
    if (on) this.sql.exec("INSERT OR IGNORE INTO moderators (user_id) VALUES (?)", userId);
    else this.sql.exec("DELETE FROM moderators WHERE user_id = ?", userId);
  }

  // --- moderation log -------------------------------------------------------------------------

  log(now: number, actor: string, action: string, target: string, detail: string | null): void {
    this.sql.exec("INSERT INTO mod_log (ts, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)", now, actor, action, target, detail);
  }

  /** A page of the moderation log, newest first, before sequence number `before`. */
  logPage(before: number | null, limit: number): { entries: ModLogEntry[]; more: boolean } {
    const rows = this.sql.exec<ModLogEntry & Record<string, SqlStorageValue>>("SELECT seq, ts, actor, action, target, detail FROM mod_log WHERE seq < ? ORDER BY seq DESC LIMIT ?", before ?? Number.MAX_SAFE_INTEGER, limit + 1).toArray();
    return { entries: rows.slice(0, limit).map((r) => ({ ...r })), more: rows.length > limit };
  }
}
