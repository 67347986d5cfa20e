import { requireDb } from "../db/database.ts";
import { attemptDelivery, backoffSeconds, type DeliveryFetch } from "../webhooks/deliver.ts";
import { markDead } from "../webhooks/webhook-store.ts";
import { processFanout } from "./fanout.ts";
import { isDeadLetterQueue, type NotifyMessage } from "./messages.ts";

export interface QueueHandlerOptions {
  /** How webhook deliveries are sent (default `fetch`). */
  fetch: DeliveryFetch;
  now: () => number;
  /** Per-attempt timeout of a webhook delivery. */
  deliveryTimeoutMs: number;
}

export const DEFAULT_QUEUE_OPTIONS = {
  fetch: (request) => fetch(request),
  now: () => Date.now(),
  deliveryTimeoutMs: 10_000,
} satisfies QueueHandlerOptions;

const isMessage = (body: unknown): body is NotifyMessage =>
  typeof body === "object" && body !== null && ((body as { type?: unknown }).type === "fanout" || (body as { type?: unknown }).type === "deliver");

/**
 * The Worker's `queue` handler for the notification queues (wrangler.toml): `fanout` batches write
 * notifications and create webhook deliveries; `deliver` messages make one signed attempt each and
 * on failure are retried with exponential backoff (`message.retry({delaySeconds})`) until
 * `max_retries`, when the platform moves them to the dead-letter queue; a message arriving on a
 * `*-dlq` queue marks its delivery dead. Messages in a batch are handled concurrently.
 * @param options.fetch delivery transport (default: global fetch); tests inject a fake
 * @example export default { fetch: app.fetch, queue: createQueueHandler() };
 */
export const createQueueHandler = (options: Partial<QueueHandlerOptions> = {}) => {
  const o: QueueHandlerOptions = { ...DEFAULT_QUEUE_OPTIONS, ...options };
  return async (batch: MessageBatch<unknown>, env: Env, _ctx?: ExecutionContext): Promise<void> => {
    const deadLetters = isDeadLetterQueue(batch.queue);
    // A delivery enqueued twice (a redelivered fan-out batch) is attempted once per batch.
    const seen = new Set<string>();
    await Promise.all(
      batch.messages.map(async (m) => {
        const body = m.body;
        if (!isMessage(body)) {
          console.error(`queue ${batch.queue}: dropping a message that is not a notification message (${m.id})`);
          m.ack();
          return;
        }
        if (body.type === "deliver") {
          if (seen.has(body.delivery_id)) {
            m.ack();
            return;
          }
          seen.add(body.delivery_id);
        }
        try {
          if (deadLetters) {
            if (body.type === "deliver") await markDead(requireDb(env), body.delivery_id);
            else console.error(`queue ${batch.queue}: fan-out batch for ${body.go_live.stream_id} dead-lettered (${body.follower_ids.length} followers)`);
            m.ack();
          } else if (body.type === "fanout") {
            await processFanout(env, body);
            m.ack();
          } else {
            const outcome = await attemptDelivery(env, body.delivery_id, { fetch: o.fetch, now: o.now, timeoutMs: o.deliveryTimeoutMs });
            if (outcome.kind === "failed") m.retry({ delaySeconds: backoffSeconds(m.attempts) });
            else if (outcome.kind === "busy") m.retry({ delaySeconds: outcome.retryAfterS });
            else m.ack();
          }
        } catch (err) {
          console.error(`queue ${batch.queue}: message ${m.id} failed (attempt ${m.attempts}): ${err instanceof Error ? err.message : String(err)}`);
          m.retry({ delaySeconds: backoffSeconds(m.attempts, 2, 300) });
        }
      }),
    );
  };
};
