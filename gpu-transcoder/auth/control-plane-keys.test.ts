import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ControlPlaneKeys } from "./control-plane-keys.ts";
import { LocalKeyList } from "./local-keys.ts";

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A tiny control plane on a free loopback port; records what it was sent. */
const controlPlane = async (handler: Handler) => {
  const seen: Array<{ method: string; url: string; authorization: string | undefined; body: string }> = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, body });
      handler(req, body, res);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
};

const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
};

const KEY = "sk_abcdefghijkl_" + "x".repeat(43);
const req = { app: "live", key: KEY, remoteAddress: "203.0.113.5" };

describe("ControlPlaneKeys", () => {
  it("asks POST /api/v1/ingest/authorize with the node token; allowed → the stream id", async () => {
    const cp = await controlPlane((_req, body, res) => {
      const { stream_key } = JSON.parse(body) as { stream_key: string };
      json(res, 200, stream_key === KEY ? { allowed: true, stream_id: "abcdefghijkl" } : { allowed: false, stream_id: null, reason: "unknown stream key" });
    });
    const keys = new ControlPlaneKeys({ baseUrl: `${cp.url}/`, nodeToken: "node-1.sig" });
    expect(await keys.authorize(req)).toEqual({ ok: true, streamId: "abcdefghijkl" });
    expect(cp.seen[0]).toMatchObject({ method: "POST", url: "/api/v1/ingest/authorize", authorization: "Bearer node-1.sig" });
    expect(JSON.parse(cp.seen[0]!.body)).toEqual({ stream_key: KEY, app: "live", remote_address: "203.0.113.5" });
    expect(await keys.authorize({ ...req, key: "sk_wrong" })).toEqual({ ok: false, reason: "unknown stream key" });
  });

  it("refuses on 429 (saying when to retry), on errors, on malformed answers and on a bad stream id", async () => {
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => json(res, 429, { error: "too many attempts; try again later" }, { "retry-after": "42" }),
      (res) => json(res, 500, { error: "internal error" }),
      (res) => json(res, 401, { error: "a valid node token is required" }),
      (res) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("{not json");
      },
      (res) => json(res, 200, { allowed: "yes", stream_id: "abcdefghijkl" }),
      (res) => json(res, 200, { allowed: true, stream_id: "../etc/passwd" }),
    ];
    let i = 0;
    const cp = await controlPlane((_req, _body, res) => answers[i++]!(res));
    const keys = new ControlPlaneKeys({ baseUrl: cp.url, nodeToken: "t" });
    const results = [];
    for (let n = 0; n < answers.length; n++) results.push(await keys.authorize(req));
    expect(results).toEqual([
      { ok: false, reason: "too many key checks; retry after 42 s" },
      { ok: false, reason: "control plane answered 500" },
      { ok: false, reason: "control plane answered 401" },
      { ok: false, reason: "control plane sent a malformed answer" },
      { ok: false, reason: "control plane sent a malformed answer" },
      { ok: false, reason: "control plane sent a malformed answer" },
    ]);
    for (const r of results) if (!r.ok) expect(r.reason).not.toContain(KEY);
  });

  it("refuses within the timeout when the control plane hangs, and when nothing listens", async () => {
    const cp = await controlPlane(() => {
      // never answers
    });
    const keys = new ControlPlaneKeys({ baseUrl: cp.url, nodeToken: "t", timeoutMs: 200 });
    const started = Date.now();
    expect(await keys.authorize(req)).toEqual({ ok: false, reason: "control plane did not answer within 200 ms" });
    expect(Date.now() - started).toBeLessThan(2000);
    cp.server.closeAllConnections();

    const gone = await controlPlane(() => {});
    const port = new URL(gone.url).port;
    await new Promise<void>((r) => gone.server.close(() => r()));
    servers.splice(servers.indexOf(gone.server), 1);
    const refused = new ControlPlaneKeys({ baseUrl: `http://127.0.0.1:${port}`, nodeToken: "t", timeoutMs: 1000 });
    expect(await refused.authorize(req)).toEqual({ ok: false, reason: "control plane unreachable" });
  });

  it("checks the local key list first: local keys publish without a request, others go to the control plane", async () => {
    const cp = await controlPlane((_req, _body, res) => json(res, 200, { allowed: false, stream_id: null, reason: "unknown stream key" }));
    const keys = new ControlPlaneKeys({ baseUrl: cp.url, nodeToken: "t", local: new LocalKeyList({ demo: "demo_local_key_123" }) });
    expect(await keys.authorize({ ...req, key: "demo_local_key_123" })).toEqual({ ok: true, streamId: "demo" });
    expect(cp.seen).toHaveLength(0);
    expect(await keys.authorize(req)).toEqual({ ok: false, reason: "unknown stream key" });
    expect(cp.seen).toHaveLength(1);
    // The local list still works when the control plane is down.
    const down = new ControlPlaneKeys({ baseUrl: "http://127.0.0.1:9", nodeToken: "t", timeoutMs: 500, local: new LocalKeyList({ demo: "demo_local_key_123" }) });
    expect(await down.authorize({ ...req, key: "demo_local_key_123" })).toEqual({ ok: true, streamId: "demo" });
    expect((await down.authorize(req)).ok).toBe(false);
  });
});
