import type { GoLive } from "./messages.ts";

export interface NotificationRow {
  id: string;
  type: string;
  stream_id: string | null;
  payload: string;
  created_at: string;
  read_at: string | null;
}

/** The notification's JSON payload for a go-live (what the client shows). */
export const goLivePayload = (g: GoLive) => ({
  stream_id: g.stream_id,
  title: g.title,
  category: g.category,
  channel: g.channel,
  started_at: g.started_at,
  watch_url: `/watch/${g.stream_id}`,
});

/**
 * One `stream_started` notification per follower in `followerIds` that still follows the channel
 * and still exists: a single statement (the ids travel as one JSON parameter; CROSS JOIN keeps them
 * the outer loop, so each is one index probe of follows), idempotent through
 * UNIQUE (user_id, dedupe_key). Returns how many were new.
 */
export const insertGoLiveNotifications = async (db: D1Database, g: GoLive, followerIds: string[], createdAt: string): Promise<number> => {
  if (followerIds.length === 0) return 0;
  const r = await db
    .prepare(
      `INSERT INTO notifications (id, user_id, type, stream_id, payload, dedupe_key, created_at)
       SELECT lower(hex(randomblob(10))), f.follower_id, 'stream_started', ?1, ?2, ?3, ?4
       FROM json_each(?5) j CROSS JOIN follows f ON f.follower_id = j.value AND f.followed_id = ?6
       WHERE true
       ON CONFLICT (user_id, dedupe_key) DO NOTHING`,
    )
    .bind(g.stream_id, JSON.stringify(goLivePayload(g)), g.dedupe_key, createdAt, JSON.stringify(followerIds), g.channel.id)
    .run();
  return r.meta.changes;
};

/** A user's notifications, newest first; `after` continues a page; `unreadOnly` skips read ones. */
export const listNotifications = async (db: D1Database, userId: string, limit: number, after: [string, string] | null, unreadOnly: boolean): Promise<NotificationRow[]> => {
  const r = await db
    .prepare(
      `SELECT id, type, stream_id, payload, created_at, read_at FROM notifications
       WHERE user_id = ?1 AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) AND (?4 = 0 OR read_at IS NULL)
       ORDER BY created_at DESC, id DESC LIMIT ?5`,
    )
    .bind(userId, after?.[0] ?? null, after?.[1] ?? null, unreadOnly ? 1 : 0, limit)
    .all<NotificationRow>();
  return r.results;
};

export const unreadCount = async (db: D1Database, userId: string): Promise<number> =>
  (await db.prepare("SELECT count(*) AS n FROM notifications WHERE user_id = ?1 AND read_at IS NULL").bind(userId).first<{ n: number }>())?.n ?? 0;

/** Marks the given (or, with `ids` null, all) unread notifications of `userId` read; returns how many changed. */
export const markRead = async (db: D1Database, userId: string, ids: string[] | null, at: string): Promise<number> => {
  const r =
    ids === null
      ? await db.prepare("UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL").bind(userId, at).run()
      : await db
          .prepare("UPDATE notifications SET read_at = ?2 WHERE user_id = ?1 AND read_at IS NULL AND id IN (SELECT value FROM json_each(?3))")
          .bind(userId, at, JSON.stringify(ids))
          .run();
  return r.meta.changes;
};

export const notificationView = (n: NotificationRow) => {
  let payload: unknown = {};
  try {
    payload = JSON.parse(n.payload);
  } catch {
    payload = {};
  }
  return { id: n.id, type: n.type, stream_id: n.stream_id, payload, created_at: n.created_at, read: n.read_at !== null, read_at: n.read_at };
};
