/**
 * Fixed-window rate limits kept in D1 (table `rate_limits`, one row per bucket). D1 has a single
 * writer per database, so the upsert-and-count below is atomic across every isolate and every POP —
 * an in-isolate counter would not be (each isolate would allow the full budget).
 *
 * Attempts are counted before the expensive or sensitive check runs, and `refund` gives a
 * successful attempt back, so only failures use up the budget while concurrent guesses can never
 * overshoot it.
 */
export interface RateLimit {
  /** Attempts allowed per window. */
  limit: number;
  windowSeconds: number;
}

export type RateLimitResult = { ok: true } | { ok: false; retryAfterS: number };

/** Longest window: buckets older than this are pruned. */
export const MAX_WINDOW_S = 86_400;

/** Parses `<count>/<seconds>` (e.g. `10/300`, window ≤ 1 day); the fallback when unset or malformed. */
export const parseRateLimit = (spec: string | undefined, fallback: RateLimit): RateLimit => {
  const m = spec ? /^([1-9][0-9]{0,6})\/([1-9][0-9]{0,5})$/.exec(spec.trim()) : null;
  return m && Number(m[2]) <= MAX_WINDOW_S ? { limit: Number(m[1]), windowSeconds: Number(m[2]) } : fallback;
};

const windowOf = (limit: RateLimit, nowMs: number) => Math.floor(nowMs / 1000 / limit.windowSeconds) * limit.windowSeconds;

/** Counts one attempt in `bucket`; refused once the window's count exceeds the limit. */
export const takeAttempt = async (db: D1Database, bucket: string, limit: RateLimit, nowMs = Date.now()): Promise<RateLimitResult> => {
  const start = windowOf(limit, nowMs);
  const row = await db
    .prepare(
      `INSERT INTO rate_limits (bucket, window_start, count) VALUES (?1, ?2, 1)
       ON CONFLICT (bucket) DO UPDATE SET
         count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
         window_start = excluded.window_start
       RETURNING count`,
    )
    .bind(bucket, start)
    .first<{ count: number }>();
  // Now and then, drop buckets whose windows are long over (keeps the table small without a cron).
  if (Math.random() < 0.01) await pruneRateLimits(db, nowMs);
  if ((row?.count ?? 1) <= limit.limit) return { ok: true };
  return { ok: false, retryAfterS: Math.max(1, start + limit.windowSeconds - Math.floor(nowMs / 1000)) };
};

/** Gives back an attempt that succeeded (same window only). */
export const refundAttempt = async (db: D1Database, bucket: string, limit: RateLimit, nowMs = Date.now()): Promise<void> => {
  await db.prepare("UPDATE rate_limits SET count = max(count - 1, 0) WHERE bucket = ?1 AND window_start = ?2").bind(bucket, windowOf(limit, nowMs)).run();
};

/** Drops buckets whose window started more than a day ago (no limit window is that long). */
export const pruneRateLimits = async (db: D1Database, nowMs = Date.now()): Promise<void> => {
  await db.prepare("DELETE FROM rate_limits WHERE window_start < ?1").bind(Math.floor(nowMs / 1000) - MAX_WINDOW_S).run();
};
