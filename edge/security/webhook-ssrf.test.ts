/**
 * Webhook SSRF: targets on private, loopback, link-local or metadata addresses — however the
 * address is spelled (decimal, hex, octal, short forms, trailing dots, full-width dots, IPv4 inside
 * IPv6) — are refused with 400 naming `url` and no hook is stored; deliveries re-check the target,
 * never follow a redirect (one request, `redirect: "manual"`, a 3xx is a failed attempt).
 * The basic ranges are in edge/webhooks/webhooks.test.ts; these are the spellings around them.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { testEnv } from "../../test/support/edge/api-client.ts";
import { attemptDelivery } from "../webhooks/deliver.ts";
import { checkWebhookTarget } from "../webhooks/target-url.ts";
import { createDeliveries } from "../webhooks/webhook-store.ts";
import { api, buildFixture, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

type Fields = { error: string; fields: Record<string, string> };

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

const REFUSED = [
  "https://0/x", // 0.0.0.0
  "https://127.1/x",
  "https://0x7f.0.0.1/x",
  "https://0177.1/x",
  "https://2130706433./x", // decimal, trailing dot
  "https://127%2E0%2E0%2E1/x", // percent-encoded dots
  "https://127\u30020\u30020\u30021/x", // ideographic full stops
  "https://2852039166/latest/meta-data/", // 169.254.169.254 in decimal
  "https://0xa9fea9fe/latest/meta-data/", // in hex
  "https://0251.0376.0251.0376/latest/meta-data/", // in octal
  "https://169.254.169.254./latest/meta-data/",
  "https://100.100.100.200/latest/meta-data/", // another cloud's metadata, in CGNAT space
  "https://[::ffff:7f00:1]/x", // IPv4-mapped, hex
  "https://[::ffff:169.254.169.254]/x",
  "https://[0:0:0:0:0:ffff:10.0.0.1]/x",
  "https://[::127.0.0.1]/x", // IPv4-compatible
  "https://[::ffff:0:127.0.0.1]/x", // IPv4-translated (::ffff:0:0/96)
  "https://[::ffff:0:a9fe:a9fe]/x",
  "https://[64:ff9b:1::a00:1]/x", // local-use NAT64 (64:ff9b:1::/48) of 10.0.0.1
  "https://[fe80::1%25eth0]/x", // zone id
  "https://localhost../x",
  "https://api.localhost../x",
  "https://metadata.google.internal./computeMetadata/v1/",
  "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/x", // full-width "localhost"
  "https://hooks.example.com@127.0.0.1/x", // credentials, and a loopback host
  "https://10.0.0.1:443@hooks.example.com/x",
  "http://hooks.example.com/x",
];

describe("webhook targets: SSRF spellings", () => {
  it("refuses every private, loopback and metadata spelling", () => {
    for (const url of REFUSED) expect(checkWebhookTarget(url), url).toMatchObject({ ok: false });
  });

  it("still accepts public addresses written the same ways", () => {
    for (const url of ["https://134744072/x", "https://0x08080808/x", "https://[::ffff:8.8.8.8]/x", "https://[64:ff9b::8.8.8.8]/x", "https://hooks.example.com./x"]) {
      expect(checkWebhookTarget(url), url).toMatchObject({ ok: true });
    }
  });

  it("the API answers 400 naming url for each, and stores no hook", async () => {
    const before = await snapshot(f);
    for (const url of REFUSED) {
      const r = await api.call<Fields>("POST", "/api/v1/webhooks", { token: f.owner.token, json: { url, events: ["stream_started"] } });
      expect(r.status, `${url}: ${r.text}`).toBe(400);
      expect(Object.keys(r.body.fields), url).toEqual(["url"]);
    }
    expect(await snapshot(f)).toEqual(before);
  });
});

describe("webhook deliveries", () => {
  const deliveryRow = (id: string) => testEnv().DB!.prepare("SELECT status, attempts, last_status, last_error FROM webhook_deliveries WHERE id = ?1").bind(id).first();

  it("never follow a redirect: one request, redirect manual, a 3xx to a metadata address is a failed attempt", async () => {
    for (const status of [301, 302, 303, 307, 308]) {
      const [id] = await createDeliveries(testEnv().DB!, [f.webhookId], "stream_started", `ssrf:${crypto.randomUUID()}`, () => "{}");
      const sent: Request[] = [];
      const outcome = await attemptDelivery(testEnv(), id!, {
        fetch: async (req) => (sent.push(req), new Response(null, { status, headers: { location: "http://169.254.169.254/latest/meta-data/" } })),
        now: () => Date.now(),
        timeoutMs: 1000,
      });
      expect(sent.map((r) => [r.url, r.redirect]), String(status)).toEqual([["https://hooks.example.com/cascade", "manual"]]);
      expect(outcome).toEqual({ kind: "failed", status, error: `redirect ${status} not followed` });
      expect(await deliveryRow(id!)).toMatchObject({ status: "pending", attempts: 1, last_status: status, last_error: `redirect ${status} not followed` });
    }
  });

  it("re-check the stored target: a row pointing at a private address (rules tightened since) is never called", async () => {
    const db = testEnv().DB!;
    for (const url of ["https://[::ffff:0:127.0.0.1]/x", "https://169.254.169.254/latest/meta-data/"]) {
      await db.prepare("UPDATE webhooks SET url = ?1 WHERE id = ?2").bind(url, f.webhookId).run();
      const [id] = await createDeliveries(db, [f.webhookId], "stream_started", `ssrf:${crypto.randomUUID()}`, () => "{}");
      let calls = 0;
      const outcome = await attemptDelivery(testEnv(), id!, { fetch: async () => (calls++, new Response("ok")), now: () => Date.now(), timeoutMs: 1000 });
      expect(calls, url).toBe(0);
      expect(outcome).toMatchObject({ kind: "skipped", reason: expect.stringMatching(/^target refused: /) });
      expect(await deliveryRow(id!)).toMatchObject({ status: "dead" });
    }
  });
});
