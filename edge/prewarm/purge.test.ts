import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { FakeOrigin } from "../../test/support/edge/fake-origin.ts";

const TOKEN = "edge-admin-token-for-tests";
let seq = 0;

describe("edge purge (the go-live saga's compensation of warmup_cdn)", () => {
  it("drops what a prewarm cached, is idempotent and is authenticated", async () => {
    const streamId = `p${Date.now().toString(36)}${seq++}`;
    const origin = new FakeOrigin(streamId);
    origin.publish(0, 0);
    const { app } = createEdgeApp({ upstream: origin.fetch });
    const call = async (path: string, init: RequestInit = {}, overrides: Partial<WorkerEnv> = {}) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...(env as unknown as Env), EDGE_ADMIN_TOKEN: TOKEN, ...overrides }, ctx);
      const text = await res.text();
      await waitOnExecutionContext(ctx);
      return { res, text };
    };
    const post = (action: string, token: string | null = TOKEN, overrides: Partial<WorkerEnv> = {}) =>
      call(`/api/v1/edge/${action}/${streamId}`, { method: "POST", headers: token ? { authorization: `Bearer ${token}` } : {} }, overrides);

    expect((await post("prewarm")).res.status).toBe(200);
    expect((await call(`/hls/${streamId}/master.m3u8`)).res.headers.get("x-cascade-cache")).toBe("HIT");
    expect((await post("purge", null)).res.status).toBe(401);
    expect((await post("purge", "wrong")).res.status).toBe(401);
    expect((await post("purge", TOKEN, { EDGE_ADMIN_TOKEN: "" })).res.status).toBe(503);
    const purged = await post("purge");
    expect(purged.res.status).toBe(200);
    expect((JSON.parse(purged.text) as { dropped: string[] }).dropped.sort()).toEqual(["360p/index.m3u8", "360p/init0.mp4", "audio/index.m3u8", "audio/init0.mp4", "master.m3u8"]);
    expect((JSON.parse((await post("purge")).text) as { dropped: string[] }).dropped).toEqual([]);
    const before = origin.total();
    expect((await call(`/hls/${streamId}/master.m3u8`)).res.headers.get("x-cascade-cache")).not.toBe("HIT");
    expect(origin.total()).toBe(before + 1);
  });
});
