/**
 * ViewerCounter: one Durable Object per stream that knows how many distinct player sessions sent a
 * heartbeat in the last 60 s, and the stream's peak.
 *
 * Edge isolates never call it per heartbeat: each isolate batches a stream's heartbeats and sends
 * one `record` per flush interval (edge/viewers/aggregator.ts), so its request rate grows with the
 * number of isolates, not of viewers. Sessions live in the object's SQLite storage (so an evicted
 * object keeps counting); an alarm every ALARM_MS while anyone watches prunes expired sessions,
 * pushes the count to the stream's chat sockets and writes it to D1 for the directory's ordering.
 * It also keeps each minute's viewer peak and the players' latency, buffer and error figures
 * (edge/analytics/player-minutes.ts) and writes every finished minute to `stream_analytics`.
 */
import { DurableObject } from "cloudflare:workers";
import { minuteOf, PlayerMinutes } from "../../analytics/player-minutes.ts";
import { parsePlayerStats } from "../../analytics/player-stats.ts";
import { playerMinuteStatement } from "../../analytics/store.ts";
import { pushViewerCount } from "../chat-room/client.ts";
import { isSessionId, SESSION_WINDOW_MS, type HeartbeatBatch, type ViewerCounts } from "../../viewers/sessions.ts";

/** Alarm cadence while there are sessions: chat sees the count at least this often. */
export const ALARM_MS = 10_000;
/** The first alarm after a quiet period comes sooner, so a new audience shows up quickly. */
const FIRST_ALARM_MS = 1_000;
/** D1 gets a changed count at most this often, unless the change is significant (see `significantChange`). */
export const D1_WRITE_MS = 30_000;
/** Longest edge id kept in the per-edge flush figures. */
const EDGE_NAME_MAX = 64;
/** A finished minute D1 keeps refusing is given up after this many minutes, so the alarm stops some day. */
const MINUTE_WRITE_GIVE_UP = 10;

/** Figures for the benchmark and operators: how often edges called `record`, from where, and what is stored. */
export interface CounterStats extends ViewerCounts {
  stream_id: string | null;
  /** `record` calls received: the Durable Object requests viewer counting caused. */
  records: number;
  /** Session rows stored (including expired ones the next alarm prunes). */
  stored_sessions: number;
  first_record_at: string | null;
  last_record_at: string | null;
  /** `record` calls per edge id. */
  edges: Record<string, number>;
}

interface StateRow extends Record<string, SqlStorageValue> {
  stream_id: string | null;
  peak: number;
  records: number;
  first_record_at: number;
  last_record_at: number;
  /** The count last sent to chat (-1: none yet). */
  pushed_viewers: number;
  /** The count last written to D1 (-1: not written, or the stream was not live then). */
  written_viewers: number;
  /** When D1 was last written or tried (ms). */
  written_at: number;
}

/** A jump D1 should see before D1_WRITE_MS has passed: ±10 % (at least 10 viewers), or to or from zero. */
const significantChange = (now: number, before: number): boolean =>
  before >= 0 && ((now === 0) !== (before === 0) || Math.abs(now - before) >= Math.max(10, before * 0.1));

const iso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

