import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../index.ts";
import { testEnv, withoutBinding } from "../../test/support/edge/api-client.ts";
import { minuteOf } from "./player-minutes.ts";
import { ANALYTICS_RETENTION_DAYS, pruneAnalytics } from "./retention.ts";
import { nodeReportStatement } from "./store.ts";
import { db, liveStream, rows } from "../../test/support/edge/analytics.ts";

const DAY_MINUTES = 1440;
const report = (streamId: string) => ({ streamId, seconds: 10, ingestBytes: 1000, droppedFrames: 0, encoderSpeed: 1, errors: 0 });

describe("analytics retention", () => {
  it("the Worker's cron deletes minutes older than 30 days and keeps the rest", async () => {
    const { id } = await liveStream("retention");
    const now = Date.now();
    const today = minuteOf(now);
    const cutoff = minuteOf(now - ANALYTICS_RETENTION_DAYS * 86_400_000);
    const minutes = [cutoff - 5 * DAY_MINUTES, cutoff - 1, cutoff, cutoff + 1, today - DAY_MINUTES, today];
    await db().batch(minutes.map((m) => nodeReportStatement(db(), m, report(id))));
    expect((await rows(id)).map((r) => r.minute)).toEqual(minutes);

    const ctx = createExecutionContext();
    await worker.scheduled(createScheduledController({ scheduledTime: now, cron: "*/15 * * * *" }), testEnv(), ctx);
    await waitOnExecutionContext(ctx);
    expect((await rows(id)).map((r) => r.minute)).toEqual([cutoff, cutoff + 1, today - DAY_MINUTES, today]);
  });

  it("a backlog goes in batches until none is left", async () => {
    const { id } = await liveStream("retention");
    const old = minuteOf(Date.now() - (ANALYTICS_RETENTION_DAYS + 2) * 86_400_000);
    const statements = Array.from({ length: 6_000 }, (_, i) => nodeReportStatement(db(), old - i, report(id)));
    for (let i = 0; i < statements.length; i += 1000) await db().batch(statements.slice(i, i + 1000));
    expect(await pruneAnalytics(testEnv(), Date.now())).toBeGreaterThanOrEqual(6_000);
    expect(await rows(id)).toEqual([]);
    expect(await pruneAnalytics(withoutBinding("DB"), Date.now())).toBe(0);
  });
});
