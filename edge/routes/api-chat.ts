import { Hono } from "hono";
import { jwtSecret } from "../accounts/auth.ts";
import { verifyUserToken } from "../accounts/user-token.ts";
import { CHAT_PROTOCOL_HEADER, CHAT_STREAM_HEADER, CHAT_USER_HEADER } from "../chat/chat-room.ts";
import { requireDb } from "../db/database.ts";
import type { EdgeEnv } from "../env.ts";
import { ApiError, notFound, unauthorized, unavailable } from "../http/api-error.ts";
import { getStream } from "../streams/stream-store.ts";

/** The subprotocol a browser offers beside its token: `new WebSocket(url, ["cascade-chat", token])`. */
export const CHAT_SUBPROTOCOL = "cascade-chat";

/** The user token from `?token=` or from `Sec-WebSocket-Protocol` (the entry that is not CHAT_SUBPROTOCOL). */
const chatToken = (url: URL, protocols: string[]): string | null => {
  const q = url.searchParams.get("token");
  if (q) return q;
  return protocols.find((p) => p !== CHAT_SUBPROTOCOL && p.split(".").length === 3) ?? null;
};

/**
 * `GET /api/v1/streams/:id/chat`: the stream's chat over a WebSocket, served by its ChatRoom
 * Durable Object. Anyone may connect and read; a valid user token (`?token=` or subprotocol) lets
 * the socket write. A bad token is refused (401) rather than silently downgraded to read-only.
 */
export const chatRoutes = () => {
  const app = new Hono<{ Bindings: EdgeEnv }>();
  app.get("/api/v1/streams/:id/chat", async (c) => {
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(426, "expected a WebSocket upgrade (Upgrade: websocket)", {}, { upgrade: "websocket" });
    const ns = c.env.CHAT_ROOM;
    if (!ns) throw unavailable("chat is disabled: no CHAT_ROOM binding");
    const id = c.req.param("id");
    const stream = await getStream(requireDb(c.env), id);
    if (!stream) throw notFound("stream");
    const url = new URL(c.req.url);
    const protocols = (c.req.header("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
    const token = chatToken(url, protocols);
    let user: { id: string; username: string; broadcaster: boolean } | null = null;
    if (token) {
      const result = await verifyUserToken(jwtSecret(c.env), token);
      if (!result.ok) throw unauthorized(result.reason === "expired" ? "token expired" : "invalid token");
      // The stream's owner is its chat's broadcaster (the moderator of this slice).
      user = { id: result.claims.sub, username: result.claims.username, broadcaster: result.claims.sub === stream.user_id };
    }
    // A fresh request: identity headers are set here only, never passed through from the client.
    const headers = new Headers({ upgrade: "websocket", [CHAT_STREAM_HEADER]: id });
    if (user) headers.set(CHAT_USER_HEADER, JSON.stringify(user));
    if (protocols.length > 0) headers.set(CHAT_PROTOCOL_HEADER, protocols.includes(CHAT_SUBPROTOCOL) ? CHAT_SUBPROTOCOL : protocols[0]!);
    const res = await ns.get(ns.idFromName(id)).fetch(new Request(`https://chat-room/${encodeURIComponent(id)}`, { headers }));
    // Re-wrapped so later middleware may set headers (a fetched response's headers are immutable).
    return new Response(res.body, { status: res.status, headers: res.headers, webSocket: res.webSocket });
  });
  return app;
};
