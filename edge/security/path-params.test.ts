/**
 * Path traversal and odd encodings in every path parameter of every route, sent by the rightful
 * caller so that only the parameter is wrong: 400 with a JSON body naming it; dot segments are
 * removed by the URL parser before routing, so they are another (harmless) request. Nothing changes
 * and nothing is fetched from the origin.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { api, buildFixture, originCalls, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { pathOf, rightfulToken, routeKey, ROUTES, type RouteCase } from "../../test/support/edge/route-cases.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

type ErrorBody = { error: string; fields?: Record<string, string> };

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

/** Values that reach the handler (percent-encoded as sent): each must fail the parameter's pattern. */
const HOSTILE = [
  "..%2F..%2Fetc%2Fpasswd",
  "%2e%2e%2f%2e%2e%2fetc",
  "..%5C..%5Cwindows",
  "%252e%252e%252f", // double-encoded
  "a%00b", // NUL
  "a%0D%0ASet-Cookie:%20x=1", // CR/LF
  "%C0%AE%C0%AE", // overlong UTF-8 for "."
  "%E2%80%AEgnp.exe", // right-to-left override
  "%F0%9F%98%80",
  "%ZZ", // not a percent-encoding
  "a%20b",
  "a%3Fb%23c", // ? and #
  "x".repeat(300),
];

/** Dot segments: the URL parser removes them (and turns `\` into `/`) before any route is chosen. */
const DOT_SEGMENTS = ["..", "%2e%2e", ".%2E", "..\\..", "."];

const send = (route: RouteCase, path: string) => {
  const headers: Record<string, string> = route.access === "websocket" ? { upgrade: "websocket" } : {};
  return api.call<ErrorBody>(route.method, path, { token: rightfulToken(route, f), headers, json: route.body?.(f) });
};

const withParams = ROUTES.filter((r) => r.paramRules);

describe("every path parameter of every route is validated", () => {
  it("each route with parameters in its pattern has a rule for each of them", () => {
    for (const route of ROUTES) {
      const names = [...route.pattern.matchAll(/:([A-Za-z]+)/g)].map((m) => m[1]!);
      // HEAD shares the GET handler; the wildcard routes parse their own rest (edge/hls, /vod tests).
      if (route.method === "HEAD") continue;
      expect(Object.keys(route.paramRules ?? {}).sort(), routeKey(route.method, route.pattern)).toEqual(names.sort());
    }
  });

  for (const route of withParams) {
    it(`${routeKey(route.method, route.pattern)}: traversal and odd encodings are a 400 naming the parameter`, async () => {
      const before = await snapshot(f);
      const fetched = originCalls.length;
      for (const [name, rule] of Object.entries(route.paramRules!)) {
        for (const value of HOSTILE) {
          const path = pathOf(route, f, { [name]: value });
          const r = await send(route, path);
          const what = `${route.method} ${path}: ${r.text}`;
          expect(r.status, what).toBe(400);
          expect(r.headers.get("content-type"), what).toMatch(/^application\/json/);
          expect(r.body.error, what).toMatch(rule.error);
          if (rule.field) expect(r.body.fields?.[rule.field], what).toEqual(expect.any(String));
        }
      }
      expect(await snapshot(f)).toEqual(before);
      expect(originCalls.length, "origin requests").toBe(fetched);
    });

    it(`${routeKey(route.method, route.pattern)}: dot segments are resolved before routing, never handed to the route`, async () => {
      const before = await snapshot(f);
      for (const name of Object.keys(route.paramRules!)) {
        for (const value of DOT_SEGMENTS) {
          const path = pathOf(route, f, { [name]: value });
          const resolved = new URL(path, "http://edge.test").pathname;
          const what = `${route.method} ${path} → ${resolved}`;
          expect(resolved, what).not.toMatch(/(^|\/)\.\.?(\/|$)/);
          // The same answer as asking for the resolved path itself: the dot segment got no further.
          const [r, direct] = [await send(route, path), await send(route, resolved)];
          expect({ status: r.status, body: r.body }, what).toEqual({ status: direct.status, body: direct.body });
          if (route.method !== "GET") expect(r.status, `${what}: ${r.text}`).toBeGreaterThanOrEqual(400);
        }
      }
      expect(await snapshot(f)).toEqual(before);
    });
  }
});
