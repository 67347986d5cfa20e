import { describe, expect, it } from "vitest";
import { apiClient, setStreamState, testEnv } from "../../test/support/edge/api-client.ts";
import { DIRECTORY_PAGE_SIZE } from "./directory-data.ts";
import { DIRECTORY_DB_REFRESH_S, directoryHref } from "./directory-page.ts";
import { DIRECTORY_RELOAD_SCRIPT } from "./client-scripts.ts";
import { SESSION_STORAGE_KEY } from "./app-shell.ts";

/** The origin's `/live/streams` as the D1 directory's fake upstream sees it. */
const originList: { body: unknown; requests: number } = { body: [], requests: 0 };
const upstream = async (req: Request): Promise<Response> => {
  if (new URL(req.url).pathname !== "/live/streams") return Response.json({ error: "not found" }, { status: 404 });
  originList.requests++;
  return Response.json(originList.body);
};
const api = apiClient({ upstream });

/** A word no other test uses: searches for it only find this test's streams. */
const word = () => `dir${Math.random().toString(36).slice(2, 10)}`;

/**
 * Viewer counts far above anything other test files set (they share the database): this file's
 * streams come first in the unfiltered directory, whatever else is live.
 */
let big = 900_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
const bigViewers = () => (big += 10);

const live = async (token: string, json: Record<string, unknown>, viewers: number, status = "live") => {
  const s = await api.createStream(token, json);
  await setStreamState(s.stream_id, { status, viewer_count: viewers });
  return s.stream_id;
};

const page = async (path: string) => {
  const r = await api.call("GET", path);
  return { status: r.status, headers: r.headers, html: r.text };
};

/** The stream ids the page links to, in order. */
const watchIds = (html: string): string[] => [...html.matchAll(/<a href="\/watch\/([^"]+)">/g)].map((m) => decodeURIComponent(m[1]!));

const expectPageHeaders = (headers: Headers) => {
  expect(headers.get("content-type")).toBe("text/html; charset=utf-8");
  const csp = headers.get("content-security-policy") ?? "";
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/=]+';/);
  expect(csp).not.toContain("unsafe-inline");
  expect(csp).not.toContain("unsafe-eval");
  expect(csp).toContain("frame-ancestors 'none'");
  expect(headers.get("x-content-type-options")).toBe("nosniff");
  return csp;
};

