/**
 * A channel's chat settings in D1, shared by all its streams' rooms: moderators and emotes. Badges
 * for a joining user are derived here (broadcaster, moderator, follower), once per socket.
 */
import type { Badge } from "./protocol.ts";

/** Most emotes per channel. */
export const MAX_EMOTES = 100;
/** Longest emote image reference: an https URL or a small inline image. */
export const MAX_EMOTE_URL_CHARS = 16 * 1024;
const DATA_IMAGE = /^data:image\/(png|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$/;

/** Why an emote image reference is not acceptable, or null when it is. */
export const emoteUrlProblem = (url: string): string | null => {
  if (url.length > MAX_EMOTE_URL_CHARS) return `must be at most ${MAX_EMOTE_URL_CHARS} characters`;
  // The URL parser would drop tabs and newlines silently, but the raw string is what is stored and sent.
  if (/\s/.test(url) || [...url].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) return "must not contain whitespace or control characters";
  if (DATA_IMAGE.test(url)) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "must be an https URL or a data:image/(png|gif|webp);base64 URL";
  }
  if (parsed.protocol !== "https:") return "must be an https URL or a data:image/(png|gif|webp);base64 URL";
  if (parsed.username || parsed.password) return "must not carry credentials";
  return null;
};

export const badgesFor = async (db: D1Database, ownerId: string, userId: string): Promise<Badge[]> => {
  if (userId === ownerId) return ["broadcaster"];
  const row = await db
    .prepare(
      `SELECT EXISTS(SELECT 1 FROM channel_moderators WHERE channel_user_id = ?1 AND user_id = ?2) AS moderator,
              EXISTS(SELECT 1 FROM follows WHERE follower_id = ?2 AND followed_id = ?1) AS follower`,
    )
    .bind(ownerId, userId)
    .first<{ moderator: number; follower: number }>();
  const badges: Badge[] = [];
  if (row?.moderator) badges.push("moderator");
  if (row?.follower) badges.push("follower");
  return badges;
};

export interface ModeratorView {
  user_id: string;
  username: string;
  added_at: string;
}

export const listModerators = async (db: D1Database, ownerId: string): Promise<ModeratorView[]> => {
  const { results } = await db
    .prepare("SELECT m.user_id, u.username, m.created_at AS added_at FROM channel_moderators m JOIN users u ON u.id = m.user_id WHERE m.channel_user_id = ?1 ORDER BY m.created_at, m.user_id")
    .bind(ownerId)
    .all<ModeratorView>();
  return results;
};

export const isChannelModerator = async (db: D1Database, ownerId: string, userId: string): Promise<boolean> =>
  (await db.prepare("SELECT 1 AS x FROM channel_moderators WHERE channel_user_id = ?1 AND user_id = ?2").bind(ownerId, userId).first()) !== null;

/** Adds a moderator; false when they already were one. */
export const addModerator = async (db: D1Database, ownerId: string, userId: string, now: string): Promise<boolean> => {
  const r = await db.prepare("INSERT OR IGNORE INTO channel_moderators (channel_user_id, user_id, created_at) VALUES (?1, ?2, ?3)").bind(ownerId, userId, now).run();
  return r.meta.changes > 0;
};

/** Removes a moderator; false when they were not one. */
export const removeModerator = async (db: D1Database, ownerId: string, userId: string): Promise<boolean> => {
  const r = await db.prepare("DELETE FROM channel_moderators WHERE channel_user_id = ?1 AND user_id = ?2").bind(ownerId, userId).run();
  return r.meta.changes > 0;
};

export interface EmoteView {
  code: string;
  image_url: string;
}

export const listEmotes = async (db: D1Database, ownerId: string): Promise<EmoteView[]> => {
  const { results } = await db.prepare("SELECT code, image_url FROM channel_emotes WHERE channel_user_id = ?1 ORDER BY code").bind(ownerId).all<EmoteView>();
  return results;
};

/** Creates or replaces an emote; "full" when the channel already has MAX_EMOTES other ones. */
export const putEmote = async (db: D1Database, ownerId: string, code: string, imageUrl: string, now: string): Promise<"created" | "updated" | "full"> => {
  const existing = await db.prepare("SELECT 1 AS x FROM channel_emotes WHERE channel_user_id = ?1 AND code = ?2").bind(ownerId, code).first();
  if (existing) {
    await db.prepare("UPDATE channel_emotes SET image_url = ?3 WHERE channel_user_id = ?1 AND code = ?2").bind(ownerId, code, imageUrl).run();
    return "updated";
  }
  // The count check and the insert are one statement, so two concurrent PUTs cannot pass MAX_EMOTES.
  const r = await db
    .prepare("INSERT INTO channel_emotes (channel_user_id, code, image_url, created_at) SELECT ?1, ?2, ?3, ?4 WHERE (SELECT COUNT(*) FROM channel_emotes WHERE channel_user_id = ?1) < ?5")
    .bind(ownerId, code, imageUrl, now, MAX_EMOTES)
    .run();
  return r.meta.changes > 0 ? "created" : "full";
};

export const deleteEmote = async (db: D1Database, ownerId: string, code: string): Promise<boolean> => {
  const r = await db.prepare("DELETE FROM channel_emotes WHERE channel_user_id = ?1 AND code = ?2").bind(ownerId, code).run();
  return r.meta.changes > 0;
};
