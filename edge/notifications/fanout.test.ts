import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { apiClient, setStreamState, testEnv, withoutBinding } from "../../test/support/edge/api-client.ts";
import { insertWebhook } from "../webhooks/webhook-store.ts";
import { CapturingQueue, measureFanout, recordingBatch, seedFollowers } from "../../test/support/edge/fanout-measure.ts";
import { FANOUT_BATCH_SIZE, QUEUE_NAMES, type FanoutMessage, type NotifyMessage } from "./messages.ts";
import { notifyFollowers } from "./notify-seam.ts";
import { createQueueHandler } from "./queue-handler.ts";

type Notifications = {
  notifications: Array<{ id: string; type: string; stream_id: string; payload: Record<string, unknown>; read: boolean; created_at: string }>;
  unread_count: number;
  next_cursor: string | null;
};
type Fields = { error: string; fields: Record<string, string> };

const api = apiClient();
const db = () => testEnv().DB!;

/** A streamer with a stream that has just gone live (as the saga leaves it). */
const liveChannel = async (prefix = "chan") => {
  const owner = await api.signUp(prefix);
  const { stream_id } = await api.createStream(owner.token, { title: `${prefix} goes live`, category: "gaming" });
  await setStreamState(stream_id, { status: "live" });
  await db().prepare("UPDATE streams SET started_at = ?2 WHERE id = ?1").bind(stream_id, new Date().toISOString()).run();
  return { owner, streamId: stream_id };
};

const withQueues = () => {
  const notify = new CapturingQueue();
  const webhooks = new CapturingQueue();
  const env: Env = { ...testEnv(), NOTIFY_QUEUE: notify, WEBHOOK_QUEUE: webhooks };
  return { notify, webhooks, env };
};

const countFor = async (streamId: string): Promise<number> =>
  (await db().prepare("SELECT count(*) AS n FROM notifications WHERE stream_id = ?1").bind(streamId).first<{ n: number }>())!.n;

