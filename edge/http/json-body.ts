import type { Context } from "hono";
import { ERROR_CODES } from "../../shared/errors.ts";
import { decodeUtf8, readLimitedBody } from "../../shared/http/read-body.ts";
import { ApiError, invalidFields } from "./api-error.ts";

/** Largest JSON body the control-plane API accepts (bytes); larger ones get 413. */
export const MAX_JSON_BODY = 16 * 1024;

export type JsonObject = Record<string, unknown>;

/**
 * Reads the request body as one JSON object, at most `limit` bytes: 413 when larger (by
 * Content-Length or by counting a streamed body), 400 naming the problem when it is empty, not JSON,
 * or not an object.
 */
export const readJsonObject = async (c: Context, limit = MAX_JSON_BODY): Promise<JsonObject> => {
  const body = await readLimitedBody(c.req.raw, limit);
  if (!body.ok) throw new ApiError(413, "request body too large", { limit_bytes: limit });
  const text = decodeUtf8(body.bytes);
  if (text === null) throw new ApiError(400, "request body is not valid UTF-8", { code: ERROR_CODES.invalidBody });
  if (text.trim() === "") throw new ApiError(400, "request body must be a JSON object", { code: ERROR_CODES.invalidBody, detail: "the body is empty" });
  let parsed: unknown;
  let protoKey = false;
  try {
    parsed = JSON.parse(text, (key, value: unknown) => {
      if (key === "__proto__") protoKey = true;
      return value;
    });
  } catch (err) {
    throw new ApiError(400, "request body is not valid JSON", { code: ERROR_CODES.invalidBody, detail: err instanceof Error ? err.message : String(err) });
  }
  // No field of this API is called `__proto__`, and error maps built by assignment (`errors[key] = …`)
  // would swallow its "unknown field" (the assignment sets a prototype instead): refused here, at any depth.
  if (protoKey) throw invalidFields({ ["__proto__"]: "unknown field" });
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new ApiError(400, "request body must be a JSON object", { code: ERROR_CODES.invalidBody, detail: `got ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : typeof parsed}` });
  }
  return parsed as JsonObject;
};

/** Fields not in `allowed` are errors too: a typo (`titel`) must not be silently ignored. */
export const unknownFields = (body: JsonObject, allowed: readonly string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const key of Object.keys(body)) if (!allowed.includes(key)) out[key] = "unknown field";
  return out;
};

/** Throws 400 with every field problem at once, if there are any. */
export const assertNoFieldErrors = (fields: Record<string, string>): void => {
  if (Object.keys(fields).length > 0) throw invalidFields(fields);
};
