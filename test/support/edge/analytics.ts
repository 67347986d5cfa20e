/** Helpers of the analytics tests (workerd): streams, node tokens, the counter's pending minutes, rows. */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { signNodeToken } from "../../../shared/tokens.ts";
import { apiClient, setStreamState, testEnv } from "./api-client.ts";
import { PlayerMinutes } from "../../../edge/analytics/player-minutes.ts";

export const api = apiClient({ upstream: async () => new Response("no origin in this test", { status: 404 }) });
export const db = () => testEnv().DB!;
export const ADMIN = () => testEnv().EDGE_ADMIN_TOKEN!;

let n = 0;
export const nodeToken = async (id = `node-an-${Date.now().toString(36)}-${n++}`) => ({ id, token: await signNodeToken(testEnv().NODE_SECRET!, id) });

export const liveStream = async (prefix = "analytics") => {
  const owner = await api.signUp(prefix);
  const s = await api.createStream(owner.token, { title: "Analytics test", category: "gaming" });
  await setStreamState(s.stream_id, { status: "live" });
  return { owner, id: s.stream_id };
};

export const counter = (id: string) => env.VIEWER_COUNTER!.get(env.VIEWER_COUNTER!.idFromName(id));

/**
 * Moves everything the stream's counter gathered into one `target` minute (merged the way the
 * counter merges flushes) and runs its alarm, which writes finished minutes to D1: a minute
 * passes without the test waiting one.
 */
export const finishMinute = async (streamId: string, target: number): Promise<void> => {
  await runInDurableObject(counter(streamId), (_instance, state) => {
    const sql = state.storage.sql;
    const rows = sql.exec<{ viewers: number; latency: string; buffer: string; errors: number; reports: number }>("SELECT * FROM player_minutes").toArray();
    sql.exec("DELETE FROM player_minutes");
    const minutes = new PlayerMinutes(sql);
    for (const r of rows) minutes.add(target, r.viewers, { latency: JSON.parse(r.latency) as number[], buffer: JSON.parse(r.buffer) as number[], errors: r.errors, reports: r.reports });
  });
  await runDurableObjectAlarm(counter(streamId));
};

/** Minutes the stream's counter still holds (not yet written to D1). */
export const pendingMinutes = (streamId: string): Promise<number> =>
  runInDurableObject(counter(streamId), (_instance, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM player_minutes").one().n);

export interface StoredRow {
  minute: number;
  viewers: number | null;
  ingest_bytes: number | null;
  ingest_seconds: number | null;
  ingest_bitrate_bps: number | null;
  dropped_frames: number | null;
  encoder_speed: number | null;
  node_errors: number | null;
  node_reports: number | null;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  latency_samples: number | null;
  buffer_p10_s: number | null;
  buffer_samples: number | null;
  player_errors: number | null;
  player_reports: number | null;
  errors: number | null;
}

export const rows = async (streamId: string): Promise<StoredRow[]> =>
  (
    await db()
      .prepare(
        `SELECT minute, viewers, ingest_bytes, ingest_seconds, ingest_bitrate_bps, dropped_frames, encoder_speed, node_errors, node_reports, latency_p50_ms, latency_p95_ms,
           latency_samples, buffer_p10_s, buffer_samples, player_errors, player_reports, errors FROM stream_analytics WHERE stream_id = ?1 ORDER BY minute`,
      )
      .bind(streamId)
      .all<StoredRow>()
  ).results;
