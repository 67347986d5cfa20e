import { createExecutionContext, env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import type { EdgeEnv } from "../env.ts";
import { apiClient } from "../test-support/api-client.ts";
import { ChatRoom } from "./chat-room.ts";
import { HISTORY_ON_JOIN, RATE_LIMIT_COUNT, type ChatMessage, type ErrorFrame, type WelcomeFrame } from "./protocol.ts";

const api = apiClient();
const { app } = createEdgeApp();
const testEnv = (): EdgeEnv => env as unknown as EdgeEnv;

type Frame = { type: string } & Record<string, unknown>;

/** A client socket with every frame it received and a way to wait for the next matching one. */
interface ChatClient {
  ws: WebSocket;
  frames: Frame[];
  next: <T extends Frame = Frame>(pred: (f: Frame) => boolean, what?: string) => Promise<T>;
  send: (data: unknown) => void;
  closed: () => boolean;
}

const connect = async (streamId: string, o: { token?: string; protocol?: string[] } = {}): Promise<ChatClient> => {
  const headers: Record<string, string> = { upgrade: "websocket" };
  if (o.protocol) headers["sec-websocket-protocol"] = o.protocol.join(", ");
  const qs = o.token ? `?token=${encodeURIComponent(o.token)}` : "";
  const res = await app.fetch(new Request(`http://edge.test/api/v1/streams/${streamId}/chat${qs}`, { headers }), testEnv(), createExecutionContext());
  if (res.status !== 101 || !res.webSocket) throw new Error(`upgrade failed: ${res.status} ${await res.text()}`);
  const ws = res.webSocket;
  const frames: Frame[] = [];
  let cursor = 0;
  let isClosed = false;
  const waiters: Array<() => void> = [];
  ws.addEventListener("message", (e) => {
    frames.push(JSON.parse(e.data as string) as Frame);
    for (const w of waiters.splice(0)) w();
  });
  ws.addEventListener("close", () => {
    isClosed = true;
  });
  ws.accept();
  const next = async <T extends Frame>(pred: (f: Frame) => boolean, what = "frame"): Promise<T> => {
    const deadline = Date.now() + 5000;
    for (;;) {
      while (cursor < frames.length) {
        const f = frames[cursor++]!;
        if (pred(f)) return f as T;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(frames.slice(-5))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 100);
      });
    }
  };
  return { ws, frames, next, send: (d) => ws.send(typeof d === "string" ? d : JSON.stringify(d)), closed: () => isClosed };
};

const setup = async () => {
  const owner = await api.signUp("chat");
  const stream = await api.createStream(owner.token, { title: "Chat test", category: "gaming" });
  return { owner, id: stream.stream_id };
};

const welcome = (c: ChatClient) => c.next<WelcomeFrame & Frame>((f) => f.type === "system" && f.event === "welcome", "welcome");
const isError = (code: string) => (f: Frame) => f.type === "error" && f.code === code;

describe("chat: join and broadcast", () => {
  it("a reader joins with the history; a message reaches both sockets with a server id and timestamp", async () => {
    const { owner, id } = await setup();
    const writer = await connect(id, { token: owner.token });
    const w = await welcome(writer);
    expect(w).toMatchObject({ stream_id: id, can_write: true, user: { id: owner.user.id, username: owner.username }, history: [] });
    const reader = await connect(id);
    expect(await welcome(reader)).toMatchObject({ can_write: false, user: null, history: [] });

    const before = Date.now();
    writer.send({ type: "message", text: "  hello chat 👋  ", id: "client-chosen", ts: 1 });
    const got = await Promise.all([writer, reader].map((c) => c.next<ChatMessage & Frame>((f) => f.type === "message", "message")));
    for (const m of got) {
      expect(m).toMatchObject({ type: "message", user_id: owner.user.id, username: owner.username, text: "hello chat 👋" });
      expect(m.id).not.toBe("client-chosen");
      expect(m.ts).toBeGreaterThanOrEqual(before);
    }
    expect(got[0]!.id).toBe(got[1]!.id);

    // A later joiner gets it as history.
    const late = await connect(id);
    expect((await welcome(late)).history).toEqual([got[0]]);
    for (const c of [writer, reader, late]) c.ws.close(1000, "bye");
  });

  it("the token may come as a subprotocol, which is echoed without the token", async () => {
    const { owner, id } = await setup();
    const headers = { upgrade: "websocket", "sec-websocket-protocol": `cascade-chat, ${owner.token}` };
    const res = await app.fetch(new Request(`http://edge.test/api/v1/streams/${id}/chat`, { headers }), testEnv(), createExecutionContext());
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("cascade-chat");
    res.webSocket!.accept();
    res.webSocket!.close(1000);
    const c = await connect(id, { protocol: ["cascade-chat", owner.token] });
    expect(await welcome(c)).toMatchObject({ can_write: true });
    c.ws.close(1000);
  });

  it("refuses a bad token, an unknown stream and a plain GET", async () => {
    const { id } = await setup();
    const call = (path: string, headers: Record<string, string> = { upgrade: "websocket" }) => app.fetch(new Request(`http://edge.test${path}`, { headers }), testEnv(), createExecutionContext());
    expect((await call(`/api/v1/streams/${id}/chat?token=not.a.token`)).status).toBe(401);
    expect((await call(`/api/v1/streams/nope-${id}/chat`)).status).toBe(404);
    expect((await call(`/api/v1/streams/${id}/chat`, {})).status).toBe(426);
  });
});

