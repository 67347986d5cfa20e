/**
 * Per-stream figures of this node, every stats period: ingest bitrate (bytes the RTMP publisher
 * sent), frames ffmpeg dropped, encoder speed and error events. They go to the node's Prometheus
 * gauges and, with a control plane, to `POST /api/v1/nodes/stats`, which stores them per minute
 * (edge/analytics/). Everything is a difference between two readings of running totals, so a
 * period is exact however late its timer fires.
 */
import type { Counter, Gauge } from "prom-client";
import type { StreamEvent } from "../../shared/events.ts";
import type { IngestLogger } from "../ingest/types.ts";

/** What the tracker reads of a publish session: the connection's running byte count. */
export interface ByteSource {
  readonly streamId: string;
  readonly bytesReceived: number;
}

/** What it reads of a stream's pipeline. */
export interface PipelineFigures {
  readonly state: string;
  /** Frames dropped over the stream's life (every ffmpeg run). */
  readonly droppedFrames: number;
  readonly speed: number;
}

export interface StreamPeriod {
  streamId: string;
  seconds: number;
  ingestBytes: number;
  ingestBitrateBps: number;
  droppedFrames: number;
  /** Null while no encoder runs (starting, reconnecting): a stale reading is no figure. */
  encoderSpeed: number | null;
  errors: number;
  /** The control plane knows this stream (it told this node to expect it at some point). */
  reportable: boolean;
  /** The stream's pipeline is gone: this is its last period. */
  ended: boolean;
}

interface Tally {
  since: number;
  session: ByteSource | null;
  bytesSeen: number;
  /** Bytes of replaced sessions (a publisher that reconnected) not yet in a period. */
  bytesCarried: number;
  pipeline: PipelineFigures | null;
  droppedSeen: number;
  droppedCarried: number;
  errors: number;
  reportable: boolean;
}

/** Longest period the control plane takes (edge/analytics/node-reports.ts MAX_REPORT_SECONDS). */
const MAX_PERIOD_S = 600;

export class StreamStatsTracker {
  private readonly tallies = new Map<string, Tally>();

  constructor(private readonly now: () => number = Date.now) {}

  private tally(streamId: string): Tally {
    let t = this.tallies.get(streamId);
    if (!t) {
      t = { since: this.now(), session: null, bytesSeen: 0, bytesCarried: 0, pipeline: null, droppedSeen: 0, droppedCarried: 0, errors: 0, reportable: false };
      this.tallies.set(streamId, t);
    }
    return t;
  }

  /** A publisher starts sending for its stream: its bytes count from now (not the handshake before). */
  attach(session: ByteSource): void {
    const t = this.tally(session.streamId);
    if (t.session && t.session !== session) t.bytesCarried += Math.max(0, t.session.bytesReceived - t.bytesSeen);
    t.session = session;
    t.bytesSeen = session.bytesReceived;
  }

  /** A pipeline event: errors are counted for the stream's next period. */
  event(e: Pick<StreamEvent, "type" | "streamId">): void {
    if (e.type === "error") this.tally(e.streamId).errors++;
  }

  /**
   * Closes the period of every stream: those in `pipelines` and those whose pipeline just went
   * (their last period, then forgotten).
   */
  take(pipelines: ReadonlyMap<string, PipelineFigures>, reportable: (streamId: string) => boolean): StreamPeriod[] {
    const now = this.now();
    for (const id of pipelines.keys()) this.tally(id);
    const out: StreamPeriod[] = [];
    for (const [id, t] of this.tallies) {
      const p = pipelines.get(id) ?? null;
      if (p && p !== t.pipeline) {
        // A new pipeline for the stream counts drops from zero; the old one's last ones still count.
        if (t.pipeline) t.droppedCarried += Math.max(0, t.pipeline.droppedFrames - t.droppedSeen);
        t.pipeline = p;
        t.droppedSeen = 0;
      }
      const current = t.session?.bytesReceived ?? t.bytesSeen;
      const bytes = t.bytesCarried + Math.max(0, current - t.bytesSeen);
      const dropsNow = t.pipeline?.droppedFrames ?? t.droppedSeen;
      const dropped = t.droppedCarried + Math.max(0, dropsNow - t.droppedSeen);
      const ended = !p || p.state === "ended" || p.state === "failed";
      t.reportable ||= reportable(id);
      const seconds = Math.min(MAX_PERIOD_S, (now - t.since) / 1000);
      if (seconds > 0) {
        out.push({
          streamId: id,
          seconds: Number(seconds.toFixed(3)),
          ingestBytes: bytes,
          ingestBitrateBps: Math.round((bytes * 8) / seconds),
          droppedFrames: dropped,
          encoderSpeed: p && p.state === "live" && Number.isFinite(p.speed) ? Number(Math.max(0, p.speed).toFixed(3)) : null,
          errors: t.errors,
          reportable: t.reportable,
          ended,
        });
        Object.assign(t, { since: now, bytesSeen: current, bytesCarried: 0, droppedSeen: dropsNow, droppedCarried: 0, errors: 0 });
      }
      if (ended) this.tallies.delete(id);
    }
    return out;
  }
}

