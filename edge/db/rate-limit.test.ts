import { describe, expect, it } from "vitest";
import { testEnv } from "../../test/support/edge/api-client.ts";
import { parseRateLimit, pruneRateLimits, refundAttempt, takeAttempt } from "./rate-limit.ts";

const db = () => testEnv().DB!;

describe("D1 fixed-window rate limit", () => {
  it("allows `limit` attempts per window, says when to retry, and starts afresh in the next window", async () => {
    const limit = { limit: 2, windowSeconds: 60 };
    const t0 = 1_800_000_000_000; // a window boundary (divisible by 60 s)
    expect(await takeAttempt(db(), "b1", limit, t0)).toEqual({ ok: true });
    expect(await takeAttempt(db(), "b1", limit, t0 + 1000)).toEqual({ ok: true });
    expect(await takeAttempt(db(), "b1", limit, t0 + 15_000)).toEqual({ ok: false, retryAfterS: 45 });
    expect(await takeAttempt(db(), "b2", limit, t0 + 15_000)).toEqual({ ok: true });
    expect(await takeAttempt(db(), "b1", limit, t0 + 60_000)).toEqual({ ok: true });
  });

  it("a refund gives one attempt back within the window", async () => {
    const limit = { limit: 1, windowSeconds: 60 };
    const t0 = 1_800_000_120_000;
    expect((await takeAttempt(db(), "r1", limit, t0)).ok).toBe(true);
    await refundAttempt(db(), "r1", limit, t0);
    expect((await takeAttempt(db(), "r1", limit, t0)).ok).toBe(true);
    expect((await takeAttempt(db(), "r1", limit, t0)).ok).toBe(false);
  });

  it("counts concurrent attempts exactly (one writer)", async () => {
    const limit = { limit: 5, windowSeconds: 60 };
    const results = await Promise.all(Array.from({ length: 12 }, () => takeAttempt(db(), "c1", limit, 1_800_000_240_000)));
    expect(results.filter((r) => r.ok)).toHaveLength(5);
  });

  it("prunes buckets older than a day", async () => {
    await takeAttempt(db(), "old", { limit: 1, windowSeconds: 60 }, 1_700_000_000_000);
    await pruneRateLimits(db(), 1_700_000_000_000 + 2 * 86_400_000);
    expect(await db().prepare("SELECT count(*) AS n FROM rate_limits WHERE bucket = 'old'").first("n")).toBe(0);
  });

  it("parses <count>/<seconds>, falling back on anything else", () => {
    const fallback = { limit: 9, windowSeconds: 9 };
    expect(parseRateLimit("10/300", fallback)).toEqual({ limit: 10, windowSeconds: 300 });
    for (const bad of [undefined, "", "0/10", "10", "10/0", "-1/5", "5/100000", "a/b"]) expect(parseRateLimit(bad, fallback)).toEqual(fallback);
  });
});
