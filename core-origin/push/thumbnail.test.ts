import { execFileSync } from "node:child_process";
import pino from "pino";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { PUSH_LIMITS, PUSH_PREFIX, pushPaths } from "../../shared/push-protocol.ts";
import { JpegSplitter } from "../../shared/thumbnail.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { createOrigin } from "../app.ts";
import { asBody, bytesOf, listFiles, metricValue, NODE_SECRET, Pusher, readJson, SINGLE, type TestOrigin, originPerTest } from "../../test/support/origin-harness.ts";

/** Two different real JPEGs (320x180) from ffmpeg, as the transcoder's thumbnail output writes them. */
let jpegs: Uint8Array[];
beforeAll(() => {
  const stream = execFileSync(process.env.FFMPEG_PATH ?? "ffmpeg", [
    "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=1", "-frames:v", "2",
    "-c:v", "mjpeg", "-q:v", "4", "-strict", "unofficial", "-color_range", "pc", "-pix_fmt", "yuv420p", "-f", "image2pipe", "pipe:1",
  ]);
  jpegs = new JpegSplitter().push(new Uint8Array(stream));
  expect(jpegs).toHaveLength(2);
});

let t: TestOrigin;
let p: Pusher;
originPerTest("demo", { manifest: SINGLE }, (o, pusher) => ((t = o), (p = pusher)));
afterEach(async () => {
  await t.origin.thumbnails.idle();
});

const putThumb = (body: Uint8Array, stream = "demo", headers: Record<string, string> = p.auth({ "content-type": "image/jpeg" })) =>
  t.request(pushPaths.thumbnail(stream), { method: "PUT", headers, body: asBody(body) });
