import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { finalizeRecording } from "../recordings/finalize.ts";
import { getRecording } from "../recordings/recording-store.ts";
import { apiClient } from "../../test/support/edge/api-client.ts";
import { AUDIO, bucket, fill, insertRecording, JPEG, putInit, putManifest, putSegments, testEnv, VIDEO_360 } from "../../test/support/edge/recordings.ts";

const api = apiClient();
const { app } = createEdgeApp();
const T0 = Date.UTC(2026, 1, 3, 4, 5, 6, 789);
const SEG = 50_000;

const get = async (path: string, init: RequestInit = {}) => {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`, init), testEnv(), ctx);
  const body = new Uint8Array(await res.arrayBuffer());
  await waitOnExecutionContext(ctx);
  return { res, body, text: new TextDecoder().decode(body) };
};

/** A ready recording: 360p + audio, three segments each, a poster. */
const readyRecording = async (status: "ready" | "dvr" | "recording" | "finalizing" | "failed" = "ready") => {
  const u = await api.signUp("vod");
  const s = await api.createStream(u.token, { title: "VOD" });
  const id = await insertRecording({ streamId: s.stream_id, userId: u.user.id, status: "finalizing" });
  await putManifest(id, s.stream_id, [VIDEO_360, AUDIO]);
  await putInit(id, "360p", 0);
  await putInit(id, "audio", 0);
  await putSegments(id, "360p", [0, 1, 2].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000, size: SEG })));
  await putSegments(id, "audio", [0, 1, 2].map((msn) => ({ msn, duration: 2, pdtMs: T0 + msn * 2000, size: 4000 })));
  await bucket().put(`recordings/${id}/poster.jpg`, JPEG);
  await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
  if (status !== "ready") await testEnv().DB!.prepare("UPDATE recordings SET status = ?2 WHERE id = ?1").bind(id, status).run();
  return id;
};

describe("edge: /vod/<recording>/… from R2", () => {
  it("serves the master, media playlists, inits, segments and poster with MIME types, cache lifetimes, ETags and CORS", async () => {
    const id = await readyRecording();
    const master = await get(`/vod/${id}/master.m3u8`, { headers: { origin: "https://embed.example" } });
    expect(master.res.status).toBe(200);
    expect(master.text).toBe(await (await bucket().get(`recordings/${id}/master.m3u8`))!.text());
    expect(master.text).toContain("#EXT-X-STREAM-INF:");
    expect(master.res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(master.res.headers.get("cache-control")).toBe("public, max-age=60");
    expect(master.res.headers.get("access-control-allow-origin")).toBe("*");
    expect(master.res.headers.get("access-control-expose-headers")).toContain("Content-Range");
    expect(master.res.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);
    expect(master.res.headers.get("x-cascade-cache")).toBe("MISS");

    const media = await get(`/vod/${id}/360p/index.m3u8`, { headers: { "accept-encoding": "gzip" } });
    expect(media.res.status).toBe(200);
    expect(media.text).toContain("#EXT-X-PLAYLIST-TYPE:VOD");
    expect(media.text).toContain("#EXT-X-ENDLIST");
    expect(media.res.headers.get("vary")).toBe("Accept-Encoding");

    const init = await get(`/vod/${id}/360p/init-0.mp4`);
    expect(init.res.status).toBe(200);
    expect(init.res.headers.get("content-type")).toBe("video/mp4");
    expect(init.body).toEqual(fill(700, 100));

    const seg = await get(`/vod/${id}/360p/seg-1.m4s`);
    expect(seg.res.status).toBe(200);
    expect(seg.res.headers.get("content-type")).toBe("video/iso.segment");
    expect(seg.res.headers.get("cache-control")).toBe("public, max-age=1209600, immutable");
    expect(seg.res.headers.get("accept-ranges")).toBe("bytes");
    expect(seg.res.headers.get("content-length")).toBe(String(SEG));
    expect(seg.body).toEqual(fill(SEG, 1));
    // The second read comes from the Cache API, with the same bytes and ETag.
    const again = await get(`/vod/${id}/360p/seg-1.m4s`);
    expect(again.res.headers.get("x-cascade-cache")).toBe("HIT");
    expect(again.body).toEqual(seg.body);
    expect(again.res.headers.get("etag")).toBe(seg.res.headers.get("etag"));
    expect(again.res.headers.get("content-length")).toBe(String(SEG));

    const poster = await get(`/vod/${id}/poster.jpg`);
    expect(poster.res.status).toBe(200);
    expect(poster.res.headers.get("content-type")).toBe("image/jpeg");
    expect(poster.res.headers.get("cache-control")).toBe("public, max-age=300");
    expect(poster.body).toEqual(JPEG);
  });

  it("answers Range requests with 206 and Content-Range (from R2 and from the cache), 416 when unsatisfiable", async () => {
    const id = await readyRecording();
    const whole = fill(SEG, 2);
    for (const pass of ["MISS", "HIT"]) {
      const r = await get(`/vod/${id}/360p/seg-2.m4s`, { headers: { range: "bytes=100-199" } });
      expect(r.res.status, pass).toBe(206);
      expect(r.res.headers.get("content-range")).toBe(`bytes 100-199/${SEG}`);
      expect(r.res.headers.get("content-length")).toBe("100");
      expect(r.body).toEqual(whole.slice(100, 200));
      expect(r.res.headers.get("x-cascade-cache")).toBe(pass);
      // Fill the cache between the passes.
      if (pass === "MISS") expect((await get(`/vod/${id}/360p/seg-2.m4s`)).res.status).toBe(200);
    }
    const suffix = await get(`/vod/${id}/360p/seg-2.m4s`, { headers: { range: "bytes=-10" } });
    expect(suffix.res.status).toBe(206);
    expect(suffix.res.headers.get("content-range")).toBe(`bytes ${SEG - 10}-${SEG - 1}/${SEG}`);
    expect(suffix.body).toEqual(whole.slice(SEG - 10));
    const open = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { range: `bytes=${SEG - 3}-` } });
    expect(open.res.status).toBe(206);
    expect(open.body).toEqual(fill(SEG, 0).slice(SEG - 3));
    const clamped = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { range: `bytes=${SEG - 2}-${SEG + 500}` } });
    expect(clamped.res.headers.get("content-range")).toBe(`bytes ${SEG - 2}-${SEG - 1}/${SEG}`);
    for (const range of [`bytes=${SEG}-`, `bytes=${SEG + 10}-${SEG + 20}`, "bytes=-0"]) {
      const r = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { range } });
      expect(r.res.status, range).toBe(416);
      expect(r.res.headers.get("content-range")).toBe(`bytes */${SEG}`);
      expect(r.body.byteLength).toBe(0);
    }
    // Several ranges, other units and nonsense are ignored: the whole object.
    for (const range of ["bytes=0-1,5-6", "items=0-1", "bytes=5-2", "bytes=abc"]) {
      const r = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { range } });
      expect(r.res.status, range).toBe(200);
      expect(r.body.byteLength).toBe(SEG);
    }
    // If-Range with another validator: the whole (changed) object.
    const ifRange = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { range: "bytes=0-9", "if-range": '"stale"' } });
    expect(ifRange.res.status).toBe(200);
    // Playlists are never served in pieces.
    expect((await get(`/vod/${id}/360p/index.m3u8`, { headers: { range: "bytes=0-9" } })).res.status).toBe(200);
  });

  it("answers HEAD with the headers only and If-None-Match with 304", async () => {
    const id = await readyRecording();
    const head = await get(`/vod/${id}/360p/seg-0.m4s`, { method: "HEAD" });
    expect(head.res.status).toBe(200);
    expect(head.body.byteLength).toBe(0);
    expect(head.res.headers.get("content-length")).toBe(String(SEG));
    expect(head.res.headers.get("content-type")).toBe("video/iso.segment");
    const etag = head.res.headers.get("etag")!;
    const ranged = await get(`/vod/${id}/360p/seg-0.m4s`, { method: "HEAD", headers: { range: "bytes=0-99" } });
    expect(ranged.res.status).toBe(206);
    expect(ranged.res.headers.get("content-length")).toBe("100");
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const r = await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { "if-none-match": inm } });
      expect(r.res.status, inm).toBe(304);
      expect(r.body.byteLength).toBe(0);
      expect(r.res.headers.get("etag")).toBe(etag);
    }
    expect((await get(`/vod/${id}/360p/seg-0.m4s`, { headers: { "if-none-match": '"other"' } })).res.status).toBe(200);
    const masterHead = await get(`/vod/${id}/master.m3u8`, { method: "HEAD" });
    expect(masterHead.res.status).toBe(200);
    expect(masterHead.body.byteLength).toBe(0);
  });

  it("answers CORS preflights", async () => {
    const id = await readyRecording();
    const r = await get(`/vod/${id}/360p/seg-0.m4s`, { method: "OPTIONS", headers: { origin: "https://embed.example", "access-control-request-method": "GET", "access-control-request-headers": "range" } });
    expect(r.res.status).toBe(204);
    expect(r.res.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("range");
  });

  it("serves only recordings that are ready: 404 for every other status and for unknown ids", async () => {
    for (const status of ["dvr", "recording", "finalizing", "failed"] as const) {
      const id = await readyRecording(status);
      const r = await get(`/vod/${id}/master.m3u8`);
      expect(r.res.status, status).toBe(404);
      expect(JSON.parse(r.text)).toMatchObject({ error: "recording not found" });
      expect((await get(`/vod/${id}/360p/seg-0.m4s`)).res.status, status).toBe(404);
    }
    expect((await get("/vod/abcdefgh2345/master.m3u8")).res.status).toBe(404);
    const id = await readyRecording();
    expect((await get(`/vod/${id}/360p/seg-9.m4s`)).res.status).toBe(404);
    expect((await get(`/vod/${id}/1080p/index.m3u8`)).res.status).toBe(404);
  });

  it("refuses paths outside the layout: traversal, odd encodings, the archived manifest, malformed ids", async () => {
    const id = await readyRecording();
    const refused: Array<[string, number]> = [
      [`/vod/${id}/manifest.json`, 404],
      [`/vod/${id}/360p/seg-01.m4s`, 404],
      [`/vod/${id}/360p/seg-1.m4s.bak`, 404],
      [`/vod/${id}/360p/init-0.mp4/x`, 404],
      [`/vod/${id}/360p%2Fseg-1.m4s`, 404],
      [`/vod/${id}/360p/seg%2D1.m4s`, 404],
      [`/vod/${id}/360p/..%2F..%2Fmaster.m3u8`, 404],
      [`/vod/${id}/360p/%252e%252e/master.m3u8`, 404],
      [`/vod/${id}//master.m3u8`, 404],
      [`/vod/${id}/360p/index.m3u8%00`, 404],
      [`/vod/${id}/Master.m3u8`, 404],
      [`/vod/${id}`, 404],
      [`/vod/${id.toUpperCase()}/master.m3u8`, 400],
      [`/vod/${id}%2F360p/master.m3u8`, 400],
      [`/vod/..%2F${id}/master.m3u8`, 400],
      ["/vod/short/master.m3u8", 400],
      [`/vod/${"a".repeat(65)}/master.m3u8`, 400],
    ];
    for (const [path, status] of refused) {
      const r = await get(path);
      expect(r.res.status, path).toBe(status);
      expect(r.res.headers.get("content-type"), path).toContain("application/json");
    }
    // Dot segments are resolved by URL parsing before the Worker sees the path: never outside /vod/<id>/.
    expect((await get(`/vod/${id}/360p/../../other12345/master.m3u8`)).res.status).toBe(404);
    expect((await get(`/vod/${id}/360p/../master.m3u8`)).res.status).toBe(200);
    // URL parsing treats %2e%2e as a dot segment too.
    expect((await get(`/vod/${id}/%2e%2e/${id}/master.m3u8`)).res.status).toBe(200);
    expect((await get(`/vod/%2e%2e/etc/passwd`)).res.status).toBe(404);
  });
});
