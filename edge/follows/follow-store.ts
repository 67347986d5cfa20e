import { isoNow } from "../db/database.ts";

export interface FollowRow {
  followed_id: string;
  username: string;
  display_name: string | null;
  created_at: string;
}

/** Follows `followedId`; false when the follow already existed (the original time is kept). */
export const follow = async (db: D1Database, followerId: string, followedId: string): Promise<boolean> => {
  const r = await db
    .prepare("INSERT INTO follows (follower_id, followed_id, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (follower_id, followed_id) DO NOTHING")
    .bind(followerId, followedId, isoNow())
    .run();
  return r.meta.changes === 1;
};

export const unfollow = async (db: D1Database, followerId: string, followedId: string): Promise<boolean> => {
  const r = await db.prepare("DELETE FROM follows WHERE follower_id = ?1 AND followed_id = ?2").bind(followerId, followedId).run();
  return r.meta.changes === 1;
};

export const followedAt = async (db: D1Database, followerId: string, followedId: string): Promise<string | null> =>
  (await db.prepare("SELECT created_at FROM follows WHERE follower_id = ?1 AND followed_id = ?2").bind(followerId, followedId).first<{ created_at: string }>())?.created_at ??
  null;

/** The channels `followerId` follows, newest follow first; `after` continues a page. */
export const listFollowing = async (db: D1Database, followerId: string, limit: number, after: [string, string] | null): Promise<FollowRow[]> => {
  const r = await db
    .prepare(
      `SELECT f.followed_id, u.username, u.display_name, f.created_at FROM follows f JOIN users u ON u.id = f.followed_id
       WHERE f.follower_id = ?1 AND (?2 IS NULL OR (f.created_at, f.followed_id) < (?2, ?3))
       ORDER BY f.created_at DESC, f.followed_id DESC LIMIT ?4`,
    )
    .bind(followerId, after?.[0] ?? null, after?.[1] ?? null, limit)
    .all<FollowRow>();
  return r.results;
};

/** One keyset page of a channel's follower ids, in id order (follows_by_followed). */
export const followerIdsPage = async (db: D1Database, followedId: string, afterId: string | null, limit: number): Promise<string[]> => {
  const r = await db
    .prepare("SELECT follower_id FROM follows WHERE followed_id = ?1 AND follower_id > ?2 ORDER BY follower_id LIMIT ?3")
    .bind(followedId, afterId ?? "", limit)
    .all<{ follower_id: string }>();
  return r.results.map((row) => row.follower_id);
};

export const followerCount = async (db: D1Database, followedId: string): Promise<number> =>
  (await db.prepare("SELECT count(*) AS n FROM follows WHERE followed_id = ?1").bind(followedId).first<{ n: number }>())?.n ?? 0;
