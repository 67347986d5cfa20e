import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { resolveEdgeObject } from "./edge-object.ts";

const edgeEnv = env as unknown as Env;
let seq = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A structurally valid tiny JPEG whose third byte tells versions apart. */
const jpeg = (n: number) => new Uint8Array([0xff, 0xd8, 0xff, 0xfe, 0x00, 0x03, n, 0xff, 0xd9]);

/**
 * A stand-in origin answering `/live/<id>/thumbnail.jpg` the way core-origin does (image/jpeg,
 * `max-age` as set, ETag, Last-Modified; 404 JSON while there is none) and counting requests.
 */
const setup = () => {
  const streamId = `t${Date.now().toString(36)}${seq++}`;
  const origin = {
    requests: [] as string[],
    image: null as Uint8Array | null,
    maxAge: 5,
    delayMs: 0,
  };
  const upstream = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    origin.requests.push(url.pathname + url.search);
    if (origin.delayMs) await sleep(origin.delayMs);
    if (url.pathname !== `/live/${streamId}/thumbnail.jpg`) return Response.json({ error: "no such resource" }, { status: 404 });
    if (!origin.image) return Response.json({ error: "no thumbnail for this stream yet" }, { status: 404, headers: { "cache-control": "public, max-age=2" } });
    return new Response(origin.image, {
      headers: {
        "content-type": "image/jpeg",
        "cache-control": `public, max-age=${origin.maxAge}`,
        etag: `"v${origin.image[6]}"`,
        "last-modified": new Date(Date.UTC(2025, 0, 1)).toUTCString(),
      },
    });
  };
  const { app } = createEdgeApp({ upstream });
  const get = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...edgeEnv, ORIGIN_URL: "http://origin.test" }, ctx);
    const body = new Uint8Array(await res.arrayBuffer());
    await waitOnExecutionContext(ctx);
    return { res, body };
  };
  return { streamId, origin, get, url: `/hls/${streamId}/thumbnail.jpg` };
};

describe("edge: /hls/<stream>/thumbnail.jpg", () => {
  it("is served from the origin's /live/<stream>/thumbnail.jpg as image/jpeg with CORS, ETag and Last-Modified", async () => {
    const t = setup();
    t.origin.image = jpeg(1);
    const r = await t.get(t.url, { headers: { origin: "https://directory.example" } });
    expect(r.res.status).toBe(200);
    expect([...r.body]).toEqual([...jpeg(1)]);
    expect(r.res.headers.get("content-type")).toBe("image/jpeg");
    expect(r.res.headers.get("content-length")).toBe(String(jpeg(1).byteLength));
    expect(r.res.headers.get("cache-control")).toBe("public, max-age=5");
    expect(r.res.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.res.headers.get("etag")).toBe('"v1"');
    expect(r.res.headers.get("last-modified")).toBe("Wed, 01 Jan 2025 00:00:00 GMT");
    expect(r.res.headers.get("x-cascade-cache")).toBe("MISS");
    expect(t.origin.requests).toEqual([`/live/${t.streamId}/thumbnail.jpg`]);
    const notModified = await t.get(t.url, { headers: { "if-none-match": '"v1"' } });
    expect(notModified.res.status).toBe(304);
    expect(notModified.body.byteLength).toBe(0);
    const head = await t.get(t.url, { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.body.byteLength).toBe(0);
    expect(t.origin.requests).toHaveLength(1);
  });

  it("concurrent requests share one upstream fetch (coalescing)", async () => {
    const t = setup();
    t.origin.image = jpeg(2);
    t.origin.delayMs = 100;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.get(i % 2 ? t.url : `${t.url}?cachebust=${i}`)));
    expect(t.origin.requests).toHaveLength(1);
    for (const r of results) expect([...r.body]).toEqual([...jpeg(2)]);
    expect(results.filter((r) => r.res.headers.get("x-cascade-cache") === "COALESCED")).toHaveLength(19);
  });

  it("is cached for the origin's max-age (never immutable), then fetched again: the latest wins", async () => {
    const t = setup();
    t.origin.image = jpeg(1);
    t.origin.maxAge = 1;
    const first = await t.get(t.url);
    expect(first.res.headers.get("cache-control")).toBe("public, max-age=1");
    t.origin.image = jpeg(2);
    const hit = await t.get(t.url);
    expect(hit.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect([...hit.body]).toEqual([...jpeg(1)]);
    await sleep(1300);
    const later = await t.get(t.url);
    expect(later.res.headers.get("x-cascade-cache")).toBe("MISS");
    expect([...later.body]).toEqual([...jpeg(2)]);
    expect(t.origin.requests).toHaveLength(2);
  });

  it("'no thumbnail yet' (404 JSON) is kept only as long as the origin says", async () => {
    const t = setup();
    const missing = await t.get(t.url);
    expect(missing.res.status).toBe(404);
    expect(missing.res.headers.get("content-type")).toContain("application/json");
    expect(missing.res.headers.get("cache-control")).toBe("public, max-age=2");
    expect((await t.get(t.url)).res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(t.origin.requests).toHaveLength(1);
  });

  it("only the exact name is accepted: other names and ids are refused without going upstream", async () => {
    const t = setup();
    t.origin.image = jpeg(1);
    for (const [path, status] of [
      [`/hls/${t.streamId}/thumbnail.jpeg`, 404],
      [`/hls/${t.streamId}/thumbnail.png`, 404],
      [`/hls/${t.streamId}/Thumbnail.jpg`, 404],
      [`/hls/${t.streamId}/360p/thumbnail.jpg`, 404],
      [`/hls/${t.streamId}/thumbnail.jpg/x`, 404],
      [`/hls/${t.streamId}/thumbnail.jpg.m4s`, 404],
      [`/hls/${t.streamId}/../thumbnail.jpg`, 400], // normalised to /hls/thumbnail.jpg: not a stream id
      [`/hls/Bad!Id/thumbnail.jpg`, 400],
    ] as const) {
      const r = await t.get(path);
      expect(r.res.status, path).toBe(status);
      expect(r.res.headers.get("content-type"), path).toContain("application/json");
    }
    expect(t.origin.requests).toHaveLength(0);
  });

  it("the cache key ignores every query parameter", () => {
    const r = resolveEdgeObject("demo", "thumbnail.jpg", new URLSearchParams("_HLS_msn=3&t=123"));
    expect(r.ok && r.object.key).toBe("demo/thumbnail.jpg");
    expect(r.ok && r.object.resource.kind).toBe("thumbnail");
  });
});
