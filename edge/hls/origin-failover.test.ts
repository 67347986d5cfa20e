import { describe, expect, it } from "vitest";
import { OriginFailover, originUrls, primaryOrigin } from "./origin-failover.ts";

const P = "http://primary.test";
const S = "http://standby.test";

/** An upstream where each origin is up (200), down (throws) or overloaded (503). */
const upstreamOf = (state: Record<string, "up" | "down" | 503>) => {
  const calls: string[] = [];
  const fetch = async (req: Request): Promise<Response> => {
    calls.push(req.url);
    const origin = new URL(req.url).origin;
    const s = state[origin];
    if (s === "down") throw new TypeError("connection refused");
    if (s === 503) return new Response("busy", { status: 503 });
    return new Response(`from ${origin}`, { status: req.url.endsWith("/missing") ? 404 : 200 });
  };
  return { calls, fetch };
};

describe("origin failover at the edge", () => {
  it("parses ORIGIN_URL lists", () => {
    expect(originUrls(" http://a.test/ , http://b.test ,,")).toEqual(["http://a.test", "http://b.test"]);
    expect(primaryOrigin("http://a.test,http://b.test")).toBe("http://a.test");
    expect(primaryOrigin("http://a.test")).toBe("http://a.test");
  });

  it("one origin: the upstream is used as it is", async () => {
    const up = upstreamOf({ [P]: "up" });
    const pool = new OriginFailover([P]);
    expect(pool.wrap(up.fetch)).toBe(up.fetch);
  });

  it("a dead primary: the request goes to the standby, which stays preferred for the hold time, then the primary is tried again", async () => {
    let now = 1_000;
    const state: Record<string, "up" | "down" | 503> = { [P]: "down", [S]: "up" };
    const up = upstreamOf(state);
    const fetch = new OriginFailover([P, S], () => now, 10_000).wrap(up.fetch);
    expect(await (await fetch(new Request(`${P}/live/s/master.m3u8`))).text()).toBe(`from ${S}`);
    expect(up.calls).toEqual([`${P}/live/s/master.m3u8`, `${S}/live/s/master.m3u8`]);
    up.calls.length = 0;
    await fetch(new Request(`${P}/live/s/a.m4s`));
    expect(up.calls).toEqual([`${S}/live/s/a.m4s`]);
    // The primary came back; after the hold it is asked first again.
    state[P] = "up";
    now += 10_001;
    up.calls.length = 0;
    expect(await (await fetch(new Request(`${P}/live/s/b.m4s`))).text()).toBe(`from ${P}`);
    expect(up.calls).toEqual([`${P}/live/s/b.m4s`]);
  });

  it("502–504 moves on, a 404 does not; when every origin fails the last answer (or error) comes back", async () => {
    const up = upstreamOf({ [P]: 503, [S]: "up" });
    const fetch = new OriginFailover([P, S]).wrap(up.fetch);
    expect((await fetch(new Request(`${P}/live/s/x.m4s`))).status).toBe(200);
    const notFound = upstreamOf({ [P]: "up", [S]: "up" });
    const fetch2 = new OriginFailover([P, S]).wrap(notFound.fetch);
    expect((await fetch2(new Request(`${P}/missing`))).status).toBe(404);
    expect(notFound.calls).toEqual([`${P}/missing`]);
    const allBusy = new OriginFailover([P, S]).wrap(upstreamOf({ [P]: 503, [S]: 503 }).fetch);
    expect((await allBusy(new Request(`${P}/live/s/x.m4s`))).status).toBe(503);
    const allDown = new OriginFailover([P, S]).wrap(upstreamOf({ [P]: "down", [S]: "down" }).fetch);
    await expect(allDown(new Request(`${P}/live/s/x.m4s`))).rejects.toThrow(/connection refused/);
  });

  it("URLs that are not the primary's pass through untouched", async () => {
    const up = upstreamOf({ [P]: "down", [S]: "up" });
    const fetch = new OriginFailover([P, S]).wrap(up.fetch);
    await fetch(new Request("http://elsewhere.test/x"));
    expect(up.calls).toEqual(["http://elsewhere.test/x"]);
  });
});
