/**
 * Every route × every kind of bad credential: missing, malformed, invalid, expired, signed with
 * another secret or algorithm, another user's, the wrong role, the wrong kind of token. Each case
 * asserts the exact status and message and that nothing the route could touch changed.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { isErrorCode } from "../../shared/errors.ts";
import { createEdgeApp } from "../app.ts";
import { ROUTE_ACCESS } from "../middleware/route-access.ts";
import { api, buildFixture, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { pathOf, rightfulToken, routeKey, ROUTES, type RouteCase } from "../../test/support/edge/route-cases.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

type ErrorBody = { error: string; code?: unknown };

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

interface Attempt {
  name: string;
  authorization?: string;
  /** The chat WebSocket takes its token in the query. */
  queryToken?: string;
}

const call = (route: RouteCase, a: Attempt) => {
  const headers: Record<string, string> = {};
  if (a.authorization !== undefined) headers.authorization = a.authorization;
  if (route.access === "websocket") headers.upgrade = "websocket";
  const query = a.queryToken !== undefined ? `?token=${encodeURIComponent(a.queryToken)}` : "";
  return api.call<ErrorBody>(route.method, pathOf(route, f) + query, { headers, json: route.body?.(f) });
};

/**
 * Calls `route` as `attempt` and expects `status` with `error`, and the fixture's state as it was
 * (`before`: taken once per route; every refused case is compared with it).
 */
const refused = async (route: RouteCase, a: Attempt, status: number, error: string, before?: string[]) => {
  before ??= await snapshot(f);
  const r = await call(route, a);
  const what = `${routeKey(route.method, route.pattern)} as ${a.name}`;
  expect(r.status, `${what}: ${r.text}`).toBe(status);
  expect(r.headers.get("content-type"), what).toMatch(/^application\/json/);
  expect(r.body.error, what).toBe(error);
  expect(isErrorCode(r.body.code), `${what}: code ${String(r.body.code)}`).toBe(true);
  expect(await snapshot(f), what).toEqual(before);
  return r;
};

const bearer = (token: string) => `Bearer ${token}`;

/** Bad user credentials and what the API says about each. */
const badUserAttempts = (): Array<Attempt & { error: string }> => [
  { name: "a Basic header", authorization: "Basic dXNlcjpwYXNz", error: "the Authorization header must be `Bearer <token>`" },
  { name: "an empty bearer", authorization: "Bearer ", error: "the Authorization header must be `Bearer <token>`" },
  { name: "two tokens", authorization: `Bearer ${f.owner.token} ${f.owner.token}`, error: "the Authorization header must be `Bearer <token>`" },
  { name: "garbage", authorization: bearer(f.badTokens.garbage), error: "invalid token" },
  { name: "an expired token", authorization: bearer(f.badTokens.expired), error: "token expired" },
  { name: "a token of another secret", authorization: bearer(f.badTokens.otherSecret), error: "invalid token" },
  { name: "an alg:none token", authorization: bearer(f.badTokens.algNone), error: "invalid token" },
  { name: "an HS512 token", authorization: bearer(f.badTokens.hs512), error: "invalid token" },
  { name: "another issuer's token", authorization: bearer(f.badTokens.wrongIssuer), error: "invalid token" },
  { name: "a token with an unknown role", authorization: bearer(f.badTokens.unknownRole), error: "invalid token" },
  { name: "a tampered token", authorization: bearer(`${f.owner.token.slice(0, -3)}${f.owner.token.endsWith("AAA") ? "BBB" : "AAA"}`), error: "invalid token" },
  { name: "an oversized token", authorization: bearer("a".repeat(5000)), error: "invalid token" },
  { name: "a node token", authorization: bearer(f.nodeToken), error: "invalid token" },
];

const USER_ACCESS = new Set(["user", "streamer", "owner", "broadcaster", "moderator"]);

