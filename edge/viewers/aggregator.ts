/**
 * The edge half of viewer counting: one isolate's heartbeats, batched per stream in memory and
 * flushed to the stream's counter at most once per flush interval — the first heartbeat of a quiet
 * stream at once, later ones when the interval has passed — so counter requests grow with isolates
 * and streams, never with viewers. A flush is always scheduled while sessions wait, so the last
 * heartbeats reach the counter even when no other request comes.
 */
import { addSample, emptyPlayerStats, hasFigures, mergeStats, type PlayerSample, type PlayerStats } from "../analytics/player-stats.ts";
import { SESSION_WINDOW_MS, type HeartbeatBatch, type ViewerCounts } from "./sessions.ts";

/** Sends one batch to the stream's counter; answers its counts, or null when it has none to give. */
export type FlushFn = (batch: HeartbeatBatch) => Promise<ViewerCounts | null>;

export interface HeartbeatContext {
  intervalMs: number;
  /** EDGE_ID, named in each batch. */
  edge: string;
  flush: FlushFn;
  /** The request's `executionCtx.waitUntil`: scheduled flushes outlive the response. */
  waitUntil: (p: Promise<unknown>) => void;
}

/**
 * Sessions per stream an isolate holds before it flushes early: bounds memory and the size of one
 * batch (a flush body stays well under 2 MB). 20,000 sessions within one interval is ~80,000
 * viewers on a single isolate at a 20 s heartbeat.
 */
export const MAX_BATCH_SESSIONS = 20_000;
/** Counts this isolate learnt (from its flushes or a read) are served for this long without asking the counter. */
export const COUNTS_FRESH_MS = 5_000;
/** Idle streams are forgotten once the isolate tracks more than this many. */
const SWEEP_AT = 1_000;

interface StreamBuffer {
  /** Session id → when this isolate last saw it (ms). */
  pending: Map<string, number>;
  lastFlushAt: number;
  /** A flush is scheduled (a sleep is running inside some request's waitUntil). */
  scheduled: boolean;
  /** Players' figures since the last flush, as histograms: fixed size whatever the audience. */
  player: PlayerStats | null;
}

export class HeartbeatAggregator {
  private readonly streams = new Map<string, StreamBuffer>();
  private readonly known = new Map<string, { counts: ViewerCounts; at: number }>();
  /** Batches this isolate sent (all streams), failed ones included. */
  flushes = 0;

  constructor(
    private readonly now: () => number = () => Date.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** One viewer heartbeat. Never waits for the counter: a flush, when one is due, runs in `waitUntil`. */
  heartbeat(streamId: string, sessionId: string, o: HeartbeatContext, sample: PlayerSample = {}): void {
    const now = this.now();
    let b = this.streams.get(streamId);
    if (!b) {
      if (this.streams.size >= SWEEP_AT) this.sweep(now, o.intervalMs);
      b = { pending: new Map(), lastFlushAt: Number.NEGATIVE_INFINITY, scheduled: false, player: null };
      this.streams.set(streamId, b);
    }
    b.pending.set(sessionId, now);
    if (hasFigures(sample)) addSample((b.player ??= emptyPlayerStats()), sample);
    if (b.pending.size >= MAX_BATCH_SESSIONS) {
      o.waitUntil(this.flush(streamId, b, o));
      return;
    }
    if (b.scheduled) return;
    const wait = b.lastFlushAt + o.intervalMs - now;
    if (wait <= 0) {
      o.waitUntil(this.flush(streamId, b, o));
      return;
    }
    b.scheduled = true;
    o.waitUntil(this.later(streamId, b, o, wait));
  }

  /** Counts this isolate learnt within the last `maxAgeMs`, if any. */
  cached(streamId: string, maxAgeMs = COUNTS_FRESH_MS): ViewerCounts | null {
    const k = this.known.get(streamId);
    return k && this.now() - k.at <= maxAgeMs ? k.counts : null;
  }

  remember(streamId: string, counts: ViewerCounts): void {
    if (!this.known.has(streamId) && this.known.size >= SWEEP_AT) this.known.clear();
    this.known.set(streamId, { counts, at: this.now() });
  }

  /** Sessions waiting in this isolate for `streamId` (tests). */
  pendingFor(streamId: string): number {
    return this.streams.get(streamId)?.pending.size ?? 0;
  }

  private async later(streamId: string, b: StreamBuffer, o: HeartbeatContext, wait: number): Promise<void> {
    await this.sleep(wait);
    b.scheduled = false;
    await this.flush(streamId, b, o);
  }

  private async flush(streamId: string, b: StreamBuffer, o: HeartbeatContext): Promise<void> {
    const now = this.now();
    const sessions = b.pending;
    const player = b.player;
    b.pending = new Map();
    b.player = null;
    b.lastFlushAt = now;
    if (sessions.size === 0) return;
    this.flushes++;
    try {
      const batch: HeartbeatBatch = { streamId, edge: o.edge, sessions: Array.from(sessions, ([id, seen]) => [id, now - seen] as [string, number]) };
      if (player) batch.player = player;
      const counts = await o.flush(batch);
      if (counts) this.remember(streamId, counts);
    } catch (err) {
      console.warn(`viewer heartbeats for ${streamId}: flush failed (${sessions.size} sessions kept for a retry): ${err instanceof Error ? err.message : String(err)}`);
      this.requeue(b, sessions, now);
      // Figures go back only with sessions young enough to retry; alone they would wait for the next heartbeat.
      if (player && b.pending.size > 0) mergeStats((b.player ??= emptyPlayerStats()), player);
      // Retried while the sessions are young enough to count; a newer heartbeat may have scheduled one already.
      if (b.pending.size > 0 && !b.scheduled) {
        b.scheduled = true;
        await this.later(streamId, b, o, o.intervalMs);
      }
    }
  }

  /** Puts a failed batch back, keeping newer sightings and dropping sessions past the window. */
  private requeue(b: StreamBuffer, sessions: Map<string, number>, now: number): void {
    for (const [id, seen] of sessions) {
      if (now - seen >= SESSION_WINDOW_MS || b.pending.size >= MAX_BATCH_SESSIONS) continue;
      const newer = b.pending.get(id);
      if (newer === undefined || newer < seen) b.pending.set(id, seen);
    }
  }

  private sweep(now: number, intervalMs: number): void {
    for (const [id, b] of this.streams) if (b.pending.size === 0 && !b.scheduled && now - b.lastFlushAt > intervalMs) this.streams.delete(id);
  }
}
