import { requireDb, isoNow } from "../db/database.ts";
import type { FanoutMessage } from "./messages.ts";
import { insertGoLiveNotifications } from "./notification-store.ts";
import { deliverToHooksOf } from "./notify-seam.ts";

export interface FanoutResult {
  notified: number;
  deliveries: number;
}

/**
 * Consumes one fan-out batch: an in-app notification per follower (one statement for the whole
 * batch) and the deliveries of the followers' `followed_stream_started` hooks. Safe to run twice:
 * a redelivered batch inserts nothing new and re-enqueues only deliveries still pending.
 */
export const processFanout = async (env: Env, m: FanoutMessage): Promise<FanoutResult> => {
  const db = requireDb(env);
  const notified = await insertGoLiveNotifications(db, m.go_live, m.follower_ids, isoNow());
  const deliveries = await deliverToHooksOf(env, db, m.follower_ids, "followed_stream_started", m.go_live);
  return { notified, deliveries };
};