describe("route inventory", () => {
  it("every route of the edge app has an access entry and security cases, and every entry is a route", () => {
    const { app } = createEdgeApp();
    // Middleware (cors, forwarding, cache headers) is listed as method ALL; only handlers are routes.
    const live = new Set(app.routes.filter((r) => r.method !== "ALL").map((r) => routeKey(r.method, r.path)));
    const table = new Set(ROUTE_ACCESS.map((r) => routeKey(r.method, r.pattern)));
    const cases = new Set(ROUTES.map((r) => routeKey(r.method, r.pattern)));
    expect([...live].filter((k) => !table.has(k)), "routes without an access entry").toEqual([]);
    expect([...table].filter((k) => !live.has(k)), "access entries without a route").toEqual([]);
    expect([...table].filter((k) => !cases.has(k)), "access entries without security cases").toEqual([]);
    expect(cases.size, "one case per route").toBe(ROUTES.length);
  });
});

describe("user-token routes refuse every bad credential with 401", () => {
  for (const route of ROUTES.filter((r) => USER_ACCESS.has(r.access))) {
    it(routeKey(route.method, route.pattern), async () => {
      const before = await snapshot(f);
      const missing = await refused(route, { name: "no token" }, 401, "authentication required: send Authorization: Bearer <token>", before);
      expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="cascade"');
      for (const a of badUserAttempts()) await refused(route, a, 401, a.error, before);
    });
  }
});

describe("routes that read an optional user token: anonymous is fine, a bad token is a 401", () => {
  for (const route of ROUTES.filter((r) => r.access === "optional")) {
    it(routeKey(route.method, route.pattern), async () => {
      const anonymous = await call(route, { name: "no token" });
      expect(anonymous.status, anonymous.text).toBe(route.anonymous ?? 200);
      const before = await snapshot(f);
      for (const a of badUserAttempts()) await refused(route, a, 401, a.error, before);
    });
  }
});

describe("the chat WebSocket refuses a bad token instead of downgrading to read-only", () => {
  for (const route of ROUTES.filter((r) => r.access === "websocket")) {
    it(routeKey(route.method, route.pattern), async () => {
      const before = await snapshot(f);
      for (const [name, token, error] of [
        ["garbage", f.badTokens.garbage, "invalid token"],
        ["expired", f.badTokens.expired, "token expired"],
        ["another secret", f.badTokens.otherSecret, "invalid token"],
        ["alg none", f.badTokens.algNone, "invalid token"],
        ["node token", f.nodeToken, "invalid token"],
      ] as const) {
        await refused(route, { name, queryToken: token }, 401, error, before);
      }
    });
  }
});

describe("another user's valid token is a 403 on what only the owner may do", () => {
  const messages: Record<string, string> = {
    owner: "only the stream's owner or an admin may do this",
    broadcaster: "only the broadcaster may do this",
    moderator: "only the broadcaster and channel moderators may do this",
  };
  for (const route of ROUTES.filter((r) => r.access in messages)) {
    it(routeKey(route.method, route.pattern), async () => {
      const message = route.forbidden ?? messages[route.access]!;
      await refused(route, { name: "another streamer", authorization: bearer(f.other.token) }, 403, message);
      await refused(route, { name: "a viewer", authorization: bearer(f.viewer.token) }, 403, message);
    });
  }
});