/** Runs captured messages through the Worker's queue handler the way the platform delivers a batch. */
const deliverBatch = async (env: Env, queue: string, bodies: NotifyMessage[], attempts = 1) => {
  const batch = createMessageBatch<NotifyMessage>(
    queue,
    bodies.map((body, i) => ({ id: `m-${attempts}-${i}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await createQueueHandler()(batch, env, ctx);
  return getQueueResult(batch, ctx);
};

describe("go-live fan-out through the queue", () => {
  it("10,000 followers: 10 batches of ≤ 1,000 ids, exactly 10,000 notifications; a redelivered batch adds none", async () => {
    const { streamId, owner } = await liveChannel("big");
    await seedFollowers(db(), owner.user.id, 10_000);
    const { notify, webhooks, env } = withQueues();

    await notifyFollowers(env, streamId);
    const messages = notify.drain() as FanoutMessage[];
    expect(messages).toHaveLength(10);
    const ids = new Set<string>();
    for (const m of messages) {
      expect(m.type).toBe("fanout");
      expect(m.follower_ids.length).toBeLessThanOrEqual(FANOUT_BATCH_SIZE);
      for (const id of m.follower_ids) ids.add(id);
    }
    expect(ids.size).toBe(10_000);
    expect(new Set(messages.map((m) => m.go_live.dedupe_key)).size).toBe(1);

    const result = await deliverBatch(env, QUEUE_NAMES.notify, messages);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks).toHaveLength(10);
    expect(await countFor(streamId)).toBe(10_000);
    expect(webhooks.sent).toEqual([]);

    // The platform delivers at least once: the same batch again must not duplicate anything.
    const again = await deliverBatch(env, QUEUE_NAMES.notify, messages, 2);
    expect(again.explicitAcks).toHaveLength(10);
    expect(await countFor(streamId)).toBe(10_000);
    // One per follower, never two.
    const dup = await db().prepare("SELECT count(*) AS n FROM (SELECT user_id FROM notifications WHERE stream_id = ?1 GROUP BY user_id HAVING count(*) > 1)").bind(streamId).first<{ n: number }>();
    expect(dup!.n).toBe(0);
  });

  it("measureFanout times go_live → last of 10,000 notifications", async () => {
    const { streamId, owner } = await liveChannel("timed");
    await seedFollowers(db(), owner.user.id, 10_000);
    const m = await measureFanout(testEnv(), streamId);
    expect(m).toMatchObject({ followers: 10_000, batches: 10, notifications: 10_000 });
    console.log(`fan-out to 10,000 followers: enqueue ${m.enqueueMs.toFixed(0)} ms, consume ${m.consumeMs.toFixed(0)} ms, total ${m.totalMs.toFixed(0)} ms`);
  });

  it("a follower who unfollowed before the batch ran gets nothing; a partial page ends the walk", async () => {
    const { streamId, owner } = await liveChannel("small");
    const fans = [await api.signUp("fa"), await api.signUp("fb"), await api.signUp("fc")];
    for (const f of fans) expect((await api.call("PUT", `/api/v1/follows/${owner.username}`, { token: f.token })).status).toBe(201);
    const { notify, env } = withQueues();
    await notifyFollowers(env, streamId);
    const messages = notify.drain();
    expect(messages).toHaveLength(1);
    await api.call("DELETE", `/api/v1/follows/${owner.username}`, { token: fans[2]!.token });
    await deliverBatch(env, QUEUE_NAMES.notify, messages);
    expect(await countFor(streamId)).toBe(2);

    const inbox = await api.call<Notifications>("GET", "/api/v1/notifications", { token: fans[0]!.token });
    expect(inbox.status).toBe(200);
    expect(inbox.body.unread_count).toBe(1);
    expect(inbox.body.notifications[0]).toMatchObject({
      type: "stream_started",
      stream_id: streamId,
      read: false,
      payload: { stream_id: streamId, title: "small goes live", category: "gaming", channel: { id: owner.user.id, username: owner.username }, watch_url: `/watch/${streamId}` },
    });
    const none = await api.call<Notifications>("GET", "/api/v1/notifications", { token: fans[2]!.token });
    expect(none.body.notifications).toEqual([]);
  });

  it("no followers: nothing is enqueued; no queue bound: fan-out is skipped, not an error", async () => {
    const { streamId } = await liveChannel("lonely");
    const { notify, env } = withQueues();
    await notifyFollowers(env, streamId);
    expect(notify.sent).toEqual([]);
    await expect(notifyFollowers(withoutBinding("NOTIFY_QUEUE"), streamId)).resolves.toBeUndefined();
    await expect(notifyFollowers(env, "nosuchstream")).resolves.toBeUndefined();
  });

  it("a batch that fails (database error) is retried with backoff", async () => {
    const { batch, handled } = recordingBatch(QUEUE_NAMES.notify, [{ type: "fanout", go_live: { stream_id: "x", title: "x", category: null, channel: { id: "x", username: "x" }, started_at: "t", dedupe_key: "k" }, follower_ids: ["a"] }], 3);
    await createQueueHandler()(batch, withoutBinding("DB"));
    expect(handled).toEqual([{ id: "msg-0", outcome: "retry", delaySeconds: 8 }]);
  });
});

describe("the real queue binding (miniflare consumer from wrangler.toml)", () => {
  it("notifyFollowers → NOTIFY_QUEUE → this Worker's queue handler → notifications", async () => {
    const { streamId, owner } = await liveChannel("real");
    await seedFollowers(db(), owner.user.id, 1_500);
    await notifyFollowers(testEnv(), streamId);
    const deadline = Date.now() + 20_000;
    while ((await countFor(streamId)) < 1_500 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(await countFor(streamId)).toBe(1_500);
  });
});

describe("GET /api/v1/notifications, POST /api/v1/notifications/read", () => {
  const inboxOf = async (n: number) => {
    const { streamId, owner } = await liveChannel("inbox");
    const fan = await api.signUp("reader");
    await api.call("PUT", `/api/v1/follows/${owner.username}`, { token: fan.token });
    // n go-lives of the same stream (different started_at) → n notifications.
    for (let i = 0; i < n; i++) {
      await db().prepare("UPDATE streams SET started_at = ?2 WHERE id = ?1").bind(streamId, new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()).run();
      const { notify, env } = withQueues();
      await notifyFollowers(env, streamId);
      await deliverBatch(env, QUEUE_NAMES.notify, notify.drain());
      await new Promise((r) => setTimeout(r, 2));
    }
    return fan;
  };

  it("newest first in pages; mark some read, then all", async () => {
    const fan = await inboxOf(5);
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const r: { status: number; body: Notifications } = await api.call<Notifications>("GET", `/api/v1/notifications?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: fan.token });
      expect(r.status).toBe(200);
      all.push(...r.body.notifications.map((n) => n.id));
      cursor = r.body.next_cursor;
    } while (cursor);
    expect(all).toHaveLength(5);
    const full = await api.call<Notifications>("GET", "/api/v1/notifications", { token: fan.token });
    expect(full.body.notifications.map((n) => n.id)).toEqual(all);
    const times = full.body.notifications.map((n) => n.created_at);
    expect([...times].sort().reverse()).toEqual(times);

    const some = await api.call<{ updated: number; unread_count: number }>("POST", "/api/v1/notifications/read", { token: fan.token, json: { ids: all.slice(0, 2) } });
    expect(some.body).toEqual({ updated: 2, unread_count: 3 });
    const unread = await api.call<Notifications>("GET", "/api/v1/notifications?unread=true", { token: fan.token });
    expect(unread.body.notifications.map((n) => n.id)).toEqual(all.slice(2));
    const rest = await api.call<{ updated: number; unread_count: number }>("POST", "/api/v1/notifications/read", { token: fan.token, json: { all: true } });
    expect(rest.body).toEqual({ updated: 3, unread_count: 0 });
  });

  it("someone else's ids change nothing", async () => {
    const fan = await inboxOf(1);
    const other = await api.signUp("nosy");
    const ids = (await api.call<Notifications>("GET", "/api/v1/notifications", { token: fan.token })).body.notifications.map((n) => n.id);
    const r = await api.call<{ updated: number }>("POST", "/api/v1/notifications/read", { token: other.token, json: { ids } });
    expect(r.body.updated).toBe(0);
    expect((await api.call<Notifications>("GET", "/api/v1/notifications", { token: fan.token })).body.unread_count).toBe(1);
  });

  it("bad input names the fields", async () => {
    const u = await api.signUp("badread");
    expect((await api.call("GET", "/api/v1/notifications")).status).toBe(401);
    expect((await api.call("POST", "/api/v1/notifications/read", { json: { all: true } })).status).toBe(401);
    const cases: Array<[unknown, string[]]> = [
      [{}, ["ids"]],
      [{ ids: [], all: true }, ["ids"]],
      [{ ids: [] }, ["ids"]],
      [{ ids: "abc" }, ["ids"]],
      [{ ids: ["ok", 5] }, ["ids"]],
      [{ ids: ["bad id!"] }, ["ids"]],
      [{ ids: Array.from({ length: 101 }, (_, i) => `n${i}`) }, ["ids"]],
      [{ all: false }, ["all"]],
      [{ all: "yes", extra: 1 }, ["all", "extra"]],
    ];
    for (const [json, fields] of cases) {
      const r = await api.call<Fields>("POST", "/api/v1/notifications/read", { token: u.token, json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(Object.keys(r.body.fields).sort(), JSON.stringify(json)).toEqual(fields);
    }
    expect((await api.call("POST", "/api/v1/notifications/read", { token: u.token, raw: "[" })).status).toBe(400);
    const q = await api.call<Fields>("GET", "/api/v1/notifications?unread=maybe&limit=-1&cursor=zz", { token: u.token });
    expect(Object.keys(q.body.fields).sort()).toEqual(["cursor", "limit", "unread"]);
  });
});

