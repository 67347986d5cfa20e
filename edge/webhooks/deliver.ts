import { requireDb } from "../db/database.ts";
import { SIGNATURE_HEADER, signPayload } from "./signature.ts";
import { checkWebhookTarget } from "./target-url.ts";
import { claimDelivery, getDelivery, markAttemptFailed, markDead, markDelivered } from "./webhook-store.ts";
import { edgeConfig } from "../config.ts";

/** How deliveries reach the receiver; `fetch` in production, a fake in tests. */
export type DeliveryFetch = (request: Request) => Promise<Response>;

export interface DeliveryOptions {
  fetch: DeliveryFetch;
  /** Unix milliseconds. */
  now: () => number;
  /** A receiver that does not answer within this long has failed the attempt. */
  timeoutMs: number;
}

/** Backoff before retry `attempt + 1`: 10 s, 20 s, 40 s … capped at one hour. */
export const backoffSeconds = (attempt: number, baseS = 10, capS = 3_600): number => Math.min(capS, baseS * 2 ** Math.max(0, attempt - 1));

export type AttemptOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "skipped"; reason: string }
  /** Another attempt holds the delivery: try again once its lease has run out. */
  | { kind: "busy"; retryAfterS: number }
  | { kind: "failed"; status: number | null; error: string };

/**
 * One attempt of one delivery: signs the stored body with the hook's secret and POSTs it, without
 * following redirects. The outcome is recorded in D1; the caller acks or retries the message.
 */
export const attemptDelivery = async (env: Env, deliveryId: string, o: DeliveryOptions): Promise<AttemptOutcome> => {
  const db = requireDb(env);
  const d = await getDelivery(db, deliveryId);
  if (!d) return { kind: "skipped", reason: "delivery or webhook deleted" };
  if (d.status !== "pending") return { kind: "skipped", reason: `already ${d.status}` };
  if (d.active !== 1) return { kind: "skipped", reason: "webhook disabled" };
  // The target was checked at registration; check again in case the rules or the flag changed.
  const target = checkWebhookTarget(d.url, edgeConfig(env).allowPrivateWebhooks);
  if (!target.ok) {
    await markAttemptFailed(db, d.id, null, `target refused: ${target.reason}`);
    await markDead(db, d.id);
    return { kind: "skipped", reason: `target refused: ${target.reason}` };
  }
  const nowMs = o.now();
  // At least once: a redelivered fan-out batch may enqueue a pending delivery again. One attempt at a time.
  const leaseMs = o.timeoutMs + 5_000;
  if (!(await claimDelivery(db, d.id, nowMs, nowMs + leaseMs))) return { kind: "busy", retryAfterS: Math.ceil(leaseMs / 1000) };
  const t = Math.floor(nowMs / 1000);
  const request = new Request(target.url, {
    method: "POST",
    redirect: "manual",
    headers: {
      "content-type": "application/json",
      "user-agent": "Cascade-Webhooks/1",
      [SIGNATURE_HEADER]: await signPayload(d.secret, d.payload, t),
      "Cascade-Event": d.event,
      "Cascade-Delivery": d.id,
    },
    body: d.payload,
    signal: AbortSignal.timeout(o.timeoutMs),
  });
  let status: number | null = null;
  try {
    const res = await o.fetch(request);
    status = res.status;
    await res.body?.cancel();
  } catch (err) {
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    await markAttemptFailed(db, d.id, null, error);
    return { kind: "failed", status: null, error };
  }
  if (status >= 200 && status < 300) {
    await markDelivered(db, d, status);
    return { kind: "delivered", status };
  }
  const error = status >= 300 && status < 400 ? `redirect ${status} not followed` : `receiver answered ${status}`;
  await markAttemptFailed(db, d.id, status, error);
  return { kind: "failed", status, error };
};
