import type { WorkerEnv } from "../config.ts";
import { describe, expect, it } from "vitest";
import { recordingBatch } from "../../test/support/edge/fanout-measure.ts";
import { QUEUE_NAMES } from "../notifications/messages.ts";
import { goLiveWebhookBody } from "../notifications/notify-seam.ts";
import { createQueueHandler } from "../notifications/queue-handler.ts";
import { apiClient, testEnv } from "../../test/support/edge/api-client.ts";
import { backoffSeconds } from "./deliver.ts";
import { verifySignature } from "./signature.ts";
import { checkWebhookTarget } from "./target-url.ts";
import { createDeliveries, DISABLE_AFTER_DEAD, type WebhookRow } from "./webhook-store.ts";

type Fields = { error: string; fields: Record<string, string> };
type Created = { webhook: { id: string; url: string; events: string[]; active: boolean }; secret: string };

const api = apiClient();
const db = () => testEnv().DB!;

describe("webhook target checks (SSRF)", () => {
  const refused = [
    "http://hooks.example.com/x", // not https
    "ftp://hooks.example.com/x",
    "javascript:alert(1)",
    "not a url",
    "https://user:pass@hooks.example.com/x",
    "https://localhost/x",
    "https://LOCALHOST./x",
    "https://api.localhost/x",
    "https://printer.local/x",
    "https://metadata.google.internal/computeMetadata/v1/",
    "https://service.internal/x",
    "https://router.home.arpa/x",
    "https://intranet/x", // single label
    "https://127.0.0.1/x",
    "https://127.1.2.3/x",
    "https://2130706433/x", // 127.0.0.1 in decimal
    "https://0x7f000001/x", // in hex
    "https://0177.0.0.1/x", // in octal
    "https://0.0.0.0/x",
    "https://10.1.2.3/x",
    "https://172.16.0.1/x",
    "https://172.31.255.255/x",
    "https://192.168.1.1/x",
    "https://169.254.169.254/latest/meta-data/", // cloud metadata
    "https://169.254.1.1/x",
    "https://100.64.0.1/x",
    "https://224.0.0.1/x",
    "https://255.255.255.255/x",
    "https://198.18.0.1/x",
    "https://[::1]/x",
    "https://[::]/x",
    "https://[0:0:0:0:0:0:0:1]/x",
    "https://[fe80::1]/x",
    "https://[fc00::1]/x",
    "https://[fd12:3456::1]/x",
    "https://[fd00:ec2::254]/x", // AWS metadata over IPv6
    "https://[ff02::1]/x",
    "https://[::ffff:127.0.0.1]/x", // IPv4-mapped
    "https://[::ffff:a9fe:a9fe]/x", // mapped 169.254.169.254
    "https://[::ffff:10.0.0.1]/x",
    "https://[64:ff9b::7f00:1]/x", // NAT64 of 127.0.0.1
    "https://[2002:c0a8:0101::1]/x", // 6to4 of 192.168.1.1
    "https://[2001:db8::1]/x",
    "https://[fec0::1]/x",
  ];
  const allowed = ["https://hooks.example.com/cascade?x=1", "https://8.8.8.8/x", "https://93.184.216.34:8443/x", "https://[2606:4700::1111]/x", "https://[::ffff:8.8.8.8]/x", "https://[64:ff9b::808:808]/x"];

  it("refuses private, loopback, link-local, unique-local, metadata and internal targets", () => {
    for (const url of refused) expect(checkWebhookTarget(url).ok, url).toBe(false);
    for (const url of allowed) expect(checkWebhookTarget(url), url).toMatchObject({ ok: true });
  });

  it("ALLOW_PRIVATE_WEBHOOKS allows http and private targets, still not other schemes or credentials", () => {
    for (const url of ["http://127.0.0.1:9000/hook", "http://localhost/x", "https://[::1]/x", "https://10.0.0.1/x", "http://[fd00::1]/x"]) expect(checkWebhookTarget(url, true).ok, url).toBe(true);
    for (const url of ["ftp://127.0.0.1/x", "https://u:p@127.0.0.1/x", "nope"]) expect(checkWebhookTarget(url, true).ok, url).toBe(false);
  });

  it("the API names the url field and honours the flag", async () => {
    const u = await api.signUp("ssrf");
    for (const url of refused) {
      const r = await api.call<Fields>("POST", "/api/v1/webhooks", { token: u.token, json: { url, events: ["stream_started"] } });
      expect(r.status, url).toBe(400);
      expect(Object.keys(r.body.fields), url).toEqual(["url"]);
    }
    const dev = await api.call<Created>("POST", "/api/v1/webhooks", { token: u.token, json: { url: "http://127.0.0.1:9000/hook", events: ["stream_started"] } }, { ALLOW_PRIVATE_WEBHOOKS: "true" });
    expect(dev.status).toBe(201);
    const notTrue = await api.call("POST", "/api/v1/webhooks", { token: u.token, json: { url: "http://127.0.0.1:9000/hook", events: ["stream_started"] } }, { ALLOW_PRIVATE_WEBHOOKS: "1" });
    expect(notTrue.status).toBe(400);
  });
});

