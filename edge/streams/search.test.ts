import { describe, expect, it } from "vitest";
import { apiClient, setStreamState } from "../../test/support/edge/api-client.ts";

type StreamList = { streams: Array<{ stream_id: string; title: string; viewer_count: number; status: string; category: string | null }>; next_cursor: string | null; total_results?: number };
type Fields = { error: string; fields: Record<string, string> };

const api = apiClient();
/** A word no other test uses, so results only hold this test's streams. */
const word = () => `w${Math.random().toString(36).slice(2, 10)}`;

const live = async (token: string, json: Record<string, unknown>, viewers: number, status = "live") => {
  const s = await api.createStream(token, json);
  await setStreamState(s.stream_id, { status, viewer_count: viewers });
  return s.stream_id;
};

describe("GET /api/v1/streams/search", () => {
  it("ranks by relevance (title > streamer/tags > description), then by viewers", async () => {
    const u = await api.signUp("ranker");
    const w = word();
    const titleFew = await live(u.token, { title: `Speedrun ${w}` }, 5);
    const titleMany = await live(u.token, { title: `Speedrun ${w}` }, 50);
    const tagHuge = await live(u.token, { title: "Something else", tags: [w] }, 5000);
    const descHuge = await live(u.token, { title: "Another thing", description: `a long evening of ${w} and other words to make it longer` }, 9000);
    const r = await api.call<StreamList>("GET", `/api/v1/streams/search?q=${w}`);
    expect(r.status).toBe(200);
    expect(r.body.streams.map((s) => s.stream_id)).toEqual([titleMany, titleFew, tagHuge, descHuge]);
    expect(r.body.total_results).toBe(4);
    expect(r.body.next_cursor).toBeNull();
  });

  it("matches prefixes and every term, across title, tags, category and streamer name, ignoring case and accents", async () => {
    const u = await api.signUp("searchable");
    const w = word();
    const a = await live(u.token, { title: `Café ${w} night`, category: "music" }, 1);
    const b = await live(u.token, { title: `${w} only` }, 1);
    const ids = async (q: string) => (await api.call<StreamList>("GET", `/api/v1/streams/search?q=${encodeURIComponent(q)}`)).body.streams.map((s) => s.stream_id).sort();
    expect(await ids(`${w.slice(0, 6)}`)).toEqual([a, b].sort());
    expect(await ids(`CAFE ${w}`)).toEqual([a]);
    expect(await ids(`${w} music`)).toEqual([a]);
    expect(await ids(`${w} ${u.username}`)).toEqual([a, b].sort());
    expect(await ids(`${w} "quoted" AND OR NOT*`)).toEqual([]);
  });

  it("filters: live by default (status=any for all), category, min_viewers", async () => {
    const u = await api.signUp("filters");
    const w = word();
    const gaming = await live(u.token, { title: `${w} one`, category: "gaming" }, 10);
    const music = await live(u.token, { title: `${w} two`, category: "Music" }, 100);
    const idle = await live(u.token, { title: `${w} three`, category: "gaming" }, 0, "idle");
    const ids = async (query: string) => (await api.call<StreamList>("GET", `/api/v1/streams/search?q=${w}&${query}`)).body.streams.map((s) => s.stream_id);
    expect(await ids("")).toEqual([music, gaming]);
    expect((await ids("status=any")).sort()).toEqual([gaming, music, idle].sort());
    expect(await ids("status=idle")).toEqual([idle]);
    expect(await ids("category=gaming")).toEqual([gaming]);
    expect(await ids("category=Gaming&status=any")).toEqual(expect.arrayContaining([gaming, idle]));
    expect(await ids("min_viewers=50")).toEqual([music]);
    expect(await ids("min_viewers=1000")).toEqual([]);
  });

  it("without q: live streams by viewers (the directory), filterable by category", async () => {
    const u = await api.signUp("browse");
    const w = word();
    await live(u.token, { title: `${w} browse`, category: "art" }, 3);
    const r = await api.call<StreamList>("GET", "/api/v1/streams/search?category=art&limit=50");
    expect(r.status).toBe(200);
    const viewers = r.body.streams.map((s) => s.viewer_count);
    expect(viewers).toEqual([...viewers].sort((a, b) => b - a));
    expect(r.body.streams.every((s) => s.status === "live" && s.category === "art")).toBe(true);
  });

  it("pages with an opaque cursor: every result once, in order", async () => {
    const u = await api.signUp("pager");
    const w = word();
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push(await live(u.token, { title: `${w} episode` }, 10 * i));
    const all = (await api.call<StreamList>("GET", `/api/v1/streams/search?q=${w}&limit=50`)).body.streams.map((s) => s.stream_id);
    expect(all).toEqual([...made].reverse());
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { body: StreamList } = await api.call("GET", `/api/v1/streams/search?q=${w}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      seen.push(...page.body.streams.map((s) => s.stream_id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(all);
  });

  it("400 naming bad parameters", async () => {
    const bad = await api.call<Fields>("GET", "/api/v1/streams/search?q=%21%21%21&category=nope&min_viewers=-1&limit=500&status=gone&cursor=%%%");
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe("invalid query parameters");
    expect(Object.keys(bad.body.fields).sort()).toEqual(["category", "cursor", "limit", "min_viewers", "q", "status"]);
    expect((await api.call<Fields>("GET", `/api/v1/streams/search?q=${"a".repeat(201)}`)).body.fields).toEqual({ q: "must be at most 200 characters" });
    // A list cursor is not a search cursor.
    const u = await api.signUp("cursormix");
    await api.createStream(u.token);
    await api.createStream(u.token);
    const list = await api.call<StreamList>("GET", `/api/v1/streams?user=${u.username}&limit=1`);
    const mixed = await api.call<Fields>("GET", `/api/v1/streams/search?q=x&cursor=${list.body.next_cursor}`);
    expect(mixed.status).toBe(400);
    expect(mixed.body.fields).toEqual({ cursor: "invalid cursor" });
  });

  it("keeps the index in sync with title, tag and category edits", async () => {
    const u = await api.signUp("reindex");
    const before = word();
    const after = word();
    const id = await live(u.token, { title: `${before} title` }, 1);
    expect((await api.call<StreamList>("GET", `/api/v1/streams/search?q=${before}`)).body.streams.map((s) => s.stream_id)).toEqual([id]);
    await api.call("PATCH", `/api/v1/streams/${id}`, { token: u.token, json: { title: "renamed", tags: [after] } });
    expect((await api.call<StreamList>("GET", `/api/v1/streams/search?q=${before}`)).body.streams).toEqual([]);
    expect((await api.call<StreamList>("GET", `/api/v1/streams/search?q=${after}`)).body.streams.map((s) => s.stream_id)).toEqual([id]);
  });
});

describe("GET /api/v1/streams", () => {
  it("lists newest first with filters and keyset pagination", async () => {
    const u = await api.signUp("lister");
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await api.createStream(u.token, { title: `List ${i}`, category: i % 2 ? "music" : "art" })).stream_id);
    await setStreamState(made[4]!, { status: "live" });
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: StreamList } = await api.call("GET", `/api/v1/streams?user=${u.username}&limit=2${cursor ? `&cursor=${cursor}` : ""}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.streams.map((s) => s.stream_id));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...made].reverse());
    const ids = async (q: string) => (await api.call<StreamList>("GET", `/api/v1/streams?user=${u.username}&${q}`)).body.streams.map((s) => s.stream_id);
    expect(await ids("status=live")).toEqual([made[4]]);
    expect(await ids("category=music")).toEqual([made[3], made[1]]);
    expect(await ids("status=ended")).toEqual([]);
    expect((await api.call<StreamList>("GET", "/api/v1/streams?user=no_such_user_here")).body).toEqual({ streams: [], next_cursor: null });
  });

  it("400 naming bad parameters", async () => {
    const r = await api.call<Fields>("GET", "/api/v1/streams?user=Bad-Name&status=nope&category=nope&limit=0&cursor=abc");
    expect(r.status).toBe(400);
    expect(Object.keys(r.body.fields).sort()).toEqual(["category", "cursor", "limit", "status", "user"]);
  });
});

describe("GET /api/v1/categories", () => {
  it("lists the seeded categories in order with live counts", async () => {
    const u = await api.signUp("catcount");
    const before = (await api.call<{ categories: Array<{ slug: string; live_streams: number; viewers: number }> }>("GET", "/api/v1/categories")).body.categories;
    expect(before.map((c) => c.slug).slice(0, 3)).toEqual(["gaming", "just-chatting", "music"]);
    expect(before.at(-1)!.slug).toBe("other");
    expect(before.length).toBeGreaterThanOrEqual(10);
    await live(u.token, { title: "Cooking", category: "food-drink" }, 42);
    const r = await api.call<{ categories: Array<{ slug: string; name: string; live_streams: number; viewers: number }> }>("GET", "/api/v1/categories");
    expect(r.headers.get("cache-control")).toBe("public, max-age=30");
    const food = r.body.categories.find((c) => c.slug === "food-drink")!;
    const foodBefore = before.find((c) => c.slug === "food-drink")!;
    expect(food.name).toBe("Food & Drink");
    expect(food.live_streams).toBe(foodBefore.live_streams + 1);
    expect(food.viewers).toBe(foodBefore.viewers + 42);
  });
});
