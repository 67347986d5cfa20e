import { Hono, type Context } from "hono";
import { jwtSecret, optionalUser, requireUser } from "../accounts/auth.ts";
import type { UserClaims } from "../accounts/user-token.ts";
import { verifyUserToken } from "../accounts/user-token.ts";
import { findUserById } from "../accounts/users.ts";
import { addModerator, badgesFor, deleteEmote, emoteUrlProblem, isChannelModerator, listEmotes, listModerators, MAX_EMOTES, putEmote, removeModerator } from "../chat/channel-store.ts";
import { CHAT_JOIN_HEADER, CHAT_PROTOCOL_HEADER, type ChatJoin } from "../do/chat-room/chat-room.ts";
import { EMOTE_CODE } from "../chat/protocol.ts";
import { announceEmotes, announceModerator, chatShard, ChatShardClient, chatShardCount, shardFor } from "../do/chat-room/client.ts";
import { isoNow, requireDb } from "../db/database.ts";
import { ApiError, conflict, forbidden, invalidFields, notFound, unauthorized, unavailable, type FieldErrors } from "../http/api-error.ts";
import { queryInteger } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields } from "../http/json-body.ts";
import { isStreamId, parseUint } from "../../shared/ids.ts";
import { loadStream } from "../streams/access.ts";
import { requireViewAccess } from "../streams/view-access.ts";
import type { StreamRow } from "../streams/model.ts";

/** The subprotocol a browser offers beside its token: `new WebSocket(url, ["cascade-chat", token])`. */
export const CHAT_SUBPROTOCOL = "cascade-chat";

/** Message ids are server-made UUIDs. */
const MESSAGE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Platform staff moderate every chat. */
const isStaff = (user: UserClaims): boolean => user.role === "admin" || user.role === "moderator";

/** The user token from `?token=` or from `Sec-WebSocket-Protocol` (the entry that is not CHAT_SUBPROTOCOL). */
const chatToken = (url: URL, protocols: string[]): string | null => {
  const q = url.searchParams.get("token");
  if (q) return q;
  return protocols.find((p) => p !== CHAT_SUBPROTOCOL && p.split(".").length === 3) ?? null;
};

const chatNamespace = (env: Env) => {
  if (!env.CHAT_ROOM) throw unavailable("chat is disabled: no CHAT_ROOM binding");
  return env.CHAT_ROOM;
};

/** Shard 0 answers room-wide reads: every shard keeps the whole history and moderation log. */
const readShard = (env: Env, streamId: string) => {
  chatNamespace(env);
  return chatShard(env, streamId, 0)!;
};

/** The broadcaster, a channel moderator or staff; 403 for anyone else. */
const requireModerator = async (db: D1Database, user: UserClaims, stream: StreamRow): Promise<void> => {
  if (user.sub === stream.user_id || isStaff(user)) return;
  if (!(await isChannelModerator(db, stream.user_id, user.sub))) throw forbidden("only the broadcaster and channel moderators may do this");
};

/** The broadcaster (or an admin); 403 for anyone else. */
const requireBroadcaster = (user: UserClaims, stream: StreamRow): void => {
  if (user.sub !== stream.user_id && user.role !== "admin") throw forbidden("only the broadcaster may do this");
};

/**
 * Chat under `/api/v1/streams/:id/chat`: the WebSocket (anyone reads, signed-in users write),
 * paged history, the moderation log, channel moderators and the channel's emote set.
 */
