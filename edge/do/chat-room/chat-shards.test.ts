import type { WorkerEnv } from "../../config.ts";
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { apiClient } from "../../../test/support/edge/api-client.ts";
import { connectChat, isError, welcomeOf, type ChatClient, type Frame } from "../../../test/support/edge/chat-client.ts";
import type { ChatMessage } from "../../chat/protocol.ts";
import { chatShard, shardFor } from "./client.ts";

const SHARDS = 3;
const sharded: Partial<WorkerEnv> = { CHAT_SHARDS: String(SHARDS) };
const api = apiClient({ env: sharded });
const { app } = api;
const shardedEnv = (): Env => ({ ...(env as unknown as Env), ...sharded });
const connect = (streamId: string, token?: string) => connectChat(app, streamId, { ...(token ? { token } : {}), env: sharded });

/** Signs users up until one lands on `shard`. */
const userOnShard = async (shard: number, prefix: string) => {
  for (let i = 0; i < 60; i++) {
    const u = await api.signUp(prefix);
    if (shardFor(u.user.id, SHARDS) === shard) return u;
  }
  throw new Error(`no user hashed to shard ${shard}`);
};

describe(`chat sharded over ${SHARDS} objects`, () => {
  it("messages and moderation reach sockets on every shard; each shard keeps the whole history; a ban is enforced on the banned user's shard", async () => {
    const owner = await api.signUp("shard");
    const id = (await api.createStream(owner.token, { title: "Sharded" })).stream_id;
    const ownerShard = shardFor(owner.user.id, SHARDS);
    const others = [0, 1, 2].filter((k) => k !== ownerShard);
    const a = await userOnShard(others[0]!, "sha");
    const bUser = await userOnShard(others[1]!, "shb");
    const clients: ChatClient[] = [];
    const b = await connect(id, owner.token);
    const ca = await connect(id, a.token);
    const cb = await connect(id, bUser.token);
    clients.push(b, ca, cb);
    // Anonymous readers spread randomly: enough that every shard very likely has some.
    for (let i = 0; i < 9; i++) clients.push(await connect(id));
    for (const c of clients) await welcomeOf(c);
    const perShard = await Promise.all([0, 1, 2].map((k) => chatShard(shardedEnv(), id, k)!.connections()));
    expect(perShard.every((n) => n > 0)).toBe(true);
    expect(perShard.reduce((x, y) => x + y, 0)).toBe(clients.length);

    // A message from each writer's shard arrives at every socket, once.
    ca.send({ type: "message", text: "from shard A" });
    cb.send({ type: "message", text: "from shard B" });
    b.send({ type: "message", text: "from the broadcaster" });
    for (const c of clients) {
      for (const text of ["from shard A", "from shard B", "from the broadcaster"]) await c.seen((f) => f.type === "message" && f.text === text, `${text} on every socket`);
    }
    for (const c of clients) expect(c.frames.filter((f) => f.type === "message")).toHaveLength(3);

    // Every shard stored all three (the paged API reads shard 0 whatever shard the writers were on).
    for (let k = 0; k < SHARDS; k++) expect(new Set((await chatShard(shardedEnv(), id, k)!.recentMessages()).map((m) => m.text))).toEqual(new Set(["from shard A", "from shard B", "from the broadcaster"]));

    // The broadcaster deletes A's message on their shard: gone everywhere.
    const fromA = b.frames.find((f) => f.type === "message" && f.text === "from shard A") as ChatMessage & Frame;
    b.send({ type: "delete", message_id: fromA.id });
    for (const c of clients) await c.next((f) => f.type === "delete" && f.message_id === fromA.id, "delete on every socket");
    for (let k = 0; k < SHARDS; k++) expect((await chatShard(shardedEnv(), id, k)!.recentMessages()).map((m) => m.id)).not.toContain(fromA.id);

    // A ban issued on the broadcaster's shard binds user B on theirs.
    b.send({ type: "ban", user_id: bUser.user.id });
    await cb.next((f) => f.type === "ban", "ban relayed to B's shard");
    cb.send({ type: "message", text: "can I still talk?" });
    await cb.next(isError("banned"), "banned on another shard");

    // Room-wide calls reach every shard: a moderator added over REST shows up everywhere.
    expect((await api.call("PUT", `/api/v1/streams/${id}/chat/moderators/${a.user.id}`, { token: owner.token })).status).toBe(201);
    for (const c of clients) await c.next((f) => f.type === "system" && f.event === "moderator_added", "moderator_added everywhere");
    for (const c of clients) c.close();
  });
});
