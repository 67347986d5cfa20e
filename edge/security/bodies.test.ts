/**
 * Every route that reads a JSON body, sent by its rightful caller with a body that is too large
 * (declared, or streamed without a length), not JSON, not UTF-8, not an object, or smuggling fields
 * (`__proto__`, `role`): 413 or 400 with a JSON body naming the problem, and nothing changed.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { testEnv } from "../../test/support/edge/api-client.ts";
import { buildFixture, upstream, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { pathOf, rightfulToken, routeKey, ROUTES, type RouteCase } from "../../test/support/edge/route-cases.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

type ErrorBody = { error: string; detail?: string; limit_bytes?: number; fields?: Record<string, string> };

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

const { app } = createEdgeApp({ upstream });

/** Sends raw bytes, optionally as a stream with no Content-Length (a chunked upload). */
const sendBytes = async (route: RouteCase, bytes: Uint8Array, o: { streamed?: boolean } = {}) => {
  const token = rightfulToken(route, f);
  const headers: Record<string, string> = { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) };
  let body: BodyInit = bytes as Uint8Array<ArrayBuffer>;
  if (o.streamed) {
    const chunk = 4096;
    let at = 0;
    body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    });
  }
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${pathOf(route, f)}`, { method: route.method, headers, body }), testEnv(), ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  if (o.streamed) expect(res.status, "a streamed body had a length").not.toBe(411);
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as ErrorBody };
};

const utf8 = (s: string) => new TextEncoder().encode(s);

/** A JSON object just over `limit` bytes: one long string field. */
const oversize = (limit: number) => utf8(JSON.stringify({ padding: "x".repeat(limit) }));

const withBody = ROUTES.filter((r) => r.bodyLimit !== undefined);

describe("request bodies", () => {
  for (const route of withBody) {
    it(`${routeKey(route.method, route.pattern)}: 413 over ${route.bodyLimit} bytes, declared or streamed`, async () => {
      const before = await snapshot(f);
      for (const streamed of [false, true]) {
        const r = await sendBytes(route, oversize(route.bodyLimit!), { streamed });
        expect(r.status, `${streamed ? "streamed" : "declared"}: ${r.text}`).toBe(413);
        expect(r.body).toEqual({ error: "request body too large", code: "body_too_large", limit_bytes: route.bodyLimit });
      }
      expect(await snapshot(f)).toEqual(before);
    });

    it(`${routeKey(route.method, route.pattern)}: 400 for bodies that are not one JSON object`, async () => {
      const before = await snapshot(f);
      const cases: Array<[string, Uint8Array, string, RegExp | undefined]> = [
        ["empty", new Uint8Array(0), "request body must be a JSON object", /^the body is empty$/],
        ["truncated JSON", utf8('{"a":'), "request body is not valid JSON", /./],
        ["trailing garbage", utf8('{"a":1}}'), "request body is not valid JSON", /./],
        ["an array", utf8("[]"), "request body must be a JSON object", /^got an array$/],
        ["null", utf8("null"), "request body must be a JSON object", /^got null$/],
        ["a number", utf8("42"), "request body must be a JSON object", /^got number$/],
        ["a string", utf8('"x"'), "request body must be a JSON object", /^got string$/],
        ["invalid UTF-8", Uint8Array.of(0x7b, 0x22, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d), "request body is not valid UTF-8", undefined],
        ["UTF-16", new Uint8Array(new Uint16Array([...'{"a":1}'].map((c) => c.charCodeAt(0))).buffer), "request body is not valid JSON", /./],
      ];
      for (const [name, bytes, error, detail] of cases) {
        const r = await sendBytes(route, bytes);
        expect(r.status, `${name}: ${r.text}`).toBe(400);
        expect(r.body.error, name).toBe(error);
        if (detail) expect(r.body.detail, name).toMatch(detail);
      }
      expect(await snapshot(f)).toEqual(before);
    });

    it(`${routeKey(route.method, route.pattern)}: smuggled fields (__proto__, role, owner) are named as unknown`, async () => {
      const before = await snapshot(f);
      const base = route.body!(f) as Record<string, unknown>;
      for (const extra of ['"__proto__":{"role":"admin"}', '"constructor":{"prototype":{"role":"admin"}}', '"role":"admin"', '"user_id":"someone"']) {
        const json = JSON.stringify(base).replace(/^\{/, `{${extra}${Object.keys(base).length ? "," : ""}`);
        const field = /^"([^"]+)"/.exec(extra)![1]!;
        const r = await sendBytes(route, utf8(json));
        expect(r.status, `${field}: ${r.text}`).toBe(400);
        expect(r.body.fields?.[field], field).toBe("unknown field");
      }
      expect(({} as Record<string, unknown>).role, "Object.prototype was polluted").toBeUndefined();
      expect(await snapshot(f)).toEqual(before);
    });
  }
});

