import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { directoryPage, formatDuration } from "./directory-page.ts";
import { HLS_JS_PATH, HLS_JS_VERSION } from "./hls-asset.ts";
import { escapeHtml, scriptJson } from "./html.ts";
import { fetchLiveStreams, parseLiveStreams } from "./live-streams.ts";
import { watchPage } from "./watch-page.ts";
import { SESSION_STORAGE_KEY } from "./app-shell.ts";
import type { WatchPageData } from "./client/page-data.ts";
import { PLAYER_SCRIPT } from "./client-scripts.ts";

/** The page's JSON data island, as the browser scripts read it. */
const pageData = (html: string): WatchPageData => {
  const islands = [...html.matchAll(/<script type="application\/json" id="page-data">(.*?)<\/script>/gs)];
  expect(islands).toHaveLength(1);
  return JSON.parse(islands[0]![1]!) as WatchPageData;
};

const edgeEnv = env as unknown as Env;

interface FakeList {
  /** What `/live/streams` answers: a body, a status, or a thrown network error. */
  answer: { body: unknown; status?: number } | "unreachable";
  requests: string[];
}

const setup = (answer: FakeList["answer"] = { body: [] }, envOverrides: Partial<WorkerEnv> = {}) => {
  const list: FakeList = { answer, requests: [] };
  const upstream = async (req: Request): Promise<Response> => {
    list.requests.push(req.url);
    if (list.answer === "unreachable") throw new TypeError("Network connection lost.");
    if (new URL(req.url).pathname !== "/live/streams") return Response.json({ error: "not found" }, { status: 404 });
    return Response.json(list.answer.body, { status: list.answer.status ?? 200 });
  };
  const { app } = createEdgeApp({ upstream });
  const get = async (path: string, init: RequestInit = {}) => {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`http://edge.test${path}`, init), { ...edgeEnv, ORIGIN_URL: "http://origin.test", ...envOverrides }, ctx);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    return { res, text };
  };
  return { list, get };
};

const started = (agoMs: number) => new Date(Date.now() - agoMs).toISOString();

const expectHtmlHeaders = (res: Response) => {
  expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
  const csp = res.headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'self'( 'nonce-[A-Za-z0-9+/=]+')?;/);
  expect(csp).not.toContain("unsafe-eval");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(res.headers.get("x-content-type-options")).toBe("nosniff");
};