describe("wrong role", () => {
  it("a viewer account cannot create a stream (403); nothing is created", async () => {
    const route = ROUTES.find((r) => r.access === "streamer")!;
    await refused(route, { name: "a viewer", authorization: bearer(f.viewer.token) }, 403, "a viewer account cannot create streams");
    expect((await api.call<{ streams: unknown[] }>("GET", `/api/v1/streams?user=${f.viewer.username}`)).body.streams).toEqual([]);
  });

  it("a user token — even an admin's — is no node token (401)", async () => {
    const admin = await api.withRole(await api.signUp("sec_admin"), "admin");
    for (const route of ROUTES.filter((r) => r.access === "node")) {
      const before = await snapshot(f);
      for (const [name, authorization] of [
        ["no token", undefined],
        ["garbage", bearer("x.y")],
        ["a node token of another secret", bearer(f.foreignNodeToken)],
        ["a user token", bearer(f.owner.token)],
        ["an admin's user token", bearer(admin)],
        ["the edge admin token", bearer(f.adminToken)],
        ["a node token under another scheme", `Basic ${f.nodeToken}`],
      ] as const) {
        await refused(route, { name, ...(authorization ? { authorization } : {}) }, 401, "a valid node token is required", before);
      }
    }
  });

  it("the edge's admin endpoints take only EDGE_ADMIN_TOKEN (401 for user, admin-user and node tokens)", async () => {
    const admin = await api.withRole(await api.signUp("sec_admin"), "admin");
    for (const route of ROUTES.filter((r) => r.access === "admin")) {
      const before = await snapshot(f);
      for (const [name, authorization] of [
        ["no token", undefined],
        ["a user token", bearer(f.owner.token)],
        ["an admin's user token", bearer(admin)],
        ["a node token", bearer(f.nodeToken)],
        ["the admin token with a suffix", bearer(`${f.adminToken}x`)],
        ["a prefix of the admin token", bearer(f.adminToken.slice(0, -1))],
        ["the admin token as Basic", `Basic ${f.adminToken}`],
      ] as const) {
        const r = await refused(route, { name, ...(authorization ? { authorization } : {}) }, 401, "missing or invalid bearer token", before);
        expect(r.headers.get("www-authenticate"), routeKey(route.method, route.pattern)).toBe("Bearer");
      }
    }
  });

  it("without EDGE_ADMIN_TOKEN every admin route answers 503, even to the old token, and changes nothing", async () => {
    for (const route of ROUTES.filter((r) => r.access === "admin")) {
      const before = await snapshot(f);
      const r = await api.call<ErrorBody>(route.method, pathOf(route, f), { headers: { authorization: bearer(f.adminToken) }, json: route.body?.(f) }, { EDGE_ADMIN_TOKEN: undefined });
      const what = routeKey(route.method, route.pattern);
      expect(r.status, what).toBe(503);
      expect(r.body.error, what).toBe("admin endpoints are disabled: EDGE_ADMIN_TOKEN is not configured");
      expect(await snapshot(f), what).toEqual(before);
    }
  });

});

describe("other users' data through user routes", () => {
  it("marking another user's notification read changes nothing (updated: 0)", async () => {
    const before = await snapshot(f);
    const r = await api.call<{ updated: number }>("POST", "/api/v1/notifications/read", { token: f.other.token, json: { ids: [f.notificationId] } });
    expect(r.status).toBe(200);
    expect(r.body.updated).toBe(0);
    expect(await snapshot(f)).toEqual(before);
  });

  it("another user's recording that is not ready is a 404 to them, not a 403 that says it exists", async () => {
    const r = await api.call<ErrorBody>("GET", `/api/v1/streams/${f.streamId}/recordings/${f.recordingId}`, { token: f.other.token });
    expect(r.status).toBe(404);
    expect(r.body.error).toBe("recording not found");
  });

  it("a recording is only found under its own stream, even by the other stream's owner", async () => {
    const before = await snapshot(f);
    for (const [method, suffix] of [["GET", ""], ["DELETE", ""], ["POST", "/convert"]] as const) {
      const r = await api.call<ErrorBody>(method, `/api/v1/streams/${f.otherStreamId}/recordings/${f.recordingId}${suffix}`, { token: f.other.token });
      expect(r.status, `${method} ${suffix}`).toBe(404);
      expect(r.body.error).toBe("recording not found");
    }
    expect(await snapshot(f)).toEqual(before);
  });
});

// Last: the rightful calls change the fixture (rotate the key, stop the stream, delete the hook).
describe("the refusals above are about the credential", () => {
  it("the rightful caller gets through on every protected route", async () => {
    for (const route of ROUTES.filter((r) => r.access !== "public" && r.access !== "websocket")) {
      const token = rightfulToken(route, f);
      const r = await api.call(route.method, pathOf(route, f), { token, json: route.body?.(f) });
      expect([401, 403], `${routeKey(route.method, route.pattern)}: ${r.status} ${r.text}`).not.toContain(r.status);
    }
  });
});
