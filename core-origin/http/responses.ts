/** JSON error bodies and cache headers shared by the origin's routes. */
import { jsonError as sharedJsonError, type JsonErrorExtra } from "../../shared/http/json-error.ts";

/** The shared JSON error (shared/http/json-error.ts), readable cross-origin like everything the origin serves, cacheable when a route says so. */
export const jsonError = (status: number, error: string, extra: JsonErrorExtra = {}, cacheSeconds = 0): Response =>
  sharedJsonError(status, error, extra, { "cache-control": cacheSeconds > 0 ? `public, max-age=${cacheSeconds}` : "no-store", "access-control-allow-origin": "*" });

export const maxAge = (seconds: number): string => `public, max-age=${Math.max(0, Math.round(seconds))}`;
export const IMMUTABLE = "public, max-age=1209600, immutable";
