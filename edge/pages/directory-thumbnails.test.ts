import { describe, expect, it } from "vitest";
import { apiClient, setStreamState } from "../../test/support/edge/api-client.ts";

/** The origin: its live list and the thumbnails of the streams on it (one has none yet). */
const origin = { list: [] as unknown[] };
const upstream = async (req: Request): Promise<Response> => {
  const path = new URL(req.url).pathname;
  if (path === "/live/streams") return Response.json(origin.list);
  if (path === "/live/demo/thumbnail.jpg") return new Response(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]), { headers: { "content-type": "image/jpeg", "cache-control": "public, max-age=5" } });
  return Response.json({ error: "no thumbnail for this stream yet" }, { status: 404, headers: { "cache-control": "public, max-age=2" } });
};
const api = apiClient({ upstream });

const thumbs = (html: string) => [...html.matchAll(/<img class="thumb" ([^>]*)>/g)].map((m) => m[1]!);

describe("directory thumbnails", () => {
  it("shows each live stream's /hls/<id>/thumbnail.jpg: lazy, sized, with alt text, under the page's CSP", async () => {
    origin.list = [{ id: "demo", startedAt: new Date(Date.now() - 60_000).toISOString(), renditions: ["180p"], playlist: "/live/demo/master.m3u8" }];
    const u = await api.signUp("thumb");
    const word = Math.random().toString(36).slice(2, 8);
    const s = await api.createStream(u.token, { title: `Thumbs <"&> ${word}` });
    await setStreamState(s.stream_id, { status: "live", viewer_count: 2_000_000_000 });
    const page = await api.call("GET", "/");
    expect(page.status).toBe(200);
    const mine = thumbs(page.text).find((t) => t.includes(`/hls/${s.stream_id}/`));
    expect(mine).toBe(`src="/hls/${s.stream_id}/thumbnail.jpg" alt="Preview of Thumbs &lt;&quot;&amp;&gt; ${word}" width="320" height="180" loading="lazy" decoding="async"`);
    // Streams published with a local key (no account) get theirs too.
    expect(thumbs(page.text)).toContain('src="/hls/demo/thumbnail.jpg" alt="Preview of demo" width="320" height="180" loading="lazy" decoding="async"');
    // Same-origin images are allowed by the page's CSP; no inline handlers are needed for a missing one.
    expect(page.headers.get("content-security-policy")).toMatch(/img-src 'self'/);
    expect(page.text).not.toMatch(/onerror=/i);
    // The thumbnail URL works through the edge: a JPEG, or a short-lived 404 until the first one exists.
    const jpeg = await api.call("GET", "/hls/demo/thumbnail.jpg");
    expect(jpeg.status).toBe(200);
    expect(jpeg.headers.get("content-type")).toBe("image/jpeg");
    expect((await api.call("GET", `/hls/${s.stream_id}/thumbnail.jpg`)).status).toBe(404);
  });

  it("shows them in the origin-list directory (an edge without D1)", async () => {
    origin.list = [{ id: "demo", startedAt: new Date(Date.now() - 60_000).toISOString(), renditions: ["180p"], playlist: "/live/demo/master.m3u8" }];
    const page = await api.call("GET", "/", {}, { DB: undefined });
    expect(page.status).toBe(200);
    expect(thumbs(page.text)).toEqual(['src="/hls/demo/thumbnail.jpg" alt="Preview of demo" width="320" height="180" loading="lazy" decoding="async"']);
  });
});
