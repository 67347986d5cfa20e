/**
 * The ViewerCounter object's per-minute accumulator (its own SQLite): each flush from an isolate
 * raises the minute's viewer peak and adds its player histograms. A minute is written to D1 once
 * it is over, which is exact: batches are dated by the object's clock when they arrive, so nothing
 * lands in a minute after it ends.
 */
import { addInto, BUFFER_BOUNDS_S, emptyCounts, LATENCY_BOUNDS_MS, quantile, total } from "./histogram.ts";
import type { PlayerStats } from "./player-stats.ts";

export const MINUTE_MS = 60_000;
export const minuteOf = (ms: number): number => Math.floor(ms / MINUTE_MS);

interface MinuteRow extends Record<string, SqlStorageValue> {
  minute: number;
  viewers: number;
  latency: string;
  buffer: string;
  errors: number;
  reports: number;
}

/** What the counter writes to D1 for one minute; the player figures are null when no heartbeat carried any. */
export interface PlayerMinute {
  minute: number;
  viewers: number;
  latencyP50Ms: number | null;
  latencyP95Ms: number | null;
  latencySamples: number;
  bufferP10S: number | null;
  bufferSamples: number;
  playerErrors: number | null;
  playerReports: number;
}

export const summarize = (row: { minute: number; viewers: number; stats: PlayerStats }): PlayerMinute => {
  const { stats } = row;
  const round = (v: number | null, digits: number) => (v === null ? null : Math.round(v * 10 ** digits) / 10 ** digits);
  return {
    minute: row.minute,
    viewers: row.viewers,
    latencyP50Ms: round(quantile(LATENCY_BOUNDS_MS, stats.latency, 0.5), 0),
    latencyP95Ms: round(quantile(LATENCY_BOUNDS_MS, stats.latency, 0.95), 0),
    latencySamples: total(stats.latency),
    // The buffer's low tail is what stalls: p10 is the level the worst tenth of players were at.
    bufferP10S: round(quantile(BUFFER_BOUNDS_S, stats.buffer, 0.1), 2),
    bufferSamples: total(stats.buffer),
    playerErrors: stats.reports > 0 ? stats.errors : null,
    playerReports: stats.reports,
  };
};

export class PlayerMinutes {
  constructor(private readonly sql: SqlStorage) {
    sql.exec(`CREATE TABLE IF NOT EXISTS player_minutes (
      minute INTEGER PRIMARY KEY,
      viewers INTEGER NOT NULL DEFAULT 0,
      latency TEXT NOT NULL,
      buffer TEXT NOT NULL,
      errors INTEGER NOT NULL DEFAULT 0,
      reports INTEGER NOT NULL DEFAULT 0)`);
  }

  /** One flush at `minute`: the concurrent count after it, and the figures it carried. Call inside the flush's transaction. */
  add(minute: number, viewers: number, player: PlayerStats | undefined): void {
    const row = this.sql.exec<MinuteRow>(`SELECT * FROM player_minutes WHERE minute = ?1`, minute).toArray()[0];
    const latency = row ? (JSON.parse(row.latency) as number[]) : emptyCounts(LATENCY_BOUNDS_MS);
    const buffer = row ? (JSON.parse(row.buffer) as number[]) : emptyCounts(BUFFER_BOUNDS_S);
    if (player) {
      addInto(latency, player.latency);
      addInto(buffer, player.buffer);
    }
    this.sql.exec(
      `INSERT INTO player_minutes (minute, viewers, latency, buffer, errors, reports) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (minute) DO UPDATE SET viewers = max(viewers, excluded.viewers), latency = excluded.latency, buffer = excluded.buffer,
         errors = errors + excluded.errors, reports = reports + excluded.reports`,
      minute,
      viewers,
      JSON.stringify(latency),
      JSON.stringify(buffer),
      player?.errors ?? 0,
      player?.reports ?? 0,
    );
  }

  /** Minutes before `minute` (finished), oldest first, summarised for D1. */
  finishedBefore(minute: number): PlayerMinute[] {
    return this.sql
      .exec<MinuteRow>(`SELECT * FROM player_minutes WHERE minute < ?1 ORDER BY minute`, minute)
      .toArray()
      .map((r) =>
        summarize({ minute: r.minute, viewers: r.viewers, stats: { latency: JSON.parse(r.latency) as number[], buffer: JSON.parse(r.buffer) as number[], errors: r.errors, reports: r.reports } }),
      );
  }

  drop(minutes: number[]): void {
    for (const m of minutes) this.sql.exec(`DELETE FROM player_minutes WHERE minute = ?1`, m);
  }

  get size(): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM player_minutes`).one().n;
  }
}
