import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { FakeOrigin, partBytes } from "../../test/support/edge/fake-origin.ts";

const edgeEnv = env as unknown as Env;
let seq = 0;
/** Each test gets its own stream id, so the shared Cache API never leaks between tests. */
const setup = (td = 2) => {
  const streamId = `s${Date.now().toString(36)}${seq++}`;
  const origin = new FakeOrigin(streamId, td);
  const { app, stats, coalescer } = createEdgeApp({ upstream: origin.fetch });
  const get = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const started = Date.now();
    const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...edgeEnv, ORIGIN_URL: "http://origin.test" }, ctx);
    const body = new Uint8Array(await res.arrayBuffer());
    const answeredMs = Date.now() - started;
    await waitOnExecutionContext(ctx);
    return { res, body, text: new TextDecoder().decode(body), answeredMs };
  };
  return { streamId, origin, app, stats, coalescer, get, base: `/hls/${streamId}` };
};
// toEqual on 64 KiB arrays is slow in workerd; a plain loop says the same.
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("edge LL-HLS delivery", () => {
  it("coalesces N concurrent identical blocking requests into one upstream fetch (RFC 8216bis B.1)", async () => {
    const t = setup();
    t.origin.publish(0, 0);
    const path = `${t.base}/360p/index.m3u8?_HLS_msn=0&_HLS_part=1`;
    const pending = Array.from({ length: 50 }, (_, i) => t.get(i % 2 ? path : `${t.base}/360p/index.m3u8?_HLS_part=1&_HLS_msn=0&x=${i}`));
    await sleep(50);
    expect(t.coalescer.size).toBe(1);
    t.origin.publish(0, 1);
    const results = await Promise.all(pending);
    expect(t.origin.count(`/live/${t.streamId}/360p/index.m3u8?_HLS_msn=0&_HLS_part=1`)).toBe(1);
    expect(t.origin.total()).toBe(1);
    const first = results[0]!.text;
    expect(first).toContain('URI="part0.1.m4s"');
    for (const r of results) {
      expect(r.res.status).toBe(200);
      expect(r.text).toBe(first);
    }
    expect(results.filter((r) => r.res.headers.get("x-cascade-cache") === "MISS")).toHaveLength(1);
    expect(results.filter((r) => r.res.headers.get("x-cascade-cache") === "COALESCED")).toHaveLength(49);
    // The blocking playlist is now cached for 6 × TD.
    const again = await t.get(path);
    expect(again.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(again.res.headers.get("cache-control")).toBe("public, max-age=12");
    expect(t.origin.total()).toBe(1);
  });

  it("coalesces hinted-part requests and never answers before the whole part exists (RFC 8216bis §6.2.6)", async () => {
    const t = setup();
    t.origin.publish(0, 0);
    let answered = 0;
    const pending = Array.from({ length: 20 }, () => t.get(`${t.base}/360p/part0.1.m4s`).then((r) => (answered++, r)));
    await sleep(100);
    expect(answered).toBe(0);
    expect(t.coalescer.size).toBe(1);
    t.origin.publish(0, 1);
    const results = await Promise.all(pending);
    expect(t.origin.count(`/live/${t.streamId}/360p/part0.1.m4s`)).toBe(1);
    for (const r of results) {
      expect(r.res.status).toBe(200);
      expect(sameBytes(r.body, partBytes(0, 1))).toBe(true);
      expect(r.res.headers.get("content-type")).toBe("video/iso.segment");
      expect(r.res.headers.get("content-length")).toBe(String(partBytes(0, 1).byteLength));
    }
    const hit = await t.get(`${t.base}/360p/part0.1.m4s`);
    expect(hit.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(hit.res.headers.get("cache-control")).toBe("public, max-age=1209600, immutable");
  });

  it("sets Age from the time the origin answered (RFC 8216bis B.1, App. C)", async () => {
    const t = setup();
    t.origin.publish(0, 0);
    const miss = await t.get(`${t.base}/360p/init0.mp4`);
    expect(miss.res.headers.get("age")).toBe("0");
    expect(miss.res.headers.get("content-type")).toBe("video/mp4");
    await sleep(2100);
    const hit = await t.get(`${t.base}/360p/init0.mp4`);
    expect(hit.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(Number(hit.res.headers.get("age"))).toBeGreaterThanOrEqual(2);
    expect(t.origin.total()).toBe(1);
  });

  it("keeps a plain playlist 0.5 × TD, then goes upstream again (RFC 8216bis B.1)", async () => {
    const t = setup(2);
    t.origin.publish(0, 0);
    const first = await t.get(`${t.base}/360p/index.m3u8`);
    expect(first.res.headers.get("cache-control")).toBe("public, max-age=1");
    expect(first.res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect((await t.get(`${t.base}/360p/index.m3u8`)).res.headers.get("x-cascade-cache")).toBe("HIT");
    await sleep(1300);
    t.origin.publish(0, 1);
    const later = await t.get(`${t.base}/360p/index.m3u8`);
    expect(later.res.headers.get("x-cascade-cache")).toBe("MISS");
    expect(later.text).toContain("part0.1.m4s");
    expect(t.origin.count(`/live/${t.streamId}/360p/index.m3u8`)).toBe(2);
  });

  it("caches errors briefly: 404 for 1 × TD, 400 not at all", async () => {
    const t = setup(2);
    t.origin.publish(0, 0);
    const unknown = await t.get(`${t.base}/360p/part9.0.m4s`);
    expect(unknown.res.status).toBe(404);
    expect(unknown.res.headers.get("cache-control")).toBe("public, max-age=2");
    expect((await t.get(`${t.base}/360p/part9.0.m4s`)).res.headers.get("x-cascade-cache")).toBe("HIT");
    const far = `${t.base}/360p/index.m3u8?_HLS_msn=9`;
    expect((await t.get(far)).res.status).toBe(400);
    const again = await t.get(far);
    expect(again.res.status).toBe(400);
    expect(again.res.headers.get("x-cascade-cache")).toBe("MISS");
    expect(again.res.headers.get("cache-control")).toBe("no-store");
    expect(t.origin.count(`/live/${t.streamId}/360p/index.m3u8?_HLS_msn=9`)).toBe(2);
  });

  it("keeps a blocking playlist's 404 for 4 × TD and the master for 0.5 × TD (RFC 8216bis B.1)", async () => {
    const t = setup(2);
    t.origin.playlistStatus = 404;
    const missing = await t.get(`${t.base}/360p/index.m3u8?_HLS_msn=3`);
    expect(missing.res.status).toBe(404);
    expect(missing.res.headers.get("cache-control")).toBe("public, max-age=8");
    const plainMissing = await t.get(`${t.base}/360p/index.m3u8`);
    expect(plainMissing.res.headers.get("cache-control")).toBe("public, max-age=2");
    t.origin.playlistStatus = 200;
    const master = await t.get(`${t.base}/master.m3u8`);
    expect(master.res.headers.get("cache-control")).toBe("public, max-age=1");
    expect(master.res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
  });

  it("answers 400 for a part without msn without going upstream (RFC 8216bis §6.2.5.2)", async () => {
    const t = setup();
    const r = await t.get(`${t.base}/360p/index.m3u8?_HLS_part=1`);
    expect(r.res.status).toBe(400);
    expect(JSON.parse(r.text)).toEqual({ error: "_HLS_part requires _HLS_msn", code: "invalid_request", path: `${t.base}/360p/index.m3u8` });
    expect(t.origin.total()).toBe(0);
  });

  it("never holds a request longer than 3 × TD: then 503 (RFC 8216bis §6.2.5.2)", async () => {
    const t = setup(1);
    t.origin.publish(0, 0);
    await t.get(`${t.base}/360p/index.m3u8`); // learns TD = 1 s
    const r = await t.get(`${t.base}/360p/index.m3u8?_HLS_msn=1&_HLS_part=0`);
    const waited = r.answeredMs;
    expect(r.res.status).toBe(503);
    expect(r.res.headers.get("retry-after")).toBe("1");
    expect(r.res.headers.get("cache-control")).toBe("no-store");
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(6000);
  });

  it("rejects paths outside the stream layout and invalid ids without going upstream", async () => {
    const t = setup();
    for (const [path, status] of [
      [`${t.base}/../../admin`, 404],
      [`${t.base}/360p/seg1.ts`, 404],
      [`${t.base}/360p/index.m3u8/extra`, 404],
      [`/hls/BAD_ID!/master.m3u8`, 400],
      [`/hls/${"x".repeat(65)}/master.m3u8`, 400],
      [`/live/${t.streamId}/master.m3u8`, 404],
      [`/anything`, 404],
    ] as const) {
      const r = await t.get(path);
      expect(r.res.status, path).toBe(status);
      expect(r.res.headers.get("content-type"), path).toContain("application/json");
      expect(JSON.parse(r.text).error, path).toBeTypeOf("string");
    }
    expect((await t.get(`${t.base}/master.m3u8`, { method: "POST" })).res.status).toBe(404);
    expect(t.origin.total()).toBe(0);
  });

  it("asks for gzip playlists, adds CORS, answers HEAD and preflight", async () => {
    const t = setup();
    t.origin.publish(0, 0);
    const r = await t.get(`${t.base}/master.m3u8`, { headers: { "accept-encoding": "gzip", origin: "https://player.example" } });
    expect(r.res.status).toBe(200);
    expect(r.res.headers.get("content-encoding")).toBe("gzip");
    expect(r.res.headers.get("vary")).toContain("Accept-Encoding");
    expect(r.res.headers.get("access-control-allow-origin")).toBe("*");
    // Compressed by the edge itself ("manual" encoding): the bytes are a gzip member of the playlist.
    expect([...r.body.slice(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(Number(r.res.headers.get("content-length"))).toBe(r.body.byteLength);
    const plain = await new Response(new Blob([r.body]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
    expect(plain).toContain("#EXT-X-STREAM-INF");
    const head = await t.get(`${t.base}/master.m3u8`, { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.body.byteLength).toBe(0);
    const pre = await t.get(`${t.base}/360p/index.m3u8`, { method: "OPTIONS", headers: { origin: "https://player.example", "access-control-request-method": "GET" } });
    expect(pre.res.status).toBe(204);
    expect(pre.res.headers.get("access-control-allow-methods")).toContain("GET");
  });

  it("answers 502 with a JSON body when the origin is unreachable, and stores nothing", async () => {
    const streamId = `down${seq++}`;
    const { app } = createEdgeApp({ upstream: () => Promise.reject(new TypeError("connect ECONNREFUSED")) });
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge.test/hls/${streamId}/master.m3u8`), edgeEnv, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toBe("origin unreachable");
  });
});