/** The body of `POST /api/v1/nodes/stats` for the periods the control plane knows about. */
export const statsBody = (periods: StreamPeriod[]) => ({
  streams: periods
    .filter((p) => p.reportable)
    .map((p) => ({ stream_id: p.streamId, seconds: p.seconds, ingest_bytes: p.ingestBytes, dropped_frames: p.droppedFrames, encoder_speed: p.encoderSpeed, errors: p.errors })),
});

export interface NodeStatsOptions {
  tracker: StreamStatsTracker;
  pipelines: () => ReadonlyMap<string, PipelineFigures>;
  /** Whether the control plane knows the stream (streams from the node's local key list, such as `demo`, it does not). */
  reportable: (streamId: string) => boolean;
  metrics: { ingestBitrate: Gauge<"stream">; droppedFrames: Counter<"stream"> };
  logger: IngestLogger;
  /** Where reports go; without one the figures only reach the gauges. */
  controlPlane?: { baseUrl: string; nodeToken: string } | null;
  /** Default 10 s, the heartbeat's interval. */
  intervalMs?: number;
  /** Per request. Default 3 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Runs the tracker every period. A report the control plane does not take is not sent again: the
 * minute it belonged to shows no node figures rather than the next minute showing two periods.
 */
export class NodeStats {
  private timer: ReturnType<typeof setInterval> | null = null;
  private failing = false;
  private readonly fetch: typeof fetch;
  /** Reports the control plane accepted, for tests. */
  sent = 0;

  constructor(private readonly o: NodeStatsOptions) {
    this.fetch = o.fetch ?? fetch;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.tick(), this.o.intervalMs ?? 10_000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One period: gauges updated, then the report sent (resolves once it was answered or failed). */
  async tick(): Promise<StreamPeriod[]> {
    const periods = this.o.tracker.take(this.o.pipelines(), this.o.reportable);
    const { ingestBitrate, droppedFrames } = this.o.metrics;
    for (const p of periods) {
      if (p.ended) {
        ingestBitrate.remove({ stream: p.streamId });
        droppedFrames.remove({ stream: p.streamId });
        continue;
      }
      ingestBitrate.set({ stream: p.streamId }, p.ingestBitrateBps);
      droppedFrames.inc({ stream: p.streamId }, p.droppedFrames);
    }
    await this.report(periods);
    return periods;
  }

  private async report(periods: StreamPeriod[]): Promise<void> {
    const cp = this.o.controlPlane;
    const body = statsBody(periods);
    if (!cp || body.streams.length === 0) return;
    try {
      const res = await this.fetch(`${cp.baseUrl.replace(/\/+$/, "")}/api/v1/nodes/stats`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${cp.nodeToken}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 3000),
      });
      const text = await res.text();
      if (res.ok) {
        this.sent++;
        this.failing = false;
        return;
      }
      // A refusal names the problem (a stream the control plane gave to another node): worth a line every time.
      if (res.status < 500) this.o.logger.warn({ event: "node_stats_refused", status: res.status, body: text.slice(0, 300) }, "control plane refused a stats report");
      else throw new Error(`answered ${res.status}`);
    } catch (err) {
      if (!this.failing) this.o.logger.warn({ event: "node_stats_failed", error: err instanceof Error ? err.message : String(err) }, "could not send stream stats to the control plane");
      this.failing = true;
    }
  }
}