export const chatRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  // A bad token is refused (401) rather than silently downgraded to read-only.
  app.get("/api/v1/streams/:id/chat", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "expected a WebSocket upgrade (Upgrade: websocket)", {}, { upgrade: "websocket" });
    const ns = chatNamespace(c.env);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    const url = new URL(c.req.url);
    const protocols = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const token = chatToken(url, protocols);
    const shards = chatShardCount(c.env);
    let join: ChatJoin = { streamId: stream.id, shard: 0, shards, ownerId: stream.user_id, user: null, canModerate: false, staff: false };
    if (!token) await requireViewAccess(c, stream, null);
    if (token) {
      const result = await verifyUserToken(jwtSecret(c.env), token);
      if (!result.ok) throw unauthorized(result.reason === "expired" ? "token expired" : "invalid token");
      const claims = result.claims;
      const badges = await badgesFor(db, stream.user_id, claims.sub);
      const staff = isStaff(claims);
      await requireViewAccess(c, stream, claims);
      join = { ...join, user: { id: claims.sub, username: claims.username, badges }, staff, canModerate: staff || badges.includes("broadcaster") || badges.includes("moderator") };
    }
    join.shard = shardFor(join.user?.id ?? null, shards);
    // A fresh request: identity headers are set here only, never passed through from the client.
    const headers = new Headers({ upgrade: "websocket", [CHAT_JOIN_HEADER]: JSON.stringify(join) });
    if (protocols.length > 0) headers.set(CHAT_PROTOCOL_HEADER, protocols.includes(CHAT_SUBPROTOCOL) ? CHAT_SUBPROTOCOL : protocols[0]!);
    const res = await new ChatShardClient(ns, stream.id, join.shard).join(new Request(`https://chat-room/${encodeURIComponent(stream.id)}`, { headers }));
    // Re-wrapped so later middleware may set headers (a fetched response's headers are immutable).
    return new Response(res.body, { status: res.status, headers: res.headers, webSocket: res.webSocket });
  });

  app.get("/api/v1/streams/:id/chat/messages", async (c) => {
    const user = await optionalUser(c);
    const stream = await loadStream(requireDb(c.env), c.req.param("id"));
    await requireViewAccess(c, stream, user);
    const errors: FieldErrors = {};
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 50 }, errors);
    const before = c.req.query("before") ?? null;
    if (before !== null && !MESSAGE_ID.test(before)) errors.before = "must be a message id";
    assertNoFieldErrors(errors);
    const page = await readShard(c.env, stream.id).historyPage(before, limit);
    if (!page) throw notFound("message");
    return c.json({ messages: page.messages, next_before: page.more ? (page.messages[0]?.id ?? null) : null });
  });

  app.get("/api/v1/streams/:id/chat/moderation-log", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    await requireModerator(db, user, stream);
    const errors: FieldErrors = {};
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 50 }, errors);
    const beforeText = c.req.query("before");
    const before = beforeText === undefined ? null : parseUint(beforeText);
    if (beforeText !== undefined && before === null) errors.before = "must be a log sequence number";
    assertNoFieldErrors(errors);
    const page = await readShard(c.env, stream.id).moderationLog(before, limit);
    return c.json({ entries: page.entries, next_before: page.more ? (page.entries.at(-1)?.seq ?? null) : null });
  });

  app.get("/api/v1/streams/:id/chat/moderators", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    await requireModerator(db, user, stream);
    return c.json({ moderators: await listModerators(db, stream.user_id) });
  });

  const changeModerator = async (c: Context<{ Bindings: Env }>, on: boolean) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id") ?? "");
    requireBroadcaster(user, stream);
    const targetId = c.req.param("userId") ?? "";
    if (!isStreamId(targetId)) throw invalidFields({ userId: "must be a user id" }, "invalid user id");
    if (targetId === stream.user_id) throw invalidFields({ userId: "the broadcaster already moderates their chat" }, "the broadcaster already moderates their chat");
    const target = await findUserById(db, targetId);
    if (!target) throw notFound("user");
    const changed = on ? await addModerator(db, stream.user_id, target.id, isoNow()) : await removeModerator(db, stream.user_id, target.id);
    if (!on && !changed) throw notFound("moderator");
    if (changed) await announceModerator(c.env, stream.id, target, on, user.sub);
    return on ? c.json({ user_id: target.id, username: target.username, moderator: true }, changed ? 201 : 200) : c.body(null, 204);
  };
  app.put("/api/v1/streams/:id/chat/moderators/:userId", (c) => changeModerator(c, true));
  app.delete("/api/v1/streams/:id/chat/moderators/:userId", (c) => changeModerator(c, false));

  app.get("/api/v1/streams/:id/chat/emotes", async (c) => {
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    await requireViewAccess(c, stream, await optionalUser(c));
    // Shared by every viewer of the room: a short cache keeps the page loads cheap (a private
    // stream's answer stays in its viewers' browsers, so it does not tell anyone else it exists).
    return c.json({ emotes: await listEmotes(db, stream.user_id) }, 200, { "cache-control": `${stream.visibility === "private" ? "private" : "public"}, max-age=10` });
  });

  app.put("/api/v1/streams/:id/chat/emotes/:code", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    requireBroadcaster(user, stream);
    const code = c.req.param("code") ?? "";
    const body = await readJsonObject(c, 24 * 1024);
    const errors: FieldErrors = unknownFields(body, ["image_url"]);
    if (!EMOTE_CODE.test(code)) errors.code = "must be a letter then 1–24 letters, digits or _";
    const url = body.image_url;
    if (typeof url !== "string") errors.image_url = "required: an https URL or a data:image/(png|gif|webp);base64 URL";
    else {
      const problem = emoteUrlProblem(url);
      if (problem) errors.image_url = problem;
    }
    assertNoFieldErrors(errors);
    const outcome = await putEmote(db, stream.user_id, code, url as string, isoNow());
    if (outcome === "full") throw conflict(`a channel has at most ${MAX_EMOTES} emotes`);
    await announceEmotes(c.env, stream.id, user.sub);
    return c.json({ code, image_url: url }, outcome === "created" ? 201 : 200);
  });

  app.delete("/api/v1/streams/:id/chat/emotes/:code", async (c) => {
    const user = await requireUser(c);
    const db = requireDb(c.env);
    const stream = await loadStream(db, c.req.param("id"));
    requireBroadcaster(user, stream);
    const code = c.req.param("code") ?? "";
    if (!EMOTE_CODE.test(code)) throw invalidFields({ code: "must be a letter then 1–24 letters, digits or _" }, "invalid emote code");
    if (!(await deleteEmote(db, stream.user_id, code))) throw notFound("emote");
    await announceEmotes(c.env, stream.id, user.sub);
    return c.body(null, 204);
  });

  return app;
};
