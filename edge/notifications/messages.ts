/**
 * What travels on the notification queues (wrangler.toml `[[queues.*]]`). Bodies are small JSON
 * objects tagged with `type`; the consumer (edge/notifications/queue-handler.ts) dispatches on it.
 */

/** Queue names as wrangler.toml declares them. A queue whose name ends in `-dlq` is a dead-letter queue. */
export const QUEUE_NAMES = {
  notify: "cascade-notify",
  notifyDeadLetter: "cascade-notify-dlq",
  webhooks: "cascade-webhooks",
  webhooksDeadLetter: "cascade-webhooks-dlq",
} as const;

/** Follower ids per fan-out message: one keyset page of `follows`. */
export const FANOUT_BATCH_SIZE = 1_000;

/** Webhook event types a hook may subscribe to. */
export const WEBHOOK_EVENTS = [
  /** A stream of yours went live. */
  "stream_started",
  /** A channel you follow went live. */
  "followed_stream_started",
] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/** The go-live being announced: the same in every batch of one fan-out. */
export interface GoLive {
  stream_id: string;
  title: string;
  category: string | null;
  channel: { id: string; username: string };
  started_at: string;
  /** `stream_started:<stream id>:<started_at>`: notifications and deliveries are unique per user/hook and key. */
  dedupe_key: string;
}

/** One batch of followers to notify (≤ FANOUT_BATCH_SIZE ids). */
export interface FanoutMessage {
  type: "fanout";
  go_live: GoLive;
  follower_ids: string[];
}

/** One webhook delivery to attempt; its body and target are in D1 (`webhook_deliveries`). */
export interface DeliverMessage {
  type: "deliver";
  delivery_id: string;
}

export type NotifyMessage = FanoutMessage | DeliverMessage;

export const isDeadLetterQueue = (name: string): boolean => name.endsWith("-dlq");
