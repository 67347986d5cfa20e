import { describe, expect, it } from "vitest";
import { apiClient, testEnv } from "../../test/support/edge/api-client.ts";

type Fields = { error: string; fields: Record<string, string> };
type FollowList = { follows: Array<{ user: { id: string; username: string }; followed_at: string }>; next_cursor: string | null };

const api = apiClient();

describe("PUT/DELETE /api/v1/follows/:username", () => {
  it("follows (201), again is a no-op (200), unfollows (204) twice", async () => {
    const fan = await api.signUp("fan");
    const star = await api.signUp("star");
    const first = await api.call<{ following: boolean; user: { id: string; username: string }; followed_at: string }>("PUT", `/api/v1/follows/${star.username}`, { token: fan.token });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ following: true, user: { id: star.user.id, username: star.username } });
    const again = await api.call<{ followed_at: string }>("PUT", `/api/v1/follows/${star.username}`, { token: fan.token });
    expect(again.status).toBe(200);
    expect(again.body.followed_at).toBe(first.body.followed_at);
    const rows = await testEnv().DB!.prepare("SELECT count(*) AS n FROM follows WHERE follower_id = ?1").bind(fan.user.id).first<{ n: number }>();
    expect(rows!.n).toBe(1);
    expect((await api.call("DELETE", `/api/v1/follows/${star.username}`, { token: fan.token })).status).toBe(204);
    expect((await api.call("DELETE", `/api/v1/follows/${star.username}`, { token: fan.token })).status).toBe(204);
    const list = await api.call<FollowList>("GET", "/api/v1/follows", { token: fan.token });
    expect(list.body.follows).toEqual([]);
  });

  it("viewers may follow too", async () => {
    const v = await api.signUp("viewer");
    const token = await api.withRole(v, "viewer");
    const star = await api.signUp("star");
    expect((await api.call("PUT", `/api/v1/follows/${star.username}`, { token })).status).toBe(201);
  });

  it("bad input: 401 without a token, 400 for yourself or an impossible name, 404 for nobody", async () => {
    const me = await api.signUp("me");
    const other = await api.signUp("other");
    for (const method of ["PUT", "DELETE"]) {
      expect((await api.call(method, `/api/v1/follows/${other.username}`)).status).toBe(401);
      expect((await api.call(method, `/api/v1/follows/${other.username}`, { token: "garbage" })).status).toBe(401);
      const self = await api.call<Fields>(method, `/api/v1/follows/${me.username}`, { token: me.token });
      expect(self.status).toBe(400);
      expect(self.body.fields).toEqual({ username: "you cannot follow yourself" });
      for (const bad of ["AB", "x", "has-dash", "UPPER_case", "a".repeat(33), "%20"]) {
        const r = await api.call<Fields>(method, `/api/v1/follows/${bad}`, { token: me.token });
        expect(r.status, `${method} ${bad}`).toBe(400);
        expect(Object.keys(r.body.fields)).toEqual(["username"]);
      }
      const nobody = await api.call(method, "/api/v1/follows/nobody_by_this_name_zz", { token: me.token });
      expect(nobody.status).toBe(404);
      expect(nobody.body).toEqual({ error: "user not found", code: "not_found" });
    }
    expect((await api.call("GET", "/api/v1/follows")).status).toBe(401);
  });
});

describe("GET /api/v1/follows", () => {
  it("lists whom I follow, newest first, in keyset pages", async () => {
    const fan = await api.signUp("pager");
    const stars = [];
    for (let i = 0; i < 5; i++) {
      const s = await api.signUp(`s${i}`);
      stars.push(s);
      expect((await api.call("PUT", `/api/v1/follows/${s.username}`, { token: fan.token })).status).toBe(201);
      await new Promise((r) => setTimeout(r, 2));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r: { status: number; body: FollowList } = await api.call<FollowList>("GET", `/api/v1/follows?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: fan.token });
      expect(r.status).toBe(200);
      expect(r.body.follows.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.follows.map((f) => f.user.username));
      cursor = r.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(stars.map((s) => s.username).reverse());
  });

  it("400 naming limit and cursor", async () => {
    const fan = await api.signUp("badpage");
    const r = await api.call<Fields>("GET", "/api/v1/follows?limit=0&cursor=nope!", { token: fan.token });
    expect(r.status).toBe(400);
    expect(Object.keys(r.body.fields).sort()).toEqual(["cursor", "limit"]);
    const big = await api.call<Fields>("GET", "/api/v1/follows?limit=1000", { token: fan.token });
    expect(big.body.fields).toEqual({ limit: "must be from 1 to 100" });
  });
});