describe("directory from D1", () => {
  it("lists live streams by viewers with title, streamer, category and viewers, each linking to its player", async () => {
    originList.body = [];
    const u = await api.signUp("dirlist");
    const w = word();
    const low = await live(u.token, { title: `${w} low`, category: "events" }, bigViewers());
    const high = await live(u.token, { title: `${w} high`, category: "sports" }, bigViewers());
    const idle = await live(u.token, { title: `${w} idle` }, bigViewers() + 5, "idle");
    const ended = await live(u.token, { title: `${w} ended` }, bigViewers() + 5, "ended");
    const { status, headers, html } = await page("/");
    expect(status).toBe(200);
    const csp = expectPageHeaders(headers);
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("connect-src 'none'");
    const ids = watchIds(html);
    expect(ids.indexOf(high)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(high)).toBeLessThan(ids.indexOf(low));
    expect(ids).not.toContain(idle);
    expect(ids).not.toContain(ended);
    // Every listed stream is in viewer order.
    const viewers = [...html.matchAll(/<span class="viewers">([\d,]+) viewers?<\/span>/g)].map((m) => Number(m[1]!.replace(/,/g, "")));
    expect(viewers.length).toBe(ids.length);
    expect(viewers).toEqual([...viewers].sort((a, b) => b - a));
    // The entry shows the title, the streamer, the category and the viewers.
    const entry = html.slice(html.indexOf(`<a href="/watch/${high}">`));
    expect(entry.slice(0, entry.indexOf("</li>"))).toMatch(
      new RegExp(`<span class="title">${w} high</span><span class="by">${u.username} · Sports</span>.*<span class="viewers">[\\d,]+ viewers</span>`),
    );
    // The search box, the category links with live counts, the nonce'd reload script; no meta refresh.
    expect(html).toContain('<form class="search" method="get" action="/" role="search">');
    expect(html).toContain('<input type="search" id="q" name="q" value=""');
    expect(html).toMatch(/<a href="\/\?category=sports">Sports<span class="n">\d+<\/span><\/a>/);
    expect(html).toContain('<a href="/" aria-current="true">All</a>');
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    expect(html).toContain(`<script nonce="${nonce}">${DIRECTORY_RELOAD_SCRIPT}</script>`);
    expect(html).toContain(`<script type="application/json" id="page-data">{"reloadMs":${DIRECTORY_DB_REFRESH_S * 1000}}</script>`);
    expect(html).toContain(`<style nonce="${nonce}">`);
    expect(html).not.toContain('http-equiv="refresh"');
    expect(html).toContain('<a href="/login">');
    expect(html).toContain('<a href="/creator">');
  });

  it("filters by category (slug or name) and keeps the filter in the search form", async () => {
    originList.body = [];
    const u = await api.signUp("dircat");
    const w = word();
    const travel = await live(u.token, { title: `${w} travel`, category: "travel-outdoors" }, bigViewers());
    const events = await live(u.token, { title: `${w} events`, category: "events" }, bigViewers());
    for (const category of ["travel-outdoors", "Travel%20%26%20Outdoors"]) {
      const { status, html } = await page(`/?category=${category}`);
      expect(status).toBe(200);
      const ids = watchIds(html);
      expect(ids).toContain(travel);
      expect(ids).not.toContain(events);
      expect(html).toContain("<h1>Live in Travel &amp; Outdoors</h1>");
      expect(html).toContain('<input type="hidden" name="category" value="travel-outdoors">');
      expect(html).toContain('<a href="/?category=travel-outdoors" aria-current="true">');
    }
    const unknown = await page("/?category=no-such-thing");
    expect(unknown.status).toBe(200);
    expect(unknown.html).toContain("Unknown category: showing all categories.");
    expect(watchIds(unknown.html)).toEqual(expect.arrayContaining([travel, events]));
  });

  it("searches with FTS5 (GET /?q=), within a category too, ranked by relevance then viewers", async () => {
    originList.body = [];
    const u = await api.signUp("dirsearch");
    const w = word();
    const a = await live(u.token, { title: `Speedrun ${w}`, category: "events" }, 5);
    const b = await live(u.token, { title: `Speedrun ${w}`, category: "sports" }, 50);
    const tagged = await live(u.token, { title: "Something else entirely", tags: [w] }, 5000);
    await live(u.token, { title: `Speedrun ${w} offline` }, 9000, "idle");
    const r = await page(`/?q=${encodeURIComponent(w.slice(0, 7))}`);
    expect(r.status).toBe(200);
    expect(watchIds(r.html)).toEqual([b, a, tagged]);
    expect(r.html).toContain(`<h1>Results for “${w.slice(0, 7)}”</h1>`);
    expect(r.html).toContain(`value="${w.slice(0, 7)}"`);
    expect(r.html).toContain("<title>3 live streams · Cascade</title>");
    // The category links keep the search.
    expect(r.html).toContain(`<a href="${directoryHref({ q: w.slice(0, 7), category: "events" }).replace(/&/g, "&amp;")}">`);
    const within = await page(`/?q=speedrun+${w}&category=events`);
    expect(watchIds(within.html)).toEqual([a]);
    const none = await page(`/?q=${w}zzz`);
    expect(watchIds(none.html)).toEqual([]);
    expect(none.html).toContain("No live streams match your search.");
    const junk = await page("/?q=%22%22%20**%20()");
    expect(junk.status).toBe(200);
    expect(junk.html).toContain("Search for at least one letter or digit.");
  });

  it("pages with a cursor link", async () => {
    originList.body = [];
    const u = await api.signUp("dirpage");
    const w = word();
    const made: string[] = [];
    for (let i = 0; i < DIRECTORY_PAGE_SIZE + 2; i++) made.push(await live(u.token, { title: `${w} part` }, 1000 - i));
    const first = await page(`/?q=${w}`);
    expect(watchIds(first.html)).toEqual(made.slice(0, DIRECTORY_PAGE_SIZE));
    const more = /<a class="more" href="([^"]+)">/.exec(first.html)![1]!.replace(/&amp;/g, "&");
    const second = await page(more);
    expect(watchIds(second.html)).toEqual(made.slice(DIRECTORY_PAGE_SIZE));
    expect(second.html).not.toContain('class="more"');
    const stale = await page(`/?q=${w}&cursor=not-a-cursor`);
    expect(stale.html).toContain("That page link is no longer valid");
    expect(watchIds(stale.html)).toEqual(made.slice(0, DIRECTORY_PAGE_SIZE));
  }, 60_000);

  it("escapes a malicious title, username-free fields and the search text", async () => {
    originList.body = [];
    const u = await api.signUp("direvil");
    const w = word();
    const evil = `${w} </title><script>alert(1)</script><img src=x onerror=alert(2)> "quoted" 'single' & more`;
    const id = await live(u.token, { title: evil, category: "events" }, bigViewers());
    for (const path of ["/", `/?q=${w}`]) {
      const { html } = await page(path);
      expect(watchIds(html)).toContain(id);
      expect(html).not.toContain("<script>alert(1)");
      expect(html).not.toContain("<img src=x");
      expect(html).toContain(
        `<span class="title">${w} &lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt; &quot;quoted&quot; &#39;single&#39; &amp; more</span>`,
      );
    }
    const q = `"><script>alert(3)</script>`;
    const { html } = await page(`/?q=${encodeURIComponent(q)}`);
    expect(html).not.toContain("<script>alert(3)");
    expect(html).toContain('value="&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;"');
    expect(html).toContain("Results for “&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;”");
  });

  it("also lists what the origin has live without an account (local keys), on the unfiltered page only", async () => {
    const u = await api.signUp("dirlocal");
    const known = await live(u.token, { title: `${word()} known` }, bigViewers());
    const startedAt = new Date(Date.now() - 65_000).toISOString();
    originList.body = [
      { id: "demo", startedAt, renditions: ["180p", "audio"] },
      { id: known, startedAt, renditions: ["180p"] },
    ];
    const before = originList.requests;
    const { html } = await page("/");
    expect(originList.requests).toBe(before + 1);
    expect(html).toContain("Also live on this edge (published with a local key, no account)");
    const other = html.slice(html.indexOf('aria-label="other live streams"'));
    expect(watchIds(other)).toEqual(["demo"]);
    expect(other).toContain(">1 min</time>");
    await page(`/?q=${known}`);
    await page("/?category=events");
    expect(originList.requests).toBe(before + 1);
    originList.body = [];
  });

  it("falls back to the origin's list when D1 is not configured or the edge forwards the control plane", async () => {
    originList.body = [{ id: "demo", startedAt: new Date().toISOString(), renditions: [] }];
    for (const env of [{ DB: undefined }, { CONTROL_PLANE_URL: "http://edge-1.test" }]) {
      const r = await api.call("GET", "/", {}, env);
      expect(r.status).toBe(200);
      expect(r.text).toContain('<meta http-equiv="refresh" content="10">');
      expect(watchIds(r.text)).toEqual(["demo"]);
      expect(r.text).not.toContain('<form class="search"');
    }
    originList.body = [];
  });
});

