import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { FakeOrigin } from "../../test/support/edge/fake-origin.ts";

const TOKEN = "edge-admin-token-for-tests";
let seq = 0;
const setup = (envOverrides: Partial<WorkerEnv> = {}) => {
  const streamId = `w${Date.now().toString(36)}${seq++}`;
  const origin = new FakeOrigin(streamId);
  origin.publish(0, 0);
  const { app } = createEdgeApp({ upstream: origin.fetch });
  const call = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...(env as unknown as Env), EDGE_ADMIN_TOKEN: TOKEN, ...envOverrides }, ctx);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    return { res, text };
  };
  const prewarm = (token: string | null = TOKEN) => call(`/api/v1/edge/prewarm/${streamId}`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { streamId, origin, call, prewarm };
};

describe("edge prewarm", () => {
  it("pulls the master, every media playlist and every init segment, and reports them", async () => {
    const t = setup();
    const { res, text } = await t.prewarm();
    expect(res.status).toBe(200);
    const report = JSON.parse(text) as { ok: boolean; streamId: string; warmed: { path: string; status: number; ttl: number }[]; failed: unknown[] };
    expect(report.ok).toBe(true);
    expect(report.streamId).toBe(t.streamId);
    expect(report.failed).toEqual([]);
    expect(report.warmed.map((w) => w.path).sort()).toEqual(["360p/index.m3u8", "360p/init0.mp4", "audio/index.m3u8", "audio/init0.mp4", "master.m3u8"]);
    expect(report.warmed.find((w) => w.path === "360p/init0.mp4")!.ttl).toBe(1209600);
    // Now served from the cache, no further upstream request.
    const before = t.origin.total();
    const init = await t.call(`/hls/${t.streamId}/audio/init0.mp4`);
    expect(init.res.headers.get("x-cascade-cache")).toBe("HIT");
    const master = await t.call(`/hls/${t.streamId}/master.m3u8`);
    expect(master.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(t.origin.total()).toBe(before);
  });

  it("refreshes a 404 cached before the stream went live", async () => {
    const t = setup();
    t.origin.playlistStatus = 404;
    expect((await t.call(`/hls/${t.streamId}/master.m3u8`)).res.status).toBe(404);
    expect((await t.call(`/hls/${t.streamId}/master.m3u8`)).res.headers.get("x-cascade-cache")).toBe("HIT");
    const failed = await t.prewarm();
    expect(failed.res.status).toBe(502);
    expect(JSON.parse(failed.text)).toMatchObject({ ok: false, failed: [{ path: "master.m3u8", error: "origin answered 404" }] });
    t.origin.playlistStatus = 200;
    expect((await t.prewarm()).res.status).toBe(200);
    const master = await t.call(`/hls/${t.streamId}/master.m3u8`);
    expect(master.res.status).toBe(200);
    expect(master.res.headers.get("x-cascade-cache")).toBe("HIT");
  });

  it("is authenticated: 401 without or with a wrong token, 503 when no token is configured, 400 for a bad id", async () => {
    const t = setup();
    for (const token of [null, "wrong", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const r = await t.prewarm(token);
      expect(r.res.status).toBe(401);
      expect(r.res.headers.get("www-authenticate")).toBe("Bearer");
      expect(JSON.parse(r.text)).toEqual({ error: "missing or invalid bearer token", code: "unauthorized" });
    }
    expect(t.origin.total()).toBe(0);
    const disabled = setup({ EDGE_ADMIN_TOKEN: "" });
    expect((await disabled.prewarm()).res.status).toBe(503);
    const bad = await t.call(`/api/v1/edge/prewarm/Not_Valid!`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    expect(bad.res.status).toBe(400);
    expect(JSON.parse(bad.text)).toEqual({ error: "invalid stream id", code: "invalid_request" });
  });
});