describe("watch page", () => {
  it("serves the player for a valid id: hls.js from this origin, low-latency mode, the stream's master playlist", async () => {
    const t = setup();
    const { res, text } = await t.get("/watch/demo");
    expect(res.status).toBe(200);
    expectHtmlHeaders(res);
    const csp = res.headers.get("content-security-policy")!;
    expect(csp).toContain("media-src 'self' blob:");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("worker-src 'self' blob:");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(text).toContain(`<script src="${HLS_JS_PATH}"></script>`);
    expect(text).toContain("lowLatencyMode: true");
    expect(text).toContain('"/hls/" + encodeURIComponent(STREAM_ID) + "/master.m3u8"');
    // The stream and how to play it travel as data (the island), the script is the same for every page.
    expect(pageData(text)).toMatchObject({ sessionKey: SESSION_STORAGE_KEY, streamId: "demo", playback: { src: null, gate: null, askOwner: false } });
    expect(text).toContain(PLAYER_SCRIPT);
    expect(text).toContain('id="latency"');
    expect(text).toContain('id="quality"');
    // DVR: a Go live button (hidden until the viewer is behind) and no automatic catch-up while rewound.
    expect(text).toContain('id="golive"');
    expect(text).toContain("player.dvr");
    expect(text).toContain("window.cascadePlayer");
    expect(text).toContain("application/vnd.apple.mpegurl");
    expect(text).toContain("This stream is offline");
    expect(text).toContain("The stream has ended");
    expect(text).toContain("recoverMediaError");
    expect(text).toContain("swapAudioCodec");
    expect(text).not.toMatch(/https?:\/\//); // nothing from a third-party CDN (or anywhere else)
    // The inline script and style carry the nonce from the header.
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(text).toContain(`<script nonce="${nonce}">`);
    expect(text).toContain(`<style nonce="${nonce}">`);
    expect((await t.get("/watch/demo")).res.headers.get("content-security-policy")).not.toBe(csp);
  });

  it("answers 400 JSON for ids that are not stream ids", async () => {
    const t = setup();
    for (const path of ["/watch/Demo", "/watch/-x", "/watch/a%3Cb", "/watch/%22%3E%3Cscript%3E", `/watch/${"a".repeat(65)}`, "/watch/a.b"]) {
      const { res, text } = await t.get(path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
      expect(JSON.parse(text)).toMatchObject({ error: "invalid stream id" });
    }
  });

  it("escapes the stream id in markup and in the data island", () => {
    // Ids are validated before they get here; the generator escapes anyway.
    const evil = `x</script><script>alert(1)</script>"'&`;
    const html = watchPage(evil);
    expect(html).not.toContain("</script><script>alert(1)");
    expect(html).toContain("<h1>x&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;</h1>");
    expect(html).toContain(String.raw`"streamId":"x\u003c/script\u003e\u003cscript\u003ealert(1)\u003c/script\u003e\"'\u0026"`);
    expect(pageData(html).streamId).toBe(evil);
    expect(scriptJson("\u2028<!--")).toBe(String.raw`"\u2028\u003c!--"`);
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });
});

/** The directory without D1 (an edge deployed without the control plane): the origin's list. The D1 directory: directory-d1.test.ts. */
const NO_DB: Partial<WorkerEnv> = { DB: undefined };

describe("directory of live streams (no D1: the origin's list)", () => {
  it("lists the streams the origin reports, newest first, each linking to its player", async () => {
    const t = setup({
      body: [
        { id: "older", startedAt: started(3_600_000 + 5 * 60_000), renditions: ["720p", "360p", "audio"], playlist: "/live/older/master.m3u8" },
        { id: "demo", startedAt: started(90_000), renditions: ["180p", "90p", "audio"], playlist: "/live/demo/master.m3u8" },
      ],
    }, NO_DB);
    const { res, text } = await t.get("/");
    expect(t.list.requests).toEqual(["http://origin.test/live/streams"]);
    expect(res.status).toBe(200);
    expectHtmlHeaders(res);
    expect(res.headers.get("content-security-policy")).toContain("connect-src 'none'");
    expect(text).toContain('<meta http-equiv="refresh" content="10">');
    expect(text).toContain('<a href="/watch/demo">');
    expect(text).toContain('<a href="/watch/older">');
    expect(text.indexOf("/watch/demo")).toBeLessThan(text.indexOf("/watch/older"));
    expect(text).toContain("live for <time");
    expect(text).toContain(">1 min</time>");
    expect(text).toContain(">1 h 05 min</time>");
    expect(text).toContain("180p · 90p · audio");
    expect(text).toContain("<title>2 live streams · Cascade</title>");
    expect(text).not.toContain("No live streams right now");
    expect(text).not.toContain("<script");
  });

  it("says so when nothing is live", async () => {
    const t = setup({ body: [] }, NO_DB);
    const { res, text } = await t.get("/");
    expect(res.status).toBe(200);
    expect(text).toContain("No live streams right now");
    expect(text).toContain('<meta http-equiv="refresh" content="10">');
  });

  it("answers a 502 HTML page (which keeps refreshing) when the origin is unreachable, errors or hangs", async () => {
    for (const answer of ["unreachable", { body: { error: "boom" }, status: 500 }, { body: { not: "a list" } }] as const) {
      const t = setup(answer, NO_DB);
      const { res, text } = await t.get("/");
      expect(res.status, JSON.stringify(answer)).toBe(502);
      expectHtmlHeaders(res);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(text).toContain("The stream list is unavailable right now.");
      expect(text).toContain('<meta http-equiv="refresh" content="10">');
    }
  });

  it("gives up on an origin that does not answer", async () => {
    let aborted = false;
    const hang = (req: Request) => new Promise<Response>(() => req.signal.addEventListener("abort", () => (aborted = true)));
    const started = Date.now();
    expect(await fetchLiveStreams(hang, "http://origin.test/", 100)).toEqual({ ok: false, error: "no answer within 100 ms" });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(aborted).toBe(true);
  });

  it("drops malformed entries and escapes what it shows", () => {
    const streams = parseLiveStreams([
      { id: "ok", startedAt: "2026-01-01T00:00:00.000Z", renditions: ["360p", "<b>", 7] },
      { id: "<script>", startedAt: "2026-01-01T00:00:00.000Z", renditions: [] },
      { id: "nodate", startedAt: "yesterday", renditions: [] },
      null,
      "x",
    ]);
    expect(streams).toEqual([{ id: "ok", startedAt: "2026-01-01T00:00:00.000Z", renditions: ["360p"] }]);
    expect(parseLiveStreams({})).toBeNull();
    const html = directoryPage({ ok: true, streams: [{ id: "a", startedAt: "2026-01-01T00:00:00.000Z", renditions: [] }] }, { now: Date.parse("2026-01-01T00:00:42Z") });
    expect(html).toContain(">42 s</time>");
    expect(html).toContain("<title>1 live stream · Cascade</title>");
    expect(formatDuration(-5)).toBe("0 s");
    expect(formatDuration(2 * 3_600_000 + 61_000)).toBe("2 h 01 min");
  });
});

describe("/api/v1/live", () => {
  it("returns the live streams with edge URLs, cacheable for 2 s", async () => {
    const startedAt = started(10_000);
    const t = setup({ body: [{ id: "demo", startedAt, renditions: ["180p", "audio"], playlist: "/live/demo/master.m3u8" }] });
    const { res, text } = await t.get("/api/v1/live");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=2");
    expect(JSON.parse(text)).toEqual([{ id: "demo", startedAt, renditions: ["180p", "audio"], watch: "/watch/demo", playlist: "/hls/demo/master.m3u8" }]);
  });

  it("returns [] when nothing is live and 502 JSON when the origin is unreachable", async () => {
    const empty = await setup({ body: [] }).get("/api/v1/live");
    expect(empty.res.status).toBe(200);
    expect(JSON.parse(empty.text)).toEqual([]);
    const down = await setup("unreachable").get("/api/v1/live");
    expect(down.res.status).toBe(502);
    expect(down.res.headers.get("cache-control")).toBe("no-store");
    expect(JSON.parse(down.text)).toMatchObject({ error: "origin unreachable" });
  });
});

describe("hls.js asset", () => {
  it("is served from this origin as JavaScript with an immutable, versioned cache lifetime", async () => {
    const t = setup();
    expect(HLS_JS_PATH).toBe(`/assets/hls-${HLS_JS_VERSION}.min.js`);
    const { res, text } = await t.get(HLS_JS_PATH, { headers: { "accept-encoding": "gzip" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(text.length).toBeGreaterThan(100_000);
    expect(text).toContain("lowLatencyMode");
    expect(t.list.requests).toEqual([]);
  });
});
