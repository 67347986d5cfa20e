/**
 * Measures go-live fan-out in workerd: seeds N followers of a live stream in D1, runs
 * notifyFollowers' enqueue step against a capturing queue, then feeds the captured batches to the
 * queue handler, as the platform would, and counts the notifications written. The fan-out tests
 * call it with 10,000 followers; a benchmark can call it the same way (it needs only an env with
 * DB) and print the result.
 */
import { isoNow } from "../../../edge/db/database.ts";
import { randomId } from "../../../edge/db/ids.ts";
import { QUEUE_NAMES, type NotifyMessage } from "../../../edge/notifications/messages.ts";
import { enqueueFanout } from "../../../edge/notifications/notify-seam.ts";
import { createQueueHandler, type QueueHandlerOptions } from "../../../edge/notifications/queue-handler.ts";

/** A Queue that keeps what is sent to it (bodies in order), for tests and measurements. */
export class CapturingQueue implements Queue<NotifyMessage> {
  readonly sent: NotifyMessage[] = [];
  sendCalls = 0;

  async send(message: NotifyMessage): Promise<QueueSendResponse> {
    this.sendCalls++;
    this.sent.push(structuredClone(message));
    return { metadata: { metrics: { backlogCount: this.sent.length, backlogBytes: 0 } } };
  }

  async sendBatch(messages: Iterable<MessageSendRequest<NotifyMessage>>): Promise<QueueSendBatchResponse> {
    this.sendCalls++;
    for (const m of messages) this.sent.push(structuredClone(m.body));
    return { metadata: { metrics: { backlogCount: this.sent.length, backlogBytes: 0 } } };
  }

  async metrics(): Promise<QueueMetrics> {
    return { backlogCount: this.sent.length, backlogBytes: 0 };
  }

  /** Takes everything sent so far. */
  drain(): NotifyMessage[] {
    return this.sent.splice(0);
  }
}

export interface HandledMessage {
  id: string;
  outcome: "ack" | "retry" | "none";
  delaySeconds?: number;
}

/** A MessageBatch over `bodies` that records each message's ack/retry (what the platform would do next). */
export const recordingBatch = (queue: string, bodies: NotifyMessage[], attempts = 1) => {
  const handled: HandledMessage[] = bodies.map((_, i) => ({ id: `msg-${i}`, outcome: "none" }));
  const messages: Message<NotifyMessage>[] = bodies.map((body, i) => ({
    id: `msg-${i}`,
    timestamp: new Date(),
    body,
    attempts,
    ack: () => void (handled[i]!.outcome = "ack"),
    retry: (o?: QueueRetryOptions) => void (handled[i] = { id: `msg-${i}`, outcome: "retry", delaySeconds: o?.delaySeconds }),
  }));
  const batch: MessageBatch<NotifyMessage> = {
    queue,
    messages,
    metadata: { metrics: { backlogCount: 0, backlogBytes: 0 } } as MessageBatchMetadata,
    ackAll: () => messages.forEach((m) => m.ack()),
    retryAll: (o) => messages.forEach((m) => m.retry(o)),
  };
  return { batch, handled };
};

/** Inserts `count` viewer accounts following `channelId` (straight in D1, a few statements). */
export const seedFollowers = async (db: D1Database, channelId: string, count: number): Promise<string> => {
  const prefix = `f${randomId(8)}_`;
  const now = isoNow();
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO users (id, username, password_hash, role, created_at, updated_at) SELECT ?2 || i, ?2 || i, 'disabled', 'viewer', ?3, ?3 FROM n`,
    )
    .bind(count, prefix, now)
    .run();
  await db
    .prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO follows (follower_id, followed_id, created_at) SELECT ?2 || i, ?3, ?4 FROM n`,
    )
    .bind(count, prefix, channelId, now)
    .run();
  return prefix;
};

export interface FanoutMeasurement {
  followers: number;
  batches: number;
  /** notifyFollowers' part: reading follows in keyset pages and sending the batches. */
  enqueueMs: number;
  /** The consumer's part: every batch through the queue handler. */
  consumeMs: number;
  /** go_live to the last notification written. */
  totalMs: number;
  notifications: number;
}

/**
 * Times the fan-out of `streamId`'s go-live (its followers must exist; see seedFollowers). Uses
 * capturing queues, so nothing reaches a real queue; webhook deliveries are created, not sent.
 */
export const measureFanout = async (env: Env, streamId: string, options: Partial<QueueHandlerOptions> = {}): Promise<FanoutMeasurement> => {
  const notify = new CapturingQueue();
  const webhooks = new CapturingQueue();
  const e: Env = { ...env, NOTIFY_QUEUE: notify, WEBHOOK_QUEUE: webhooks };
  const t0 = performance.now();
  const plan = await enqueueFanout(e, streamId);
  const t1 = performance.now();
  const { batch } = recordingBatch(QUEUE_NAMES.notify, notify.drain());
  await createQueueHandler(options)(batch, e);
  const t2 = performance.now();
  const row = await env.DB!.prepare("SELECT count(*) AS n FROM notifications WHERE dedupe_key = ?1").bind(plan.go_live?.dedupe_key ?? "").first<{ n: number }>();
  return { followers: plan.followers, batches: plan.batches, enqueueMs: t1 - t0, consumeMs: t2 - t1, totalMs: t2 - t0, notifications: row?.n ?? 0 };
};
