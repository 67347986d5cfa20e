import { isoNow } from "../db/database.ts";
import { randomId } from "../db/ids.ts";
import type { WebhookEvent } from "../notifications/messages.ts";

/** Hooks one user may register. */
export const MAX_WEBHOOKS_PER_USER = 10;

export interface WebhookRow {
  id: string;
  user_id: string;
  url: string;
  events: string;
  secret: string;
  active: number;
  failure_count: number;
  created_at: string;
  updated_at: string;
}

export interface DeliveryRow {
  id: string;
  webhook_id: string;
  event: string;
  dedupe_key: string;
  payload: string;
  status: "pending" | "delivered" | "dead";
  attempts: number;
  last_status: number | null;
  last_error: string | null;
}

const toBase64Url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

/** A signing secret: `whsec_` + 256 random bits. */
export const newWebhookSecret = (): string => `whsec_${toBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;

export const WEBHOOK_ID_PATTERN = /^wh_[a-z2-7]{16}$/;

/** Inserts a hook unless the user already has MAX_WEBHOOKS_PER_USER; null when at the limit. */
export const insertWebhook = async (db: D1Database, userId: string, url: string, events: WebhookEvent[]): Promise<WebhookRow | null> => {
  const now = isoNow();
  const row: WebhookRow = { id: `wh_${randomId(16)}`, user_id: userId, url, events: JSON.stringify(events), secret: newWebhookSecret(), active: 1, failure_count: 0, created_at: now, updated_at: now };
  const r = await db
    .prepare(
      `INSERT INTO webhooks (id, user_id, url, events, secret, active, failure_count, created_at, updated_at)
       SELECT ?1, ?2, ?3, ?4, ?5, 1, 0, ?6, ?6 WHERE (SELECT count(*) FROM webhooks WHERE user_id = ?2) < ?7`,
    )
    .bind(row.id, userId, url, row.events, row.secret, now, MAX_WEBHOOKS_PER_USER)
    .run();
  return r.meta.changes === 1 ? row : null;
};

export const getWebhook = (db: D1Database, id: string): Promise<WebhookRow | null> => db.prepare("SELECT * FROM webhooks WHERE id = ?1").bind(id).first<WebhookRow>();

export const listWebhooks = async (db: D1Database, userId: string): Promise<WebhookRow[]> =>
  (await db.prepare("SELECT * FROM webhooks WHERE user_id = ?1 ORDER BY created_at DESC, id DESC").bind(userId).all<WebhookRow>()).results;

export const deleteWebhook = async (db: D1Database, id: string): Promise<boolean> => (await db.prepare("DELETE FROM webhooks WHERE id = ?1").bind(id).run()).meta.changes === 1;

/** What the API shows of a hook: never its secret. */
export const webhookView = (w: WebhookRow) => ({
  id: w.id,
  url: w.url,
  events: JSON.parse(w.events) as string[],
  active: w.active === 1,
  failure_count: w.failure_count,
  created_at: w.created_at,
});

/** Active hooks of the given users subscribed to `event`. */
export const hooksFor = async (db: D1Database, userIds: string[], event: WebhookEvent): Promise<Array<Pick<WebhookRow, "id" | "user_id">>> => {
  if (userIds.length === 0) return [];
  const r = await db
    .prepare(
      `SELECT w.id, w.user_id FROM json_each(?1) j CROSS JOIN webhooks w ON w.user_id = j.value
       WHERE w.active = 1 AND EXISTS (SELECT 1 FROM json_each(w.events) e WHERE e.value = ?2)`,
    )
    .bind(JSON.stringify(userIds), event)
    .all<Pick<WebhookRow, "id" | "user_id">>();
  return r.results;
};

/**
 * Creates the delivery of one event occurrence (`dedupeKey`) to each hook, unless it exists, and
 * returns the ids of those still pending (new ones and ones a redelivered batch finds unfinished).
 * `payload(deliveryId)` builds the body that every attempt will sign and send.
 */
export const createDeliveries = async (
  db: D1Database,
  hookIds: string[],
  event: WebhookEvent,
  dedupeKey: string,
  payload: (deliveryId: string) => string,
): Promise<string[]> => {
  if (hookIds.length === 0) return [];
  const now = isoNow();
  const insert = db.prepare(
    `INSERT INTO webhook_deliveries (id, webhook_id, event, dedupe_key, payload, status, attempts, created_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?6) ON CONFLICT (webhook_id, dedupe_key) DO NOTHING`,
  );
  const statements = hookIds.map((hookId) => {
    const id = `whd_${randomId(16)}`;
    return insert.bind(id, hookId, event, dedupeKey, payload(id), now);
  });
  for (let i = 0; i < statements.length; i += 50) await db.batch(statements.slice(i, i + 50));
  const r = await db
    .prepare("SELECT id FROM webhook_deliveries WHERE dedupe_key = ?1 AND status = 'pending' AND webhook_id IN (SELECT value FROM json_each(?2))")
    .bind(dedupeKey, JSON.stringify(hookIds))
    .all<{ id: string }>();
  return r.results.map((row) => row.id);
};

/** A hook's latest deliveries, newest first (what `GET /api/v1/webhooks/:id/deliveries` shows). */
export const listDeliveries = async (db: D1Database, webhookId: string, limit: number): Promise<DeliveryRow[]> =>
  (
    await db
      .prepare(
        `SELECT id, webhook_id, event, dedupe_key, payload, status, attempts, last_status, last_error FROM webhook_deliveries
         WHERE webhook_id = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2`,
      )
      .bind(webhookId, limit)
      .all<DeliveryRow>()
  ).results;

export const getDelivery = (db: D1Database, id: string): Promise<(DeliveryRow & { url: string; secret: string; active: number }) | null> =>
  db
    .prepare(
      `SELECT d.id, d.webhook_id, d.event, d.dedupe_key, d.payload, d.status, d.attempts, d.last_status, d.last_error, w.url, w.secret, w.active
       FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?1`,
    )
    .bind(id)
    .first();

/** Takes the delivery for one attempt until `untilMs`; false when it is finished or another attempt holds it. */
export const claimDelivery = async (db: D1Database, id: string, nowMs: number, untilMs: number): Promise<boolean> =>
  !!(await db
    .prepare("UPDATE webhook_deliveries SET lease_until = ?3 WHERE id = ?1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?2) RETURNING id")
    .bind(id, nowMs, untilMs)
    .first());

/** Records a successful attempt; the hook's consecutive-failure count starts again. */
export const markDelivered = async (db: D1Database, d: { id: string; webhook_id: string }, status: number): Promise<void> => {
  const now = isoNow();
  await db.batch([
    db
      .prepare("UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?2, last_error = NULL, lease_until = NULL, delivered_at = ?3, updated_at = ?3 WHERE id = ?1")
      .bind(d.id, status, now),
    db.prepare("UPDATE webhooks SET failure_count = 0, updated_at = ?2 WHERE id = ?1 AND failure_count <> 0").bind(d.webhook_id, now),
  ]);
};

export const markAttemptFailed = async (db: D1Database, id: string, status: number | null, error: string): Promise<void> => {
  await db
    .prepare("UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2, last_error = ?3, lease_until = NULL, updated_at = ?4 WHERE id = ?1 AND status = 'pending'")
    .bind(id, status, error.slice(0, 500), isoNow())
    .run();
};

/** Hooks whose deliveries keep dying are switched off after this many in a row. */
export const DISABLE_AFTER_DEAD = 20;

/** A delivery that used up its retries (it reached the dead-letter queue). */
export const markDead = async (db: D1Database, id: string): Promise<void> => {
  const now = isoNow();
  const row = await db.prepare("UPDATE webhook_deliveries SET status = 'dead', lease_until = NULL, updated_at = ?2 WHERE id = ?1 AND status = 'pending' RETURNING webhook_id").bind(id, now).first<{ webhook_id: string }>();
  if (!row) return;
  await db
    .prepare("UPDATE webhooks SET failure_count = failure_count + 1, active = CASE WHEN failure_count + 1 >= ?2 THEN 0 ELSE active END, updated_at = ?3 WHERE id = ?1")
    .bind(row.webhook_id, DISABLE_AFTER_DEAD, now)
    .run();
};