describe("sign-up/login and creator pages", () => {
  for (const path of ["/login", "/creator"]) {
    it(`${path} is served with a nonce CSP that allows fetches to this origin only, uncached, with no secrets`, async () => {
      const { status, headers, html } = await page(path);
      expect(status).toBe(200);
      const csp = expectPageHeaders(headers);
      expect(csp).toContain("connect-src 'self'");
      expect(csp).toContain("form-action 'none'");
      expect(csp).toContain("media-src 'none'");
      expect(headers.get("cache-control")).toBe("no-store");
      const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
      expect(html).toContain(`<script nonce="${nonce}">`);
      expect(html).toContain(`<style nonce="${nonce}">`);
      // One script runs, the nonce'd one, after the page's data island (JSON, never run); no inline
      // handlers, nothing from elsewhere.
      expect([...html.matchAll(/<script( [^>]*)?>/g)].map((m) => m[1])).toEqual([' type="application/json" id="page-data"', ` nonce="${nonce}"`]);
      expect(html).not.toMatch(/\son[a-z]+=/i);
      expect(html).not.toMatch(/https?:\/\//);
      expect(html).not.toContain("innerHTML");
      const env = testEnv();
      for (const secret of [env.JWT_SECRET, env.NODE_SECRET, env.EDGE_ADMIN_TOKEN]) {
        expect(secret).toBeTruthy();
        expect(html).not.toContain(secret);
      }
      expect(html).not.toMatch(/sk_[A-Za-z0-9]/);
      expect(html).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/); // no JWT
      expect(html).toContain(JSON.stringify(SESSION_STORAGE_KEY));
      expect((await page(path)).headers.get("content-security-policy")).not.toBe(csp);
    });
  }

  it("/login posts to the accounts API and keeps the token in localStorage", async () => {
    const { html } = await page("/login");
    expect(html).toContain('<form class="card" id="signup" method="post"');
    expect(html).toContain('<form class="card" id="login" method="post"');
    expect(html).not.toContain("action=");
    expect(html).toContain('wire("signup", "/api/v1/users", 201)');
    expect(html).toContain('wire("login", "/api/v1/sessions", 200)');
    expect(html).toContain("localStorage.setItem(SESSION_KEY");
    expect(html).toContain('headers.authorization = "Bearer " + session.token');
    expect(html).toContain('autocomplete="current-password"');
  });

  it("/creator creates streams, shows the key once with the OBS settings, rotates, stops and polls the saga", async () => {
    const { html } = await page("/creator");
    expect(html).toContain('api("POST", "/api/v1/streams", body)');
    expect(html).toContain('"/api/v1/streams?limit=50&user="');
    expect(html).toContain('"/key"');
    expect(html).toContain('"/stop"');
    expect(html).toContain('"/saga"');
    expect(html).toContain('<select name="latency_mode"><option value="standard">Standard</option><option value="low" selected>');
    expect(html).toContain('<select name="category" id="category">');
    expect(html).toContain('<input id="obs-server" readonly>');
    expect(html).toContain('<input id="obs-key" readonly autocomplete="off" spellcheck="false">');
    expect(html).toContain('id="copy-key"');
    expect(html).toContain("navigator.clipboard.writeText");
    expect(html).toContain("<strong>This key is shown only now.</strong>");
    expect(html).toContain("<dt>Keyframe interval</dt><dd><strong>2 s</strong></dd>");
    expect(html).toContain("Service <strong>Custom…</strong>");
    expect(html).toContain('<a href="/login?next=%2Fcreator">');
    // The key is never stored: the only thing written to storage is the session (in saveSession).
    expect(html.match(/localStorage\.setItem/g)).toHaveLength(1);
    expect(html).toContain("function saveSession(s) { localStorage.setItem(SESSION_KEY, JSON.stringify(s)); }");
    expect(html).not.toContain("sessionStorage");
  });
});
