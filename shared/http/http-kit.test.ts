import { describe, expect, it } from "vitest";
import { ERROR_CODES, errorCodeOf, isErrorCode } from "../errors.ts";
import { jsonError } from "./json-error.ts";
import { decodeUtf8, readLimitedBody } from "./read-body.ts";

/** A request whose body arrives in `chunks`, counting how many were pulled. */
const streamed = (chunks: Uint8Array[], headers: Record<string, string> = {}) => {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks[pulled++];
      if (next) controller.enqueue(next);
      else controller.close();
    },
  }, { highWaterMark: 0 });
  const req = new Request("http://x.test/", { method: "POST", body, headers, duplex: "half" } as RequestInit);
  return { req, pulled: () => pulled };
};

describe("readLimitedBody", () => {
  it("returns the whole body up to the limit", async () => {
    const r = await readLimitedBody(new Request("http://x.test/", { method: "POST", body: "hello" }), 5);
    expect(r).toEqual({ ok: true, bytes: new TextEncoder().encode("hello") });
  });

  it("an absent body is empty", async () => {
    expect(await readLimitedBody(new Request("http://x.test/"), 1)).toEqual({ ok: true, bytes: new Uint8Array(0) });
  });

  it("refuses by Content-Length before reading a byte", async () => {
    const { req, pulled } = streamed([new Uint8Array(10)], { "content-length": "11" });
    expect(await readLimitedBody(req, 10)).toEqual({ ok: false, tooLarge: true, limit: 10 });
    expect(pulled()).toBe(0);
  });

  it("stops reading a streamed body as soon as it passes the limit", async () => {
    const { req, pulled } = streamed([new Uint8Array(6), new Uint8Array(6), new Uint8Array(6), new Uint8Array(6)]);
    expect(await readLimitedBody(req, 10)).toEqual({ ok: false, tooLarge: true, limit: 10 });
    expect(pulled()).toBeLessThan(4);
  });
});

describe("decodeUtf8", () => {
  it("decodes UTF-8 and refuses malformed bytes instead of replacing them", () => {
    expect(decodeUtf8(new TextEncoder().encode("é"))).toBe("é");
    expect(decodeUtf8(new Uint8Array([0xc3, 0x28]))).toBeNull();
  });
});

describe("jsonError", () => {
  it("carries the message, the status's code and the extra fields; not cached", async () => {
    const res = jsonError(404, "stream not found", { path: "/x" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toEqual({ error: "stream not found", code: "not_found", path: "/x" });
  });

  it("a route may name a narrower code, and headers may override the defaults", async () => {
    const res = jsonError(400, "invalid request", { code: ERROR_CODES.invalidFields, fields: { a: "bad" } }, { "cache-control": "public, max-age=1" });
    expect(await res.json()).toEqual({ error: "invalid request", code: "invalid_fields", fields: { a: "bad" } });
    expect(res.headers.get("cache-control")).toBe("public, max-age=1");
  });

  it("every status maps to a known code", () => {
    for (const status of [400, 401, 403, 404, 405, 409, 410, 413, 416, 418, 426, 429, 500, 502, 503, 504, 599]) expect(isErrorCode(errorCodeOf(status)), String(status)).toBe(true);
    expect(errorCodeOf(418)).toBe("invalid_request");
    expect(errorCodeOf(599)).toBe("internal");
  });
});
