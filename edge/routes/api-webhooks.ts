import { Hono } from "hono";
import { requireUser } from "../accounts/auth.ts";
import type { UserClaims } from "../accounts/user-token.ts";
import { requireDb } from "../db/database.ts";
import { conflict, forbidden, invalidFields, notFound, type FieldErrors } from "../http/api-error.ts";
import { FieldReader, queryInteger } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields } from "../http/json-body.ts";
import { WEBHOOK_EVENTS, type WebhookEvent } from "../notifications/messages.ts";
import { SIGNATURE_HEADER } from "../webhooks/signature.ts";
import { checkWebhookTarget } from "../webhooks/target-url.ts";
import { deleteWebhook, getWebhook, insertWebhook, listDeliveries, listWebhooks, MAX_WEBHOOKS_PER_USER, WEBHOOK_ID_PATTERN, webhookView } from "../webhooks/webhook-store.ts";
import { edgeConfig } from "../config.ts";

const MAX_URL_LENGTH = 2_048;

/** 400 for an id that cannot be one, 404 when there is none, 403 when it is someone else's (admins may). */
const loadOwnWebhook = async (db: D1Database, id: string, me: UserClaims) => {
  if (!WEBHOOK_ID_PATTERN.test(id)) throw invalidFields({ id: `must match ${WEBHOOK_ID_PATTERN.source}` }, "invalid webhook id");
  const hook = await getWebhook(db, id);
  if (!hook) throw notFound("webhook");
  if (hook.user_id !== me.sub && me.role !== "admin") throw forbidden("only the webhook's owner or an admin may do this");
  return hook;
};

/** `POST/GET /api/v1/webhooks`, `DELETE /api/v1/webhooks/:id`: the caller's signed HTTP callbacks. */
export const webhookRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.post("/api/v1/webhooks", async (c) => {
    const me = await requireUser(c);
    const body = await readJsonObject(c);
    const f = new FieldReader(body);
    Object.assign(f.errors, unknownFields(body, ["url", "events"]));
    const rawUrl = f.string("url", { required: true, min: 1, max: MAX_URL_LENGTH });
    const events = f.stringArray("events", {
      required: true,
      maxItems: 10,
      item: (s) => ((WEBHOOK_EVENTS as readonly string[]).includes(s) ? s : null),
      itemMessage: `must be one of: ${WEBHOOK_EVENTS.join(", ")}`,
    });
    if (events && events.length === 0) f.fail("events", `must name at least one of: ${WEBHOOK_EVENTS.join(", ")}`);
    let url: string | undefined;
    if (rawUrl !== undefined) {
      const target = checkWebhookTarget(rawUrl, edgeConfig(c.env).allowPrivateWebhooks);
      if (target.ok) url = target.url;
      else f.fail("url", target.reason);
    }
    assertNoFieldErrors(f.errors);
    const hook = await insertWebhook(requireDb(c.env), me.sub, url!, events as WebhookEvent[]);
    if (!hook) throw conflict(`you already have ${MAX_WEBHOOKS_PER_USER} webhooks; delete one first`);
    return c.json(
      { webhook: webhookView(hook), secret: hook.secret, signature_header: SIGNATURE_HEADER, signature_format: 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>' },
      201,
      { location: `/api/v1/webhooks/${hook.id}`, "cache-control": "no-store" },
    );
  });

  app.get("/api/v1/webhooks", async (c) => {
    const me = await requireUser(c);
    const hooks = await listWebhooks(requireDb(c.env), me.sub);
    return c.json({ webhooks: hooks.map(webhookView), events: WEBHOOK_EVENTS });
  });

  app.delete("/api/v1/webhooks/:id", async (c) => {
    const me = await requireUser(c);
    const db = requireDb(c.env);
    const hook = await loadOwnWebhook(db, c.req.param("id"), me);
    await deleteWebhook(db, hook.id);
    return c.body(null, 204);
  });

  app.get("/api/v1/webhooks/:id/deliveries", async (c) => {
    const me = await requireUser(c);
    const errors: FieldErrors = {};
    const limit = queryInteger(c.req.query("limit"), "limit", { min: 1, max: 100, fallback: 50 }, errors);
    const db = requireDb(c.env);
    const hook = await loadOwnWebhook(db, c.req.param("id"), me);
    if (Object.keys(errors).length) throw invalidFields(errors);
    const rows = await listDeliveries(db, hook.id, limit);
    return c.json({
      deliveries: rows.map((d) => ({ id: d.id, event: d.event, status: d.status, attempts: d.attempts, last_status: d.last_status, last_error: d.last_error })),
    });
  });

  return app;
};