describe("POST/GET/DELETE /api/v1/webhooks", () => {
  it("creates (secret shown once), lists without the secret, deletes", async () => {
    const u = await api.signUp("hooks");
    const r = await api.call<Created>("POST", "/api/v1/webhooks", { token: u.token, json: { url: "https://hooks.example.com/a#frag", events: ["stream_started", "followed_stream_started", "stream_started"] } });
    expect(r.status).toBe(201);
    expect(r.headers.get("location")).toBe(`/api/v1/webhooks/${r.body.webhook.id}`);
    expect(r.body.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(r.body.webhook).toMatchObject({ url: "https://hooks.example.com/a", events: ["stream_started", "followed_stream_started"], active: true });
    const list = await api.call<{ webhooks: Array<{ id: string }> }>("GET", "/api/v1/webhooks", { token: u.token });
    expect(list.body.webhooks.map((w) => w.id)).toEqual([r.body.webhook.id]);
    expect(list.text).not.toContain(r.body.secret);
    expect(list.text).not.toContain("secret");

    const other = await api.signUp("thief");
    expect((await api.call("DELETE", `/api/v1/webhooks/${r.body.webhook.id}`, { token: other.token })).status).toBe(403);
    expect((await api.call<{ webhooks: unknown[] }>("GET", "/api/v1/webhooks", { token: other.token })).body.webhooks).toEqual([]);
    expect((await api.call("DELETE", `/api/v1/webhooks/${r.body.webhook.id}`)).status).toBe(401);
    expect((await api.call("DELETE", `/api/v1/webhooks/${r.body.webhook.id}`, { token: u.token })).status).toBe(204);
    expect((await api.call("DELETE", `/api/v1/webhooks/${r.body.webhook.id}`, { token: u.token })).status).toBe(404);
    expect((await api.call<Fields>("DELETE", "/api/v1/webhooks/nope", { token: u.token })).body.fields).toHaveProperty("id");
  });

  it("bad input: 401, 400 naming fields, 409 past the limit", async () => {
    expect((await api.call("POST", "/api/v1/webhooks", { json: { url: "https://hooks.example.com", events: ["stream_started"] } })).status).toBe(401);
    expect((await api.call("GET", "/api/v1/webhooks")).status).toBe(401);
    const u = await api.signUp("badhook");
    const cases: Array<[unknown, string[]]> = [
      [{}, ["events", "url"]],
      [{ url: 5, events: "stream_started" }, ["events", "url"]],
      [{ url: "https://hooks.example.com", events: [] }, ["events"]],
      [{ url: "https://hooks.example.com", events: ["stream_exploded"] }, ["events"]],
      [{ url: "https://hooks.example.com", events: [1] }, ["events"]],
      [{ url: "https://hooks.example.com/" + "a".repeat(2100), events: ["stream_started"] }, ["url"]],
      [{ url: "https://hooks.example.com", events: ["stream_started"], secret: "mine" }, ["secret"]],
    ];
    for (const [json, fields] of cases) {
      const r = await api.call<Fields>("POST", "/api/v1/webhooks", { token: u.token, json });
      expect(r.status, JSON.stringify(json).slice(0, 80)).toBe(400);
      expect(Object.keys(r.body.fields).sort(), JSON.stringify(json).slice(0, 80)).toEqual(fields);
    }
    for (let i = 0; i < 10; i++) expect((await api.call("POST", "/api/v1/webhooks", { token: u.token, json: { url: `https://hooks.example.com/${i}`, events: ["stream_started"] } })).status).toBe(201);
    expect((await api.call("POST", "/api/v1/webhooks", { token: u.token, json: { url: "https://hooks.example.com/11", events: ["stream_started"] } })).status).toBe(409);
  });
});

/** A hook registered through the API plus one pending delivery of a go-live to it. */
const pendingDelivery = async (url = "https://hooks.example.com/receiver") => {
  const u = await api.signUp("recv");
  const created = await api.call<Created>("POST", "/api/v1/webhooks", { token: u.token, json: { url, events: ["followed_stream_started"] } });
  expect(created.status).toBe(201);
  const g = { stream_id: "s1", title: "t", category: null, channel: { id: "c", username: "chan" }, started_at: "2026-01-01T00:00:00.000Z", dedupe_key: `stream_started:${crypto.randomUUID()}` };
  const [id] = await createDeliveries(db(), [created.body.webhook.id], "followed_stream_started", g.dedupe_key, (did) => goLiveWebhookBody(did, "followed_stream_started", g, g.started_at));
  return { hookId: created.body.webhook.id, secret: created.body.secret, deliveryId: id! };
};

const deliveryRow = (id: string) => db().prepare("SELECT status, attempts, last_status, last_error FROM webhook_deliveries WHERE id = ?1").bind(id).first<{ status: string; attempts: number; last_status: number | null; last_error: string | null }>();

describe("webhook delivery", () => {
  it("sends a signed body the receiver can verify; tampering or an old timestamp is rejected", async () => {
    const { secret, deliveryId } = await pendingDelivery();
    const captured: Request[] = [];
    const now = Date.UTC(2026, 5, 1);
    const handler = createQueueHandler({ now: () => now, fetch: async (req) => (captured.push(req), new Response(null, { status: 204 })) });
    const { batch, handled } = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }]);
    await handler(batch, testEnv());
    expect(handled[0]!.outcome).toBe("ack");
    expect(captured).toHaveLength(1);
    const req = captured[0]!;
    expect(req.method).toBe("POST");
    expect(req.redirect).toBe("manual");
    expect(req.headers.get("content-type")).toBe("application/json");
    expect(req.headers.get("cascade-event")).toBe("followed_stream_started");
    expect(req.headers.get("cascade-delivery")).toBe(deliveryId);
    const body = await req.text();
    expect(JSON.parse(body)).toMatchObject({ id: deliveryId, type: "followed_stream_started", data: { stream_id: "s1", channel: { username: "chan" } } });
    const sig = req.headers.get("cascade-signature");
    expect(sig).toMatch(new RegExp(`^t=${now / 1000},v1=[0-9a-f]{64}$`));
    const nowS = now / 1000;
    expect(await verifySignature(secret, sig, body, { nowS: nowS + 5 })).toMatchObject({ ok: true });
    expect(await verifySignature(secret, sig, body.replace("chan", "evil"), { nowS })).toEqual({ ok: false, reason: "mismatch" });
    expect(await verifySignature(secret, sig, body, { nowS: nowS + 3600 })).toEqual({ ok: false, reason: "too_old" });
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "delivered", attempts: 1, last_status: 204 });

    // Delivered is final: a duplicate message does not send again.
    const dup = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }]);
    await handler(dup.batch, testEnv());
    expect(dup.handled[0]!.outcome).toBe("ack");
    expect(captured).toHaveLength(1);
  });

  it("failures retry with exponential backoff; the dead-letter queue marks the delivery dead", async () => {
    const { hookId, deliveryId } = await pendingDelivery();
    const statuses = [500, 503, 302, 404];
    let calls = 0;
    const handler = createQueueHandler({
      fetch: async () => {
        const s = statuses[calls++];
        if (s === undefined) throw new TypeError("connection refused");
        return new Response("nope", { status: s, headers: s === 302 ? { location: "http://169.254.169.254/" } : {} });
      },
    });
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const { batch, handled } = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }], attempt);
      await handler(batch, testEnv());
      expect(handled[0]!.outcome).toBe("retry");
      delays.push(handled[0]!.delaySeconds!);
    }
    expect(delays).toEqual([10, 20, 40, 80, 160]);
    expect(await deliveryRow(deliveryId)).toMatchObject({ status: "pending", attempts: 5, last_status: null, last_error: expect.stringContaining("connection refused") });
    expect(calls).toBe(5);

    // After max_retries the platform moves the message to cascade-webhooks-dlq, consumed here too.
    const dlq = recordingBatch(QUEUE_NAMES.webhooksDeadLetter, [{ type: "deliver", delivery_id: deliveryId }], 1);
    await handler(dlq.batch, testEnv());
    expect(dlq.handled[0]!.outcome).toBe("ack");
    expect((await deliveryRow(deliveryId))!.status).toBe("dead");
    const hook = await db().prepare("SELECT failure_count, active FROM webhooks WHERE id = ?1").bind(hookId).first<Pick<WebhookRow, "failure_count" | "active">>();
    expect(hook).toEqual({ failure_count: 1, active: 1 });
    // A dead delivery is never attempted again.
    const late = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }], 9);
    await handler(late.batch, testEnv());
    expect(late.handled[0]!.outcome).toBe("ack");
    expect(calls).toBe(5);
  });

  it("one attempt at a time: a duplicate arriving while an attempt is in flight is retried after the lease", async () => {
    const { deliveryId } = await pendingDelivery();
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const handler = createQueueHandler({ fetch: async () => (calls++, await gate, new Response("ok")), deliveryTimeoutMs: 10_000 });
    const first = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }]);
    const second = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }]);
    const running = handler(first.batch, testEnv());
    while (calls === 0) await new Promise((r) => setTimeout(r, 5));
    await handler(second.batch, testEnv());
    expect(second.handled[0]).toEqual({ id: "msg-0", outcome: "retry", delaySeconds: 15 });
    release();
    await running;
    expect(first.handled[0]!.outcome).toBe("ack");
    expect(calls).toBe(1);
    // The retried duplicate finds it delivered.
    const later = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: deliveryId }], 2);
    await handler(later.batch, testEnv());
    expect(later.handled[0]!.outcome).toBe("ack");
    expect(calls).toBe(1);
  });

  it("GET /api/v1/webhooks/:id/deliveries shows each delivery's state to the owner only", async () => {
    const u = await api.signUp("dlist");
    const created = await api.call<Created>("POST", "/api/v1/webhooks", { token: u.token, json: { url: "https://hooks.example.com/d", events: ["stream_started"] } });
    const hookId = created.body.webhook.id;
    const [id] = await createDeliveries(db(), [hookId], "stream_started", `k:${crypto.randomUUID()}`, () => "{}");
    const { batch } = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: id! }]);
    await createQueueHandler({ fetch: async () => new Response("no", { status: 500 }) })(batch, testEnv());
    const r = await api.call<{ deliveries: unknown[] }>("GET", `/api/v1/webhooks/${hookId}/deliveries`, { token: u.token });
    expect(r.status).toBe(200);
    expect(r.body.deliveries).toEqual([{ id, event: "stream_started", status: "pending", attempts: 1, last_status: 500, last_error: "receiver answered 500" }]);
    const other = await api.signUp("dlist2");
    expect((await api.call("GET", `/api/v1/webhooks/${hookId}/deliveries`, { token: other.token })).status).toBe(403);
    expect((await api.call("GET", `/api/v1/webhooks/${hookId}/deliveries?limit=0`, { token: u.token })).status).toBe(400);
    expect((await api.call("GET", "/api/v1/webhooks/wh_aaaaaaaaaaaaaaaa/deliveries", { token: u.token })).status).toBe(404);
  });

  it("backoff doubles from 10 s and is capped at an hour", () => {
    expect([1, 2, 3, 8, 9, 20].map((a) => backoffSeconds(a))).toEqual([10, 20, 40, 1280, 2560, 3600]);
  });

  it(`a hook whose deliveries die ${DISABLE_AFTER_DEAD} times in a row is disabled; success resets the count`, async () => {
    const { hookId, deliveryId } = await pendingDelivery();
    await db().prepare("UPDATE webhooks SET failure_count = ?2 WHERE id = ?1").bind(hookId, DISABLE_AFTER_DEAD - 1).run();
    const handler = createQueueHandler({ fetch: async () => new Response("ok") });
    const dlq = recordingBatch(QUEUE_NAMES.webhooksDeadLetter, [{ type: "deliver", delivery_id: deliveryId }]);
    await handler(dlq.batch, testEnv());
    expect(await db().prepare("SELECT active FROM webhooks WHERE id = ?1").bind(hookId).first<{ active: number }>()).toEqual({ active: 0 });

    const second = await pendingDelivery();
    await db().prepare("UPDATE webhooks SET failure_count = 3 WHERE id = ?1").bind(second.hookId).run();
    const ok = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: second.deliveryId }]);
    await handler(ok.batch, testEnv());
    expect(await db().prepare("SELECT failure_count FROM webhooks WHERE id = ?1").bind(second.hookId).first<{ failure_count: number }>()).toEqual({ failure_count: 0 });
  });

  it("a target that became private (flag switched off) is not called: the delivery is dead", async () => {
    const env: WorkerEnv = { ...testEnv(), ALLOW_PRIVATE_WEBHOOKS: "true" };
    const u = await api.signUp("flagged");
    const created = await api.call<Created>("POST", "/api/v1/webhooks", { token: u.token, json: { url: "http://127.0.0.1:9/hook", events: ["stream_started"] } }, { ALLOW_PRIVATE_WEBHOOKS: "true" });
    const [id] = await createDeliveries(db(), [created.body.webhook.id], "stream_started", `k:${crypto.randomUUID()}`, () => "{}");
    let calls = 0;
    const handler = createQueueHandler({ fetch: async () => (calls++, new Response("ok")) });
    const off = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: id! }]);
    await handler(off.batch, testEnv());
    expect(calls).toBe(0);
    expect((await deliveryRow(id!))!.last_error).toContain("target refused");
    expect(await deliveryRow(id!)).toMatchObject({ status: "dead" });
    const on = recordingBatch(QUEUE_NAMES.webhooks, [{ type: "deliver", delivery_id: id! }]);
    await handler(on.batch, env);
    expect(calls).toBe(0);
  });
});
