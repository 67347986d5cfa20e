import { describe, expect, it } from "vitest";
import { signNodeToken } from "../../shared/tokens.ts";
import { apiClient, setStreamState, testEnv } from "../../test/support/edge/api-client.ts";
import { getNode } from "./node-store.ts";

type Fields = { error: string; fields: Record<string, string> };

const api = apiClient();
const NODE_SECRET = testEnv().NODE_SECRET!;
let n = 0;
const nodeId = () => `node-${Date.now().toString(36)}-${n++}`;
const capacity = { slots: 4, slots_used: 1, encoder: "libx264", load: 0.42, speed: 1.7 };

describe("transcoder nodes", () => {
  it("register and heartbeat with a node token; capacity lands in D1", async () => {
    const id = nodeId();
    const token = await signNodeToken(NODE_SECRET, id);
    const reg = await api.call("POST", "/api/v1/nodes/register", { token, json: { ...capacity, control_url: "http://127.0.0.1:8090", rtmp_url: "rtmp://127.0.0.1:1935/live", version: "cascade-0.1" } });
    expect(reg.status).toBe(200);
    expect(reg.body).toEqual({ node_id: id, registered: true, heartbeat_interval_s: 10 });
    expect(await getNode(testEnv().DB!, id)).toMatchObject({ slots: 4, slots_used: 1, encoder: "libx264", load: 0.42, speed: 1.7, control_url: "http://127.0.0.1:8090", status: "online" });
    const beat = await api.call("POST", "/api/v1/nodes/heartbeat", { token, json: { slots: 4, slots_used: 3, encoder: "h264_nvenc", load: 0.9, speed: 1.1 } });
    expect(beat.status).toBe(200);
    const row = await getNode(testEnv().DB!, id);
    expect(row).toMatchObject({ slots_used: 3, encoder: "h264_nvenc", load: 0.9, speed: 1.1 });
    expect(Date.parse(row!.last_heartbeat_at)).toBeGreaterThanOrEqual(Date.parse(row!.registered_at));
  });

  it("a heartbeat from an unregistered node is 404 (it registers again)", async () => {
    const token = await signNodeToken(NODE_SECRET, nodeId());
    const r = await api.call("POST", "/api/v1/nodes/heartbeat", { token, json: capacity });
    expect(r.status).toBe(404);
    expect(r.body).toMatchObject({ error: "node not registered; register first" });
  });

  it("401 without or with a bad node token (a user token is not one); 503 without NODE_SECRET", async () => {
    const user = await api.signUp("notanode");
    const foreign = await signNodeToken("another-secret-0123456789", "node-x");
    for (const path of ["/api/v1/nodes/register", "/api/v1/nodes/heartbeat", "/api/v1/ingest/authorize"]) {
      for (const token of [null, "garbage", foreign, user.token]) {
        const r = await api.call("POST", path, { token, json: capacity });
        expect(r.status, `${path} ${token}`).toBe(401);
      }
      expect((await api.call("POST", path, { token: await signNodeToken(NODE_SECRET, "node-y"), json: capacity }, { NODE_SECRET: "" })).status).toBe(503);
    }
  });

  it("400 naming bad capacity fields, bad JSON and 413", async () => {
    const token = await signNodeToken(NODE_SECRET, nodeId());
    const r = await api.call<Fields>("POST", "/api/v1/nodes/register", { token, json: { slots: -1, encoder: "NV ENC", load: "high", control_url: "ftp://x", extra: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.fields).toEqual({ slots: "must be from 0 to 1024", encoder: expect.any(String), load: "must be a number", speed: "required", control_url: "must be an http(s) URL", extra: "unknown field" });
    expect((await api.call("POST", "/api/v1/nodes/heartbeat", { token, raw: "{" })).status).toBe(400);
    expect((await api.call("POST", "/api/v1/nodes/register", { token, json: { ...capacity, version: "v".repeat(20_000) } })).status).toBe(413);
  });
});

describe("POST /api/v1/ingest/authorize", () => {
  const setup = async () => {
    const owner = await api.signUp("publisher");
    const s = await api.createStream(owner.token);
    const token = await signNodeToken(NODE_SECRET, nodeId());
    const check = (stream_key: string, extra: Record<string, unknown> = {}, env: Record<string, string> = {}) =>
      api.call<{ allowed: boolean; stream_id: string | null; reason?: string }>("POST", "/api/v1/ingest/authorize", { token, json: { stream_key, app: "live", ...extra } }, env);
    return { owner, s, check };
  };

  it("allows the right key with its stream id and refuses wrong, foreign and malformed keys", async () => {
    const { s, check } = await setup();
    const ok = await check(s.stream_key, { remote_address: "203.0.113.7" });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ allowed: true, stream_id: s.stream_id, saga: "running" });
    const secretPart = s.stream_key.slice(-43);
    const wrong = `sk_${s.stream_id}_${secretPart.slice(0, -1)}${secretPart.endsWith("A") ? "B" : "A"}`;
    for (const key of [wrong, `sk_zzzzzzzzzzzz_${secretPart}`, "demo", s.stream_key.toUpperCase(), `${s.stream_key} `]) {
      const r = await check(key);
      expect(r.status, key).toBe(200);
      expect(r.body).toEqual({ allowed: false, stream_id: null, reason: "unknown stream key" });
    }
  });

  it("refuses the key of an ended stream", async () => {
    const { s, check } = await setup();
    await setStreamState(s.stream_id, { status: "ended" });
    expect((await check(s.stream_key)).body).toEqual({ allowed: false, stream_id: null, reason: "stream has ended" });
  });

  it("400 for a missing or non-string key", async () => {
    const { check } = await setup();
    const token = await signNodeToken(NODE_SECRET, nodeId());
    const missing = await api.call<Fields>("POST", "/api/v1/ingest/authorize", { token, json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.fields).toEqual({ stream_key: "required" });
    expect((await check(42 as unknown as string)).status).toBe(400);
  });

  it("rate-limits guesses per stream: 429 with Retry-After, even for the right key, until the window ends", async () => {
    const { s, check } = await setup();
    const limit = { KEY_CHECK_RATE_LIMIT: "3/60" };
    const wrong = `sk_${s.stream_id}_${"A".repeat(43)}`;
    // A success gives its attempt back: it never counts.
    for (let i = 0; i < 5; i++) expect((await check(s.stream_key, {}, limit)).body.allowed).toBe(true);
    for (let i = 0; i < 3; i++) expect((await check(wrong, { remote_address: `198.51.100.${i}` }, limit)).body.allowed).toBe(false);
    const limited = await check(wrong, { remote_address: "198.51.100.99" }, limit);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await check(s.stream_key, {}, limit)).status).toBe(429);
    // Another stream's key is not affected.
    const other = await setup();
    expect((await other.check(other.s.stream_key, {}, limit)).body.allowed).toBe(true);
  });

  it("rate-limits guesses per publisher address across streams", async () => {
    const { check } = await setup();
    const limit = { KEY_CHECK_RATE_LIMIT: "3/60" };
    const addr = { remote_address: `192.0.2.${Math.floor(Math.random() * 250)}` };
    // Three different (unknown) streams from one address, then a fourth: refused by the address bucket.
    for (const id of ["aaaaaaaaaaab", "aaaaaaaaaaac", "aaaaaaaaaaad"]) expect((await check(`sk_${id}_${"A".repeat(43)}`, addr, limit)).status).toBe(200);
    expect((await check(`sk_zzzzzzzzzzzz_${"B".repeat(43)}`, addr, limit)).status).toBe(429);
  });
});
