import { ERROR_CODES } from "../../shared/errors.ts";
import { jsonError, type JsonErrorExtra } from "../../shared/http/json-error.ts";

/** Per-field problems of a request, `{ field: message }`, answered as 400 `{ error, fields }`. */
export type FieldErrors = Record<string, string>;

/**
 * An error a route throws to answer with a JSON body; the API's error handler turns it into the
 * response. Anything else thrown becomes a 500.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: JsonErrorExtra = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  response(): Response {
    return jsonError(this.status, this.message, this.extra, this.headers);
  }
}

export const invalidFields = (fields: FieldErrors, message = "invalid request"): ApiError => new ApiError(400, message, { code: ERROR_CODES.invalidFields, fields });
export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`);
export const forbidden = (message: string): ApiError => new ApiError(403, message);
export const conflict = (message: string, extra: JsonErrorExtra = {}): ApiError => new ApiError(409, message, extra);
export const unauthorized = (message: string): ApiError => new ApiError(401, message, {}, { "www-authenticate": 'Bearer realm="cascade"' });
export const unavailable = (message: string): ApiError => new ApiError(503, message);
export const tooManyRequests = (retryAfterS: number): ApiError =>
  new ApiError(429, "too many attempts; try again later", { retry_after: retryAfterS }, { "retry-after": String(retryAfterS) });

/** The API's `onError`: ApiErrors answer as themselves, anything else as a 500 naming the problem. */
export const apiErrorHandler = (err: Error): Response => (err instanceof ApiError ? err.response() : jsonError(500, "internal error", { detail: err.message }));