export class ViewerCounter extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly minutes: PlayerMinutes;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.minutes = new PlayerMinutes(this.sql);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, last_seen INTEGER NOT NULL) WITHOUT ROWID`);
    this.sql.exec(`CREATE INDEX IF NOT EXISTS sessions_by_last_seen ON sessions (last_seen)`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS edge_flushes (edge TEXT PRIMARY KEY, records INTEGER NOT NULL) WITHOUT ROWID`);
    this.sql.exec(`CREATE TABLE IF NOT EXISTS state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      stream_id TEXT,
      peak INTEGER NOT NULL DEFAULT 0,
      records INTEGER NOT NULL DEFAULT 0,
      first_record_at INTEGER NOT NULL DEFAULT 0,
      last_record_at INTEGER NOT NULL DEFAULT 0,
      pushed_viewers INTEGER NOT NULL DEFAULT -1,
      written_viewers INTEGER NOT NULL DEFAULT -1,
      written_at INTEGER NOT NULL DEFAULT 0)`);
    this.sql.exec(`INSERT OR IGNORE INTO state (id) VALUES (1)`);
  }

  // ---- RPC surface -------------------------------------------------------------------------------

  /** One isolate's flush: the sessions it saw since its last one. Answers the counts after it. */
  async record(batch: HeartbeatBatch): Promise<ViewerCounts> {
    const now = Date.now();
    const cutoff = now - SESSION_WINDOW_MS;
    const edge = typeof batch.edge === "string" && batch.edge !== "" ? batch.edge.slice(0, EDGE_NAME_MAX) : "edge";
    const parsed = batch.player === undefined ? undefined : parsePlayerStats(batch.player);
    const player = typeof parsed === "string" ? undefined : parsed;
    const viewers = this.ctx.storage.transactionSync(() => {
      for (const entry of Array.isArray(batch.sessions) ? batch.sessions : []) {
        if (!Array.isArray(entry)) continue;
        const [id, age] = entry;
        if (!isSessionId(id) || typeof age !== "number" || !Number.isFinite(age)) continue;
        const seen = now - Math.max(0, Math.round(age));
        if (seen <= cutoff) continue;
        this.sql.exec(`INSERT INTO sessions (session_id, last_seen) VALUES (?1, ?2) ON CONFLICT (session_id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`, id, seen);
      }
      const count = this.countSince(cutoff);
      this.sql.exec(
        `UPDATE state SET stream_id = coalesce(stream_id, ?1), peak = max(peak, ?2), records = records + 1,
           first_record_at = CASE first_record_at WHEN 0 THEN ?3 ELSE first_record_at END, last_record_at = ?3 WHERE id = 1`,
        typeof batch.streamId === "string" ? batch.streamId : null,
        count,
        now,
      );
      this.sql.exec(`INSERT INTO edge_flushes (edge, records) VALUES (?1, 1) ON CONFLICT (edge) DO UPDATE SET records = records + 1`, edge);
      this.minutes.add(minuteOf(now), count, player);
      return count;
    });
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(now + FIRST_ALARM_MS);
    const st = this.state();
    return { viewers, peak: st.peak, updated_at: iso(st.last_record_at) };
  }

  /** Distinct sessions seen in the last 60 s, the peak, and when an edge last flushed. */
  async counts(): Promise<ViewerCounts> {
    const st = this.state();
    return { viewers: this.countSince(Date.now() - SESSION_WINDOW_MS), peak: st.peak, updated_at: iso(st.last_record_at) };
  }

  async stats(): Promise<CounterStats> {
    const st = this.state();
    const edges: Record<string, number> = {};
    for (const r of this.sql.exec<{ edge: string; records: number }>(`SELECT edge, records FROM edge_flushes ORDER BY edge`)) edges[r.edge] = r.records;
    return {
      stream_id: st.stream_id,
      viewers: this.countSince(Date.now() - SESSION_WINDOW_MS),
      peak: st.peak,
      updated_at: iso(st.last_record_at),
      records: st.records,
      stored_sessions: this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM sessions`).one().n,
      first_record_at: iso(st.first_record_at),
      last_record_at: iso(st.last_record_at),
      edges,
    };
  }

  // ---- alarm ---------------------------------------------------------------------------------------

  /** Prunes expired sessions, tells chat and D1, and comes back while there is anything left to tell. */
  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec(`DELETE FROM sessions WHERE last_seen <= ?1`, now - SESSION_WINDOW_MS);
    const viewers = this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM sessions`).one().n;
    const st = this.state();
    if (st.stream_id !== null) {
      await this.pushToChat(st, viewers);
      await this.writeToD1(st, viewers, now);
    }
    await this.writeMinutes(st.stream_id, now);
    const after = this.state();
    // Keep going while anyone watches, until a drop to zero has reached chat and D1, and until the last minute is written.
    const owed = after.pushed_viewers > 0 || after.written_viewers > 0 || this.minutes.size > 0;
    if (viewers > 0 || owed) await this.ctx.storage.setAlarm(now + ALARM_MS);
  }

  private async pushToChat(st: StateRow, viewers: number): Promise<void> {
    // Re-sent every alarm while anyone watches (late joiners, sockets that missed one); a zero once.
    if (viewers === 0 && st.pushed_viewers <= 0) return;
    try {
      await pushViewerCount(this.env, st.stream_id!, viewers, Math.max(st.peak, viewers));
      this.sql.exec(`UPDATE state SET pushed_viewers = ?1 WHERE id = 1`, viewers);
    } catch (err) {
      console.warn(`viewer counter ${st.stream_id}: pushing the count to chat failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Discovery orders by `streams.viewer_count`: a changed count goes there every D1_WRITE_MS, a big change at once. */
  private async writeToD1(st: StateRow, viewers: number, now: number): Promise<void> {
    const db = this.env.DB;
    if (!db || viewers === st.written_viewers) return;
    if (now - st.written_at < D1_WRITE_MS && !significantChange(viewers, st.written_viewers)) return;
    try {
      // Only while on air: ending a stream zeroes viewer_count (edge/streams/lifecycle.ts), and that must stay.
      const r = await db
        .prepare(`UPDATE streams SET viewer_count = ?1, peak_viewers = max(peak_viewers, ?2) WHERE id = ?3 AND status IN ('live', 'reconnecting')`)
        .bind(viewers, Math.max(st.peak, viewers), st.stream_id)
        .run();
      // Not on air (yet): remember the try, not the value, so the count is written once it is.
      this.sql.exec(`UPDATE state SET written_viewers = ?1, written_at = ?2 WHERE id = 1`, r.meta.changes > 0 ? viewers : -1, now);
    } catch (err) {
      this.sql.exec(`UPDATE state SET written_at = ?1 WHERE id = 1`, now);
      console.warn(`viewer counter ${st.stream_id}: writing the count to D1 failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Finished minutes go to `stream_analytics` in one D1 batch; kept for the next alarm when it fails. */
  private async writeMinutes(streamId: string | null, now: number): Promise<void> {
    const current = minuteOf(now);
    const finished = this.minutes.finishedBefore(current);
    if (finished.length === 0) return;
    const db = this.env.DB;
    // Nowhere to write them: keeping them would only keep the alarm going.
    if (!db || streamId === null) return this.minutes.drop(finished.map((m) => m.minute));
    try {
      await db.batch(finished.map((m) => playerMinuteStatement(db, streamId, m)));
      this.minutes.drop(finished.map((m) => m.minute));
    } catch (err) {
      const stale = finished.filter((m) => m.minute < current - MINUTE_WRITE_GIVE_UP).map((m) => m.minute);
      this.minutes.drop(stale);
      console.warn(`viewer counter ${streamId}: writing ${finished.length} analytics minute(s) to D1 failed (${stale.length} given up): ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private countSince(cutoff: number): number {
    return this.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM sessions WHERE last_seen > ?1`, cutoff).one().n;
  }

  private state(): StateRow {
    return this.sql.exec<StateRow>(`SELECT * FROM state WHERE id = 1`).one();
  }
}
