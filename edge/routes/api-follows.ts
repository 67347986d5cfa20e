import { Hono } from "hono";
import { requireUser } from "../accounts/auth.ts";
import { findUserByUsername, USERNAME_PATTERN, USERNAME_RULE } from "../accounts/users.ts";
import { decodeCursor, encodeCursor } from "../db/cursor.ts";
import { isoNow, requireDb } from "../db/database.ts";
import { follow, followedAt, listFollowing, unfollow } from "../follows/follow-store.ts";
import { invalidFields, notFound, type FieldErrors } from "../http/api-error.ts";
import { queryInteger } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields } from "../http/json-body.ts";
import { listNotifications, markRead, notificationView, unreadCount } from "../notifications/notification-store.ts";

const NOTIFICATION_ID_PATTERN = /^[0-9a-z_]{1,40}$/;
const MAX_READ_IDS = 100;

/** `limit` and `cursor` query parameters of a keyset page over (created_at, id). */
const pageQuery = (q: (name: string) => string | undefined, kind: string, errors: FieldErrors) => {
  const limit = queryInteger(q("limit"), "limit", { min: 1, max: 100, fallback: 50 }, errors);
  const text = q("cursor");
  const cursor = text ? decodeCursor(text, kind, ["string", "string"]) : null;
  if (text && !cursor) errors.cursor = "invalid cursor";
  return { limit, after: cursor ? ([cursor[0], cursor[1]] as [string, string]) : null };
};

/** The channel named in the path: 400 for a name that cannot exist, 404 when nobody has it, 400 for yourself. */
const loadChannel = async (db: D1Database, username: string, me: string) => {
  if (!USERNAME_PATTERN.test(username)) throw invalidFields({ username: `must be ${USERNAME_RULE}` }, "invalid username");
  const user = await findUserByUsername(db, username);
  if (!user) throw notFound("user");
  if (user.id === me) throw invalidFields({ username: "you cannot follow yourself" }, "you cannot follow yourself");
  return user;
};

/** Follows (`/api/v1/follows`) and the caller's notifications (`/api/v1/notifications`). */
export const followRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.put("/api/v1/follows/:username", async (c) => {
    const me = await requireUser(c);
    const db = requireDb(c.env);
    const channel = await loadChannel(db, c.req.param("username"), me.sub);
    const created = await follow(db, me.sub, channel.id);
    const at = await followedAt(db, me.sub, channel.id);
    return c.json({ following: true, user: { id: channel.id, username: channel.username, display_name: channel.display_name ?? channel.username }, followed_at: at }, created ? 201 : 200);
  });

  app.delete("/api/v1/follows/:username", async (c) => {
    const me = await requireUser(c);
    const db = requireDb(c.env);
    const channel = await loadChannel(db, c.req.param("username"), me.sub);
    await unfollow(db, me.sub, channel.id);
    return c.body(null, 204);
  });

  app.get("/api/v1/follows", async (c) => {
    const me = await requireUser(c);
    const errors: FieldErrors = {};
    const { limit, after } = pageQuery((n) => c.req.query(n), "follows", errors);
    assertNoFieldErrors(errors);
    const rows = await listFollowing(requireDb(c.env), me.sub, limit + 1, after);
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      follows: page.map((f) => ({ user: { id: f.followed_id, username: f.username, display_name: f.display_name ?? f.username }, followed_at: f.created_at })),
      next_cursor: rows.length > limit && last ? encodeCursor("follows", [last.created_at, last.followed_id]) : null,
    });
  });

  app.get("/api/v1/notifications", async (c) => {
    const me = await requireUser(c);
    const errors: FieldErrors = {};
    const { limit, after } = pageQuery((n) => c.req.query(n), "notifications", errors);
    const unread = c.req.query("unread");
    if (unread !== undefined && unread !== "true" && unread !== "false") errors.unread = "must be true or false";
    assertNoFieldErrors(errors);
    const db = requireDb(c.env);
    const rows = await listNotifications(db, me.sub, limit + 1, after, unread === "true");
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return c.json({
      notifications: page.map(notificationView),
      unread_count: await unreadCount(db, me.sub),
      next_cursor: rows.length > limit && last ? encodeCursor("notifications", [last.created_at, last.id]) : null,
    });
  });

  app.post("/api/v1/notifications/read", async (c) => {
    const me = await requireUser(c);
    const body = await readJsonObject(c);
    const errors: FieldErrors = unknownFields(body, ["ids", "all"]);
    const hasIds = Object.hasOwn(body, "ids");
    const hasAll = Object.hasOwn(body, "all");
    let ids: string[] | null = null;
    if (hasIds && hasAll) errors.ids = "send either ids or all, not both";
    else if (!hasIds && !hasAll) errors.ids = "required (or all: true)";
    else if (hasAll) {
      if (body.all !== true) errors.all = "must be true";
    } else {
      const raw = body.ids;
      if (!Array.isArray(raw) || raw.length === 0) errors.ids = "must be a non-empty array of notification ids";
      else if (raw.length > MAX_READ_IDS) errors.ids = `must have at most ${MAX_READ_IDS} items`;
      else {
        const bad = raw.findIndex((v) => typeof v !== "string" || !NOTIFICATION_ID_PATTERN.test(v));
        if (bad >= 0) errors.ids = `item ${bad}: must be a notification id`;
        else ids = [...new Set(raw as string[])];
      }
    }
    assertNoFieldErrors(errors);
    const db = requireDb(c.env);
    const updated = await markRead(db, me.sub, ids, isoNow());
    return c.json({ updated, unread_count: await unreadCount(db, me.sub) });
  });

  return app;
};
