import type { WorkerEnv } from "../../config.ts";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { apiClient } from "../../../test/support/edge/api-client.ts";
import { connectChat, isError, welcomeOf, type ChatClient, type Frame } from "../../../test/support/edge/chat-client.ts";
import type { ChatMessage, ErrorFrame } from "../../chat/protocol.ts";

const api = apiClient();
const { app } = api;
const testEnv = (): WorkerEnv => env as unknown as WorkerEnv;
const connect = (streamId: string, token?: string) => connectChat(app, streamId, token ? { token } : {});
const room = (id: string) => testEnv().CHAT_ROOM!.get(testEnv().CHAT_ROOM!.idFromName(id));

const setup = async () => {
  const owner = await api.signUp("mod");
  const stream = await api.createStream(owner.token, { title: "Moderation test" });
  return { owner, id: stream.stream_id };
};

const say = async (from: ChatClient, watcher: ChatClient, text: string) => {
  from.send({ type: "message", text });
  return watcher.next<ChatMessage & Frame>((f) => f.type === "message" && f.text === text, text);
};

describe("chat moderation: broadcaster", () => {
  it("delete, timeout, ban, unban and clear are applied, broadcast and logged; viewers and readers cannot moderate", async () => {
    const { owner, id } = await setup();
    const viewer = await api.signUp("modv");
    const b = await connect(id, owner.token);
    const v = await connect(id, viewer.token);
    await welcomeOf(b);
    await welcomeOf(v);

    const spam = await say(v, b, "spam");
    v.send({ type: "delete", message_id: spam.id });
    await v.next(isError("forbidden"), "forbidden");
    v.send({ type: "clear" });
    await v.next(isError("forbidden"), "forbidden clear");
    const anon = await connect(id);
    await welcomeOf(anon);
    anon.send({ type: "ban", user_id: viewer.user.id });
    await anon.next(isError("unauthenticated"), "unauthenticated");

    b.send({ type: "delete", message_id: spam.id });
    expect(await anon.next((f) => f.type === "delete")).toMatchObject({ message_id: spam.id, by: owner.user.id });
    b.send({ type: "delete", message_id: spam.id });
    await b.next(isError("not_found"), "not_found");
    expect((await welcomeOf(await connect(id))).history.map((m) => m.id)).not.toContain(spam.id);

    b.send({ type: "timeout", user_id: viewer.user.id, seconds: 0 });
    await b.next(isError("invalid_frame"), "invalid seconds");
    b.send({ type: "timeout", user_id: viewer.user.id, seconds: 60 });
    const t = await v.next((f) => f.type === "timeout");
    expect(t).toMatchObject({ user_id: viewer.user.id, seconds: 60, by: owner.user.id });
    expect(t.until as number).toBeGreaterThan(Date.now() + 55_000);
    v.send({ type: "message", text: "still talking" });
    const timedOut = await v.next<ErrorFrame & Frame>(isError("timed_out"), "timed_out");
    expect(timedOut.retry_after_ms).toBeGreaterThan(55_000);
    // Ban replaces the timeout; a new socket is read-only.
    b.send({ type: "ban", user_id: viewer.user.id });
    expect(await v.next((f) => f.type === "ban")).toMatchObject({ user_id: viewer.user.id, banned: true });
    v.send({ type: "message", text: "banned?" });
    await v.next(isError("banned"), "banned");
    const v2 = await connect(id, viewer.token);
    expect(await welcomeOf(v2)).toMatchObject({ can_write: false });
    v2.send({ type: "message", text: "new socket" });
    await v2.next(isError("banned"), "banned on a new socket");
    b.send({ type: "ban", user_id: viewer.user.id, banned: false });
    expect(await v.next((f) => f.type === "ban")).toMatchObject({ banned: false });
    await say(v2, b, "unbanned");
    b.send({ type: "ban", user_id: owner.user.id });
    await b.next(isError("invalid_frame"), "self-ban");

    b.send({ type: "clear" });
    expect(await v.next((f) => f.type === "clear")).toMatchObject({ by: owner.user.id });
    expect((await welcomeOf(await connect(id))).history).toEqual([]);

    const log = await api.call<{ entries: Array<{ action: string; target: string; actor: string }> }>("GET", `/api/v1/streams/${id}/chat/moderation-log`, { token: owner.token });
    expect(log.status).toBe(200);
    expect(log.body.entries.map((l) => [l.action, l.target, l.actor]).reverse()).toEqual([
      ["delete", spam.id, owner.user.id],
      ["timeout", viewer.user.id, owner.user.id],
      ["ban", viewer.user.id, owner.user.id],
      ["unban", viewer.user.id, owner.user.id],
      ["clear", "*", owner.user.id],
    ]);
    expect((await api.call("GET", `/api/v1/streams/${id}/chat/moderation-log`, { token: viewer.token })).status).toBe(403);
    expect((await api.call("GET", `/api/v1/streams/${id}/chat/moderation-log`)).status).toBe(401);
    for (const c of [b, v, v2, anon]) c.close();
  });
});