const getThumb = (stream = "demo", headers: Record<string, string> = {}) => t.request(`/live/${stream}/thumbnail.jpg`, { headers });
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("thumbnail push (PUT /ingest/v1/streams/:id/thumbnail.jpg)", () => {
  it("401 without a node token or with one signed by another secret", async () => {
    expect((await putThumb(jpegs[0]!, "demo", {})).status).toBe(401);
    const forged = await signNodeToken("another-secret-0123456789abcdef", "unit-node");
    expect((await putThumb(jpegs[0]!, "demo", { authorization: `Bearer ${forged}` })).status).toBe(401);
    expect((await getThumb()).status).toBe(404);
  });

  it("400 for a body that is not one whole JPEG (SOI … EOI), 400 for a bad stream id; nothing kept", async () => {
    const jpeg = jpegs[0]!;
    for (const bad of [new TextEncoder().encode("definitely not a JPEG"), jpeg.slice(0, jpeg.length - 2), jpeg.slice(2), new Uint8Array(0)]) {
      const res = await putThumb(bad);
      expect(res.status).toBe(400);
      expect(String((await readJson(res)).error)).toMatch(/^not a JPEG/);
    }
    expect((await t.request(`${PUSH_PREFIX}/Bad!Id/thumbnail.jpg`, { method: "PUT", headers: p.auth(), body: asBody(jpeg) })).status).toBe(400);
    expect((await getThumb()).status).toBe(404);
    await t.origin.thumbnails.idle();
    await t.storage.idle();
    expect((await listFiles(t.storageDir)).filter((f) => f.endsWith(".jpg"))).toEqual([]);
    expect(await metricValue(t, "cascade_origin_push_rejected_total", { status: "400" })).toBeGreaterThanOrEqual(5);
  });

  it("413 above the limit (512 KiB), by Content-Length or by the bytes streamed", async () => {
    const big = new Uint8Array(PUSH_LIMITS.thumbnailBytes + 1);
    big.set([0xff, 0xd8], 0);
    big.set([0xff, 0xd9], big.length - 2);
    expect((await putThumb(big)).status).toBe(413);
    const streamed = new ReadableStream<Uint8Array>({
      start(c) {
        for (let i = 0; i < 9; i++) c.enqueue(new Uint8Array(64 * 1024));
        c.close();
      },
    });
    const res = await t.request(pushPaths.thumbnail("demo"), { method: "PUT", headers: p.auth(), body: streamed, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect((await getThumb()).status).toBe(404);
  });

  it("409 for a stream the origin does not know (the node resends its manifest)", async () => {
    const res = await putThumb(jpegs[0]!, "other");
    expect(res.status).toBe(409);
    expect((await readJson(res)).resync).toBe(true);
  });

  it("latest wins; the same image again is a duplicate", async () => {
    expect(await readJson(await putThumb(jpegs[0]!))).toEqual({ ok: true, duplicate: false });
    expect(same(await bytesOf(await getThumb()), jpegs[0]!)).toBe(true);
    expect(await readJson(await putThumb(jpegs[1]!))).toEqual({ ok: true, duplicate: false });
    expect(same(await bytesOf(await getThumb()), jpegs[1]!)).toBe(true);
    expect(await readJson(await putThumb(jpegs[1]!))).toEqual({ ok: true, duplicate: true });
    expect(await metricValue(t, "cascade_origin_thumbnails_pushed_total")).toBe(2);
    await t.origin.thumbnails.idle();
    expect((await listFiles(t.storageDir)).filter((f) => f.endsWith(".jpg"))).toEqual(["demo/thumbnail.jpg"]);
  });
});

describe("thumbnail at the origin (GET /live/:id/thumbnail.jpg)", () => {
  it("is served as image/jpeg with a short lifetime, ETag, Last-Modified and CORS; If-None-Match gives 304", async () => {
    const before = Date.now();
    await putThumb(jpegs[0]!);
    const res = await getThumb();
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("cache-control")).toBe("public, max-age=5");
    expect(res.headers.get("content-length")).toBe(String(jpegs[0]!.byteLength));
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const etag = res.headers.get("etag")!;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]{22}"$/);
    expect(Date.parse(res.headers.get("last-modified")!)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    const notModified = await getThumb("demo", { "if-none-match": etag });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("etag")).toBe(etag);
    expect((await bytesOf(notModified)).byteLength).toBe(0);
    expect((await getThumb("demo", { "if-none-match": '"something-else"' })).status).toBe(200);
    await putThumb(jpegs[1]!);
    const changed = await getThumb("demo", { "if-none-match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    const head = await t.request("/live/demo/thumbnail.jpg", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe("image/jpeg");
  });

  it("404 JSON, briefly cacheable, while a stream has none (live or unknown); other names stay 404", async () => {
    for (const id of ["demo", "never-seen"]) {
      const res = await getThumb(id);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(res.headers.get("cache-control")).toBe("public, max-age=2");
      expect(await readJson(res)).toEqual({ error: "no thumbnail for this stream yet", code: "not_found", stream: id });
    }
    await putThumb(jpegs[0]!);
    for (const path of ["thumbnail.jpeg", "thumbnail.jpg/x", "360p/thumbnail.jpg", "Thumbnail.jpg"]) {
      expect((await t.request(`/live/demo/${path}`)).status, path).toBe(404);
    }
    expect((await t.request("/live/Bad!/thumbnail.jpg")).status).toBe(400);
  });

  it("outlives the stream (poster) and survives an origin restart, read back from storage", async () => {
    await putThumb(jpegs[1]!);
    const etag = (await getThumb()).headers.get("etag");
    expect((await p.end()).status).toBe(200);
    expect(same(await bytesOf(await getThumb()), jpegs[1]!)).toBe(true);
    await t.origin.thumbnails.idle();
    const restarted = createOrigin({
      host: "127.0.0.1",
      port: 0,
      nodeSecret: NODE_SECRET,
      storageDir: t.storageDir,
      memorySegments: 8,
      playlistSegments: 15,
      logger: pino({ level: "silent" }),
    });
    expect(restarted.registry.get("demo")).toBeUndefined();
    const res = await restarted.app.request("/live/demo/thumbnail.jpg");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("etag")).toBe(etag);
    expect(same(await bytesOf(res), jpegs[1]!)).toBe(true);
    expect((await restarted.app.request("/live/other/thumbnail.jpg")).status).toBe(404);
  });
});