describe("chat: bad input gets an error frame and the socket stays open", () => {
  it("oversize messages, invalid JSON, unknown types, anonymous writes", async () => {
    const { owner, id } = await setup();
    const c = await connect(id, { token: owner.token });
    await welcome(c);
    c.send({ type: "message", text: "a".repeat(501) });
    await c.next(isError("message_too_long"), "message_too_long");
    // 500 code points is fine even when each is a surrogate pair.
    c.send({ type: "message", text: "😀".repeat(500) });
    expect((await c.next<ChatMessage & Frame>((f) => f.type === "message")).text).toBe("😀".repeat(500));
    c.send({ type: "message", text: "😀".repeat(501) });
    await c.next(isError("message_too_long"), "message_too_long (emoji)");
    c.send("{not json");
    await c.next(isError("invalid_json"), "invalid_json");
    c.send({ type: "shout", text: "hi" });
    await c.next(isError("unknown_type"), "unknown_type");
    c.send({ type: "slow_mode", seconds: 5 });
    await c.next(isError("unsupported_type"), "unsupported_type");
    c.send([1, 2]);
    await c.next(isError("invalid_frame"), "invalid_frame");
    c.send({ type: "message", text: 42 });
    await c.next(isError("invalid_frame"), "invalid_frame (text)");
    c.send({ type: "message", text: "   " });
    await c.next(isError("empty_message"), "empty_message");
    c.send(JSON.stringify({ type: "message", text: "x".repeat(20_000) }));
    await c.next(isError("frame_too_large"), "frame_too_large");
    // Still open and working.
    c.send({ type: "message", text: "still here" });
    expect((await c.next<ChatMessage & Frame>((f) => f.type === "message")).text).toBe("still here");
    expect(c.closed()).toBe(false);

    const anon = await connect(id);
    await welcome(anon);
    anon.send({ type: "message", text: "let me in" });
    await anon.next(isError("unauthenticated"), "unauthenticated");
    expect(anon.closed()).toBe(false);
    expect((await runInDurableObject(env.CHAT_ROOM!.get(env.CHAT_ROOM!.idFromName(id)), (room: ChatRoom) => room.recentMessages())).map((m) => m.text)).toEqual(["😀".repeat(500), "still here"]);
    c.ws.close(1000);
    anon.ws.close(1000);
  });
});

describe("chat: rate limit and history", () => {
  it(`the ${RATE_LIMIT_COUNT + 1}st message within 30 s is refused with retry_after_ms; other users are unaffected`, async () => {
    const { owner, id } = await setup();
    const other = await api.signUp("chat2");
    const c = await connect(id, { token: owner.token });
    const o = await connect(id, { token: other.token });
    await welcome(c);
    await welcome(o);
    for (let i = 0; i < RATE_LIMIT_COUNT; i++) c.send({ type: "message", text: `m${i}` });
    for (let i = 0; i < RATE_LIMIT_COUNT; i++) await c.next((f) => f.type === "message", `message ${i}`);
    // Every socket sees messages in the order the room stored them (the order its history replays).
    const stored = await runInDurableObject(env.CHAT_ROOM!.get(env.CHAT_ROOM!.idFromName(id)), (room: ChatRoom) => room.recentMessages());
    expect(c.frames.filter((f) => f.type === "message").map((f) => f.id)).toEqual(stored.map((m) => m.id));
    expect(new Set(c.frames.filter((f) => f.type === "message").map((f) => f.text))).toEqual(new Set(Array.from({ length: RATE_LIMIT_COUNT }, (_, i) => `m${i}`)));
    c.send({ type: "message", text: "one too many" });
    const err = await c.next<ErrorFrame & Frame>(isError("rate_limited"), "rate_limited");
    expect(err.retry_after_ms).toBeGreaterThan(0);
    expect(err.retry_after_ms).toBeLessThanOrEqual(30_000);
    o.send({ type: "message", text: "my turn" });
    await c.next((f) => f.type === "message" && f.text === "my turn", "other user's message");
    expect(c.frames.some((f) => f.type === "message" && f.text === "one too many")).toBe(false);
    // The window is in storage: it is the same after the sockets reconnect.
    c.ws.close(1000);
    const again = await connect(id, { token: owner.token });
    await welcome(again);
    again.send({ type: "message", text: "after reconnect" });
    await again.next(isError("rate_limited"), "rate_limited after reconnect");
    // Once the window has slid past, sending works again.
    await runInDurableObject(env.CHAT_ROOM!.get(env.CHAT_ROOM!.idFromName(id)), (_room: ChatRoom, state) => {
      state.storage.sql.exec("UPDATE rate_events SET ts = ts - 30001");
    });
    again.send({ type: "message", text: "window slid" });
    await again.next((f) => f.type === "message" && f.text === "window slid", "message after the window");
    again.ws.close(1000);
    o.ws.close(1000);
  });

  it(`a joiner gets the last ${HISTORY_ON_JOIN} messages, oldest first`, async () => {
    const { owner, id } = await setup();
    const stub = env.CHAT_ROOM!.get(env.CHAT_ROOM!.idFromName(id));
    // Written past the rate limit straight into storage, as 130 sends would be.
    await runInDurableObject(stub, (_room: ChatRoom, state) => {
      for (let i = 0; i < 130; i++) state.storage.sql.exec("INSERT INTO messages (id, user_id, username, text, ts) VALUES (?, ?, ?, ?, ?)", `id-${i}`, owner.user.id, owner.username, `h${i}`, 1_000 + i);
    });
    const c = await connect(id);
    const { history } = await welcome(c);
    expect(history).toHaveLength(HISTORY_ON_JOIN);
    expect(history[0]).toMatchObject({ type: "message", id: "id-30", text: "h30", ts: 1_030 });
    expect(history.at(-1)).toMatchObject({ text: "h129" });
    c.ws.close(1000);
  });
});