describe("webhook deliveries from the fan-out", () => {
  it("followers' followed_stream_started hooks and the owner's stream_started hook get one delivery each, even when the batch is redelivered", async () => {
    const { streamId, owner } = await liveChannel("hooked");
    const fan = await api.signUp("hookfan");
    await api.call("PUT", `/api/v1/follows/${owner.username}`, { token: fan.token });
    await insertWebhook(db(), fan.user.id, "https://hooks.example.com/fan", ["followed_stream_started"]);
    await insertWebhook(db(), fan.user.id, "https://hooks.example.com/fan-own-only", ["stream_started"]);
    await insertWebhook(db(), owner.user.id, "https://hooks.example.com/owner", ["stream_started"]);
    const { notify, webhooks, env } = withQueues();
    await notifyFollowers(env, streamId);
    expect(webhooks.sent).toHaveLength(1); // the owner's, enqueued by notifyFollowers itself
    const fanout = notify.drain();
    await deliverBatch(env, QUEUE_NAMES.notify, fanout);
    await deliverBatch(env, QUEUE_NAMES.notify, fanout, 2);
    const deliveries = webhooks.drain();
    // Owner's + the fan's (enqueued again by the redelivery while still pending): 2 distinct deliveries.
    expect(new Set(deliveries.map((d) => (d.type === "deliver" ? d.delivery_id : ""))).size).toBe(2);
    const rows = await db()
      .prepare("SELECT d.event, w.url FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE w.user_id IN (?1, ?2) ORDER BY w.url")
      .bind(owner.user.id, fan.user.id)
      .all<{ event: string; url: string }>();
    expect(rows.results).toEqual([
      { event: "followed_stream_started", url: "https://hooks.example.com/fan" },
      { event: "stream_started", url: "https://hooks.example.com/owner" },
    ]);

    // Deliver them all (duplicates included): each receiver is called once.
    const received: string[] = [];
    const result = createQueueHandler({ fetch: async (req) => (received.push(new URL(req.url).pathname), new Response("ok")) });
    const { batch, handled } = recordingBatch(QUEUE_NAMES.webhooks, deliveries);
    await result(batch, env);
    expect(handled.every((h) => h.outcome === "ack")).toBe(true);
    expect(received.sort()).toEqual(["/fan", "/owner"]);
  });
});
