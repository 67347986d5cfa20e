import { isoNow } from "../db/database.ts";
import { randomId } from "../db/ids.ts";

/** Global roles. "Channel moderator" is per channel (table `channel_moderators`), not a role. */
export const ROLES = ["viewer", "streamer", "moderator", "admin"] as const;
export type Role = (typeof ROLES)[number];
/** A new account can stream at once. */
export const DEFAULT_ROLE: Role = "streamer";

export const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/;
export const USERNAME_RULE = "3–32 characters: lowercase letters, digits and underscore";
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

export interface UserRow {
  id: string;
  username: string;
  password_hash: string;
  role: Role;
  display_name: string | null;
  created_at: string;
  updated_at: string;
}

/** What the API shows of a user (never the hash). */
export const userView = (u: Pick<UserRow, "id" | "username" | "role" | "display_name" | "created_at">) => ({
  id: u.id,
  username: u.username,
  display_name: u.display_name ?? u.username,
  role: u.role,
  created_at: u.created_at,
});

const COLUMNS = "id, username, password_hash, role, display_name, created_at, updated_at";

export const findUserByUsername = (db: D1Database, username: string): Promise<UserRow | null> =>
  db.prepare(`SELECT ${COLUMNS} FROM users WHERE username = ?1`).bind(username).first<UserRow>();

export const findUserById = (db: D1Database, id: string): Promise<UserRow | null> => db.prepare(`SELECT ${COLUMNS} FROM users WHERE id = ?1`).bind(id).first<UserRow>();

/** Inserts a user; null when the username is taken. */
export const insertUser = async (db: D1Database, input: { username: string; passwordHash: string; role?: Role }): Promise<UserRow | null> => {
  const now = isoNow();
  const row: UserRow = { id: randomId(12), username: input.username, password_hash: input.passwordHash, role: input.role ?? DEFAULT_ROLE, display_name: null, created_at: now, updated_at: now };
  const result = await db
    .prepare("INSERT INTO users (id, username, password_hash, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5) ON CONFLICT (username) DO NOTHING")
    .bind(row.id, row.username, row.password_hash, row.role, now)
    .run();
  return result.meta.changes === 1 ? row : null;
};