describe("chat: moderation by the broadcaster", () => {
  it("delete, timeout, ban and unban are applied, broadcast and logged; viewers cannot moderate", async () => {
    const { owner, id } = await setup();
    const viewer = await api.signUp("chatv");
    const b = await connect(id, { token: owner.token });
    const v = await connect(id, { token: viewer.token });
    expect((await welcome(b)).user).toMatchObject({ broadcaster: true });
    expect((await welcome(v)).user).toMatchObject({ broadcaster: false });
    const say = async (c: ChatClient, text: string) => {
      c.send({ type: "message", text });
      return b.next<ChatMessage & Frame>((f) => f.type === "message" && f.text === text, text);
    };

    // A viewer (or an anonymous reader) may not moderate.
    const spam = await say(v, "spam");
    v.send({ type: "delete", message_id: spam.id });
    await v.next(isError("forbidden"), "forbidden");
    const anon = await connect(id);
    await welcome(anon);
    anon.send({ type: "ban", user_id: viewer.user.id });
    await anon.next(isError("unauthenticated"), "unauthenticated");

    // Delete: broadcast, gone from history.
    b.send({ type: "delete", message_id: spam.id });
    expect(await v.next((f) => f.type === "delete")).toMatchObject({ message_id: spam.id, by: owner.user.id });
    b.send({ type: "delete", message_id: spam.id });
    await b.next(isError("not_found"), "not_found");
    expect((await welcome(await connect(id))).history.map((m) => m.id)).not.toContain(spam.id);

    // Timeout: writes refused until it ends.
    b.send({ type: "timeout", user_id: viewer.user.id, seconds: 0 });
    await b.next(isError("invalid_frame"), "invalid seconds");
    b.send({ type: "timeout", user_id: viewer.user.id, seconds: 60 });
    expect(await v.next((f) => f.type === "timeout")).toMatchObject({ user_id: viewer.user.id, seconds: 60 });
    v.send({ type: "message", text: "still talking" });
    const timedOut = await v.next<ErrorFrame & Frame>(isError("timed_out"), "timed_out");
    expect(timedOut.retry_after_ms).toBeGreaterThan(0);
    const stub = env.CHAT_ROOM!.get(env.CHAT_ROOM!.idFromName(id));
    await runInDurableObject(stub, (_room: ChatRoom, state) => {
      state.storage.sql.exec("UPDATE sanctions SET until = ? WHERE user_id = ?", Date.now() - 1, viewer.user.id);
    });
    await say(v, "back again");

    // Ban: refused (also on a new socket) until unbanned.
    b.send({ type: "ban", user_id: viewer.user.id });
    expect(await v.next((f) => f.type === "ban")).toMatchObject({ user_id: viewer.user.id, banned: true });
    v.send({ type: "message", text: "banned?" });
    await v.next(isError("banned"), "banned");
    const v2 = await connect(id, { token: viewer.token });
    expect(await welcome(v2)).toMatchObject({ can_write: false });
    v2.send({ type: "message", text: "new socket" });
    await v2.next(isError("banned"), "banned on a new socket");
    b.send({ type: "ban", user_id: viewer.user.id, banned: false });
    expect(await v.next((f) => f.type === "ban")).toMatchObject({ banned: false });
    await say(v2, "unbanned");
    b.send({ type: "ban", user_id: owner.user.id });
    await b.next(isError("invalid_frame"), "self-ban");

    const log = await runInDurableObject(stub, (room: ChatRoom) => room.moderationLog());
    expect(log.map((l) => [l.action, l.target, l.actor])).toEqual([
      ["delete", spam.id, owner.user.id],
      ["timeout", viewer.user.id, owner.user.id],
      ["ban", viewer.user.id, owner.user.id],
      ["unban", viewer.user.id, owner.user.id],
    ]);
    for (const c of [b, v, v2, anon]) c.ws.close(1000);
  });
});
