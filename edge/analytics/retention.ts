/** Analytics retention: minutes older than 30 days are deleted by the Worker's cron (`scheduled`). */
import { minuteOf } from "./player-minutes.ts";
import { deleteMinutesBefore } from "./store.ts";

export const ANALYTICS_RETENTION_DAYS = 30;
/** Rows per DELETE: each statement stays short; a backlog (a first run after an outage) takes a few rounds. */
const DELETE_BATCH = 5_000;
/** Rounds per run at most; whatever is left waits for the next tick (every 15 minutes). */
const MAX_ROUNDS = 20;

/** Deletes analytics minutes older than the retention; answers how many rows went. */
export const pruneAnalytics = async (env: Env, now: number): Promise<number> => {
  if (!env.DB) return 0;
  const before = minuteOf(now - ANALYTICS_RETENTION_DAYS * 86_400_000);
  let deleted = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const n = await deleteMinutesBefore(env.DB, before, DELETE_BATCH);
    deleted += n;
    if (n < DELETE_BATCH) break;
  }
  return deleted;
};

/** Wraps the Worker's `scheduled` handler so every cron tick also prunes analytics, at the tick's time. */
export const withAnalyticsRetention =
  (inner: ExportedHandlerScheduledHandler<Env>): ExportedHandlerScheduledHandler<Env> =>
  (controller, env, ctx) => {
    ctx.waitUntil(
      pruneAnalytics(env, controller.scheduledTime).then(
        (deleted) => (deleted > 0 ? console.log(JSON.stringify({ event: "analytics_pruned", rows: deleted })) : undefined),
        (err: Error) => console.log(JSON.stringify({ event: "analytics_prune_error", error: err.message })),
      ),
    );
    return inner(controller, env, ctx);
  };