describe("chat moderation: channel moderators", () => {
  it("the broadcaster adds a moderator (live sockets gain the badge and the tools), who moderates but cannot touch the broadcaster or other moderators; removal takes it back", async () => {
    const { owner, id } = await setup();
    const mod = await api.signUp("modm");
    const mod2 = await api.signUp("modm2");
    const viewer = await api.signUp("modx");
    const b = await connect(id, owner.token);
    const m = await connect(id, mod.token);
    const v = await connect(id, viewer.token);
    for (const c of [b, m, v]) await welcomeOf(c);

    // Only the broadcaster manages moderators; bad ids and unknown users are refused without change.
    const put = (userId: string, token: string) => api.call("PUT", `/api/v1/streams/${id}/chat/moderators/${userId}`, { token });
    expect((await put(mod.user.id, viewer.token)).status).toBe(403);
    expect((await put("NOT_AN_ID!", owner.token)).status).toBe(400);
    expect((await put("nosuchuser1", owner.token)).status).toBe(404);
    expect((await put(owner.user.id, owner.token)).status).toBe(400);
    expect((await api.call("PUT", `/api/v1/streams/${id}/chat/moderators/${mod.user.id}`)).status).toBe(401);
    expect((await put(mod.user.id, owner.token)).status).toBe(201);
    expect((await put(mod.user.id, owner.token)).status).toBe(200);
    expect(await v.next((f) => f.type === "system" && f.event === "moderator_added")).toMatchObject({ user_id: mod.user.id, username: mod.username, by: owner.user.id });
    expect((await put(mod2.user.id, owner.token)).status).toBe(201);
    const list = await api.call<{ moderators: Array<{ user_id: string }> }>("GET", `/api/v1/streams/${id}/chat/moderators`, { token: mod.token });
    expect(list.body.moderators.map((x) => x.user_id).sort()).toEqual([mod.user.id, mod2.user.id].sort());

    // The existing socket now moderates and carries the badge.
    expect((await say(m, v, "I moderate now")).badges).toEqual(["moderator"]);
    const target = await say(v, m, "rude");
    m.send({ type: "delete", message_id: target.id });
    expect(await b.next((f) => f.type === "delete")).toMatchObject({ message_id: target.id, by: mod.user.id });
    m.send({ type: "timeout", user_id: viewer.user.id, seconds: 30 });
    await v.next((f) => f.type === "timeout");
    m.send({ type: "ban", user_id: owner.user.id });
    await m.next(isError("forbidden"), "cannot ban the broadcaster");
    m.send({ type: "timeout", user_id: mod2.user.id, seconds: 30 });
    await m.next(isError("forbidden"), "cannot time out another moderator");
    // A new socket of the moderator starts with the badge (from D1).
    expect(await welcomeOf(await connect(id, mod.token))).toMatchObject({ can_moderate: true, user: { badges: ["moderator"] } });

    expect((await api.call("DELETE", `/api/v1/streams/${id}/chat/moderators/${mod.user.id}`, { token: mod.token })).status).toBe(403);
    expect((await api.call("DELETE", `/api/v1/streams/${id}/chat/moderators/${mod.user.id}`, { token: owner.token })).status).toBe(204);
    expect((await api.call("DELETE", `/api/v1/streams/${id}/chat/moderators/${mod.user.id}`, { token: owner.token })).status).toBe(404);
    await v.next((f) => f.type === "system" && f.event === "moderator_removed");
    m.send({ type: "clear" });
    await m.next(isError("forbidden"), "no longer a moderator");
    expect((await say(m, v, "back to normal")).badges).toEqual([]);

    const log = await room(id).moderationLog();
    expect(log.entries.map((e) => [e.action, e.actor]).reverse()).toEqual([
      ["add_moderator", owner.user.id],
      ["add_moderator", owner.user.id],
      ["delete", mod.user.id],
      ["timeout", mod.user.id],
      ["remove_moderator", owner.user.id],
    ]);
    for (const c of [b, m, v]) c.close();
  });
});

