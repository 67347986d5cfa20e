/**
 * Seam between the go-live saga (edge/do/stream-control/) and follower notification fan-out.
 * The saga calls `notifyFollowers` once, right after the pivot (stream live in D1, stream_started
 * recorded); it awaits it and treats a rejection as a non-fatal post-pivot failure (CONTINUE).
 *
 * It only enqueues: the stream owner's `stream_started` webhook deliveries, then one fan-out
 * message per keyset page of ≤ 1,000 follower ids on NOTIFY_QUEUE. The queue consumer
 * (queue-handler.ts) writes the notifications and the followers' webhook deliveries. Without a
 * NOTIFY_QUEUE binding fan-out is off (logged), never an error.
 */
import { isoNow } from "../db/database.ts";
import { followerIdsPage } from "../follows/follow-store.ts";
import { getStream } from "../streams/stream-store.ts";
import { createDeliveries, hooksFor } from "../webhooks/webhook-store.ts";
import { FANOUT_BATCH_SIZE, type DeliverMessage, type FanoutMessage, type GoLive, type NotifyMessage, type WebhookEvent } from "./messages.ts";
import { goLivePayload } from "./notification-store.ts";

/** Messages per `sendBatch` call (the platform allows 100 messages and 256 KB; a page is ~16 KB). */
const MESSAGES_PER_SEND = 10;

/** The body every webhook delivery of a go-live carries (signed as is). */
export const goLiveWebhookBody = (deliveryId: string, event: WebhookEvent, g: GoLive, createdAt: string): string =>
  JSON.stringify({ id: deliveryId, type: event, created_at: createdAt, data: goLivePayload(g) });

/** The queue webhook deliveries go to: WEBHOOK_QUEUE, else NOTIFY_QUEUE (the consumer tells them apart by type). */
export const deliveryQueue = (env: Env): Queue<NotifyMessage> | undefined => env.WEBHOOK_QUEUE ?? env.NOTIFY_QUEUE;

/** Enqueues one `deliver` message per delivery id, 100 per send. */
export const enqueueDeliveries = async (env: Env, ids: string[]): Promise<void> => {
  const queue = deliveryQueue(env);
  if (!queue || ids.length === 0) return;
  for (let i = 0; i < ids.length; i += 100) {
    await queue.sendBatch(ids.slice(i, i + 100).map((id) => ({ body: { type: "deliver", delivery_id: id } satisfies DeliverMessage, contentType: "json" as const })));
  }
};

/** Creates and enqueues the deliveries of `event` for the given users' subscribed hooks. */
export const deliverToHooksOf = async (env: Env, db: D1Database, userIds: string[], event: WebhookEvent, g: GoLive): Promise<number> => {
  const hooks = await hooksFor(db, userIds, event);
  if (hooks.length === 0) return 0;
  const createdAt = isoNow();
  const pending = await createDeliveries(
    db,
    hooks.map((h) => h.id),
    event,
    g.dedupe_key,
    (id) => goLiveWebhookBody(id, event, g, createdAt),
  );
  await enqueueDeliveries(env, pending);
  return pending.length;
};

export interface FanoutPlan {
  go_live: GoLive | null;
  batches: number;
  followers: number;
}

/** The work of `notifyFollowers`, reporting what it enqueued (the benchmark reads it). */
export const enqueueFanout = async (env: Env, streamId: string): Promise<FanoutPlan> => {
  const db = env.DB;
  const queue = env.NOTIFY_QUEUE;
  if (!db || !queue) {
    console.warn(`notifyFollowers(${streamId}): ${db ? "NOTIFY_QUEUE" : "DB"} is not bound; followers are not notified`);
    return { go_live: null, batches: 0, followers: 0 };
  }
  const stream = await getStream(db, streamId);
  if (!stream) return { go_live: null, batches: 0, followers: 0 };
  const startedAt = stream.started_at ?? isoNow();
  const g: GoLive = {
    stream_id: stream.id,
    title: stream.title,
    category: stream.category,
    channel: { id: stream.user_id, username: stream.username },
    started_at: startedAt,
    dedupe_key: `stream_started:${stream.id}:${startedAt}`,
  };
  await deliverToHooksOf(env, db, [stream.user_id], "stream_started", g);
  // An unlisted or private broadcast is not announced: followers would learn of (and link to) it.
  if (stream.visibility !== "public") return { go_live: g, batches: 0, followers: 0 };

  let batches = 0;
  let followers = 0;
  let pending: FanoutMessage[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    await queue.sendBatch(pending.map((body) => ({ body, contentType: "json" as const })));
    pending = [];
  };
  for (let after: string | null = null; ; ) {
    const ids = await followerIdsPage(db, stream.user_id, after, FANOUT_BATCH_SIZE);
    if (ids.length === 0) break;
    pending.push({ type: "fanout", go_live: g, follower_ids: ids });
    batches++;
    followers += ids.length;
    if (pending.length >= MESSAGES_PER_SEND) await flush();
    if (ids.length < FANOUT_BATCH_SIZE) break;
    after = ids.at(-1)!;
  }
  await flush();
  return { go_live: g, batches, followers };
};

/** Announces a go-live to the stream's followers (in-app and webhooks) through NOTIFY_QUEUE. */
export async function notifyFollowers(env: Env, streamId: string): Promise<void> {
  await enqueueFanout(env, streamId);
}
