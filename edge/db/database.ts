import { unavailable } from "../http/api-error.ts";

/** The D1 binding, or 503 when this Worker was deployed without one. */
export const requireDb = (env: Env): D1Database => {
  if (!env.DB) throw unavailable("the control plane database (D1 binding DB) is not configured");
  return env.DB;
};

/** Timestamps are stored as ISO 8601 UTC text with milliseconds: they sort as text. */
export const isoNow = (now = Date.now()): string => new Date(now).toISOString();