describe("chat: badges and emotes", () => {
  it("followers carry the follower badge", async () => {
    const { owner, id } = await setup();
    const fan = await api.signUp("fan");
    expect((await api.call("PUT", `/api/v1/follows/${owner.username}`, { token: fan.token })).status).toBeLessThan(300);
    const f = await connect(id, fan.token);
    expect(await welcomeOf(f)).toMatchObject({ user: { badges: ["follower"] } });
    f.send({ type: "message", text: "long-time fan" });
    expect(await f.next((x) => x.type === "message")).toMatchObject({ badges: ["follower"] });
    f.close();
  });

  it("the broadcaster manages the channel's emote set; changes are announced; bad input changes nothing", async () => {
    const { owner, id } = await setup();
    const viewer = await api.signUp("emo");
    const v = await connect(id, viewer.token);
    await welcomeOf(v);
    const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    const put = (code: string, json: unknown, token = owner.token) => api.call<{ fields?: Record<string, string> }>("PUT", `/api/v1/streams/${id}/chat/emotes/${code}`, { token, json });
    expect((await put("cascadeHype", { image_url: png })).status).toBe(201);
    await v.next((f) => f.type === "system" && f.event === "emotes_changed", "emotes_changed");
    expect((await put("cascadeWave", { image_url: "https://cdn.example.com/wave.png" })).status).toBe(201);
    expect((await put("cascadeWave", { image_url: "https://cdn.example.com/wave2.png" })).status).toBe(200);
    expect((await put("cascadeHype", { image_url: png }, viewer.token)).status).toBe(403);
    for (const [code, body, field] of [
      ["cascadeBad", { image_url: "javascript:alert(1)" }, "image_url"],
      ["cascadeBad", { image_url: "http://cdn.example.com/x.png" }, "image_url"],
      ["cascadeBad", { image_url: "data:text/html;base64,PHNjcmlwdD4=" }, "image_url"],
      ["cascadeBad", { image_url: "https://cdn.example.com/x.png", extra: 1 }, "extra"],
      ["1bad", { image_url: "https://cdn.example.com/x.png" }, "code"],
    ] as const) {
      const r = await put(code, body);
      expect(r.status, `${code} ${JSON.stringify(body)}`).toBe(400);
      expect(Object.keys(r.body.fields ?? {})).toContain(field);
    }
    const list = await api.call<{ emotes: Array<{ code: string; image_url: string }> }>("GET", `/api/v1/streams/${id}/chat/emotes`);
    expect(list.body.emotes).toEqual([
      { code: "cascadeHype", image_url: png },
      { code: "cascadeWave", image_url: "https://cdn.example.com/wave2.png" },
    ]);
    expect((await api.call("DELETE", `/api/v1/streams/${id}/chat/emotes/cascadeWave`, { token: owner.token })).status).toBe(204);
    expect((await api.call("DELETE", `/api/v1/streams/${id}/chat/emotes/cascadeWave`, { token: owner.token })).status).toBe(404);
    expect((await api.call<{ emotes: unknown[] }>("GET", `/api/v1/streams/${id}/chat/emotes`)).body.emotes).toHaveLength(1);
    v.close();
  });
});
