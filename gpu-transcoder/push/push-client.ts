import type { Logger } from "pino";
import { PUSH_HEADERS as H, pushPaths, type StreamManifest } from "../../shared/push-protocol.ts";
import type { PartSink, SinkPart, SinkSegment } from "../pipeline/part-sink.ts";

export interface PushItem {
  kind: "init" | "part" | "segment";
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | null;
  seq: number;
  /** For parts: index within the segment (0 starts a segment, where a resync may begin). */
  partIndex?: number;
  /** For inits, and part 0 of a segment: the pipeline's init version (the path/header add initBase). */
  initVersion?: number;
}

export interface PushClientOptions {
  streamId: string;
  /** Ordered origin base URLs; on repeated failure the client moves to the next (RETRY_WITH_ALTERNATE). */
  origins: string[];
  token: string;
  logger: Logger;
  /** Pending items per rendition above which `enqueue` reports backpressure. */
  highWaterMark?: number;
  /** Consecutive failed attempts on one origin before failing over. */
  failoverAfter?: number;
  /**
   * Complete segments kept for a resync besides the current one (default 2): an origin that died
   * may have acknowledged them without archiving them yet, so the standby (or the restarted origin)
   * gets them again; the archive's object keys make the second copy harmless.
   */
  replaySegments?: number;
  requestTimeoutMs?: number;
  onFailover?: (from: string, to: string) => void;
  onPushed?: (item: PushItem, ms: number) => void;
  /**
   * The origin already holds this stream up to a later MSN (another node ran it before a
   * failover, or this node's pipeline restarted): new segments must start at `msn` or later.
   */
  onNextMsn?: (msn: number) => void;
  /** A thumbnail reached the origin (`ok`), or was given up (`dropped`: the next one replaces it). */
  onThumbnail?: (outcome: "ok" | "dropped", ms: number) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class PushError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The origin's `next_msn`, when it refused a part from an earlier run. */
    readonly nextMsn: number | null = null,
  ) {
    super(message);
  }
}

/** Another queue failed over while this one was retrying: start over (resync) on the new origin. */
class EpochChanged extends Error {}

/** A non-negative integer field of an origin JSON answer (`next_msn`, `next_init_version`), or null. */
const numberField = (text: string, field: "next_msn" | "next_init_version"): number | null => {
  try {
    const v = (JSON.parse(text) as Record<string, unknown>)[field];
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : null;
  } catch {
    return null;
  }
};
const nextMsnOf = (text: string): number | null => numberField(text, "next_msn");

/** One rendition's ordered queue plus what a resync must replay (init + the current segment). */
class RenditionQueue {
  pending: PushItem[] = [];
  seq = 0;
  init: PushItem | null = null;
  currentSegment: PushItem[] = [];
  /** The last complete segments (parts + boundary), replayed with the current one after a failover. */
  recentSegments: PushItem[][] = [];
  epochSeen = 0;
  /** replay: resend init and the current segment; skip: drop up to the next segment start. */
  needsResync: "replay" | "skip" | null = null;
  running = false;
  drainWaiters: Array<() => void> = [];
  constructor(readonly name: string) {}
}

/**
 * Pushes inits, parts and segment boundaries to core-origin: ordered per rendition, concurrent
 * across renditions, idempotent retries (same seq), bounded queues with backpressure, and failover
 * through the ordered origin list with a resync (manifest, init, current segment from part 0).
 */
export class PushClient implements PartSink {
  private originIndex = 0;
  private epoch = 0;
  private manifest: StreamManifest | null = null;
  private manifestSent: { epoch: number; promise: Promise<void> } | null = null;
  private readonly queues = new Map<string, RenditionQueue>();
  private closed = false;
  /** Added to every init version this client sends (see ensureManifest); fixed once an init was sent. */
  private initBase = 0;
  private initSent = false;
  private readonly highWaterMark: number;
  private readonly failoverAfter: number;
  private readonly timeoutMs: number;
  /** Thumbnails: one slot, latest wins, one request at a time, apart from the rendition queues. */
  private readonly thumb: { latest: Uint8Array | null; sending: Promise<void> | null } = { latest: null, sending: null };

  constructor(private readonly o: PushClientOptions) {
    if (o.origins.length === 0) throw new Error("push client needs at least one origin");
    this.highWaterMark = o.highWaterMark ?? 40;
    this.failoverAfter = o.failoverAfter ?? 3;
    this.timeoutMs = o.requestTimeoutMs ?? 5000;
  }

  get currentOrigin(): string {
    return this.o.origins[this.originIndex]!;
  }

  pendingCount(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.pending.length;
    return n;
  }

  /** When the oldest part the origin has not acknowledged yet was cut (epoch ms), or null (metrics). */
  oldestPendingPartAt(): number | null {
    let oldest: number | null = null;
    for (const q of this.queues.values()) {
      const at = Number(q.pending.find((i) => i.kind === "part")?.headers[H.producedAt]);
      if (Number.isFinite(at) && (oldest === null || at < oldest)) oldest = at;
    }
    return oldest;
  }

  private queue(rendition: string): RenditionQueue {
    let q = this.queues.get(rendition);
    if (!q) {
      q = new RenditionQueue(rendition);
      this.queues.set(rendition, q);
    }
    return q;
  }

  /** Sets (or replaces) the stream manifest; every rendition waits until the current origin has it. */
  setManifest(manifest: StreamManifest): Promise<void> {
    this.manifest = manifest;
    this.manifestSent = null;
    this.manifestArrived?.();
    return this.ensureManifest();
  }

  private manifestArrived: (() => void) | null = null;
  private readonly manifestReady = new Promise<void>((resolve) => (this.manifestArrived = resolve));

  private async ensureManifest(): Promise<void> {
    if (!this.manifest) await this.manifestReady;
    if (this.manifestSent && this.manifestSent.epoch === this.epoch) return this.manifestSent.promise;
    const epoch = this.epoch;
    const body = new TextEncoder().encode(JSON.stringify(this.manifest));
    const promise = this.withRetries("manifest", async () => {
      const answer = await this.send("PUT", pushPaths.manifest(this.o.streamId), { "content-type": "application/json" }, body);
      // Before this client's first init went out: number inits after the earlier run's, which
      // another node may have pushed with different bytes under the same numbers.
      const initBase = numberField(answer, "next_init_version");
      if (initBase !== null && !this.initSent) this.initBase = initBase;
      const next = nextMsnOf(answer);
      if (next !== null && next > 0) this.o.onNextMsn?.(next);
    }).catch((err) => {
      if (this.manifestSent?.epoch === epoch) this.manifestSent = null;
      throw err;
    });
    this.manifestSent = { epoch, promise };
    return promise;
  }

  pushInit(rendition: string, version: number, bytes: Uint8Array): boolean {
    const q = this.queue(rendition);
    const item: PushItem = { kind: "init", path: "", headers: {}, body: bytes, seq: 0, initVersion: version };
    q.init = item;
    return this.enqueue(q, item);
  }

  pushPart(rendition: string, p: SinkPart): boolean {
    const q = this.queue(rendition);
    const headers: Record<string, string> = {
      [H.partDuration]: p.duration.toFixed(6),
      [H.producedAt]: String(Date.now()),
    };
    if (p.independent) headers[H.independent] = "1";
    if (p.part === 0) {
      headers[H.programDateTime] = new Date(p.programDateTimeMs ?? Date.now()).toISOString();
      if (p.discontinuity) {
        headers[H.discontinuity] = "1";
        // A new run may follow an origin restart or a gap: let it start a fresh run there.
        headers[H.resync] = "1";
      }
    }
    const item: PushItem = {
      kind: "part",
      path: pushPaths.part(this.o.streamId, rendition, p.msn, p.part),
      headers,
      body: p.bytes,
      seq: ++q.seq,
      partIndex: p.part,
      ...(p.part === 0 && p.initVersion !== undefined ? { initVersion: p.initVersion } : {}),
    };
    if (p.part === 0) {
      if (q.currentSegment.at(-1)?.kind === "segment") {
        q.recentSegments.push(q.currentSegment);
        // Some of these may still be queued; a resync replays the newest ones the origin had acknowledged.
        q.recentSegments.splice(0, Math.max(0, q.recentSegments.length - (this.o.replaySegments ?? 2) - 4));
      }
      q.currentSegment = [];
    }
    q.currentSegment.push(item);
    return this.enqueue(q, item);
  }

  pushSegment(rendition: string, s: SinkSegment): boolean {
    const q = this.queue(rendition);
    const item: PushItem = {
      kind: "segment",
      path: pushPaths.segment(this.o.streamId, rendition, s.msn),
      headers: {
        [H.segmentDuration]: s.duration.toFixed(6),
        [H.peakBitrate]: String(Math.round(s.peakBitrate)),
        [H.averageBitrate]: String(Math.round(s.averageBitrate)),
        ...(s.gapProgramDateTimeMs !== undefined ? { [H.gap]: "1", [H.programDateTime]: new Date(s.gapProgramDateTimeMs).toISOString() } : {}),
      },
      body: null,
      seq: ++q.seq,
    };
    q.currentSegment.push(item);
    return this.enqueue(q, item);
  }

  /**
   * Sends the stream's latest thumbnail. Never holds back parts: it has its own single slot (a
   * newer image replaces one not yet sent; latest wins), is not counted in `pendingCount`, and
   * never causes a failover (it follows the parts' current origin). It waits for the manifest,
   * since the origin only takes thumbnails for streams it knows; a failed one is retried once
   * unless a newer image is already waiting.
   */
  pushThumbnail(bytes: Uint8Array): void {
    if (this.closed) return;
    this.thumb.latest = bytes;
    if (!this.thumb.sending) this.startThumbnails();
  }

  private startThumbnails(): void {
    this.thumb.sending = this.sendThumbnails().finally(() => {
      this.thumb.sending = null;
      // One may have arrived between the loop's last check and now.
      if (this.thumb.latest && !this.closed) this.startThumbnails();
    });
  }

  /** Resolves when no thumbnail is waiting or being sent (tests). */
  async thumbnailsIdle(): Promise<void> {
    while (this.thumb.sending) await this.thumb.sending;
  }

  private async sendThumbnails(): Promise<void> {
    let retried: Uint8Array | null = null;
    while (this.thumb.latest && !this.closed) {
      const bytes = this.thumb.latest;
      this.thumb.latest = null;
      const started = performance.now();
      try {
        await this.ensureManifest();
        await this.send("PUT", pushPaths.thumbnail(this.o.streamId), { "content-type": "image/jpeg" }, bytes);
        this.o.onThumbnail?.("ok", performance.now() - started);
      } catch (err) {
        const status = err instanceof PushError ? err.status : 0;
        const retry = !this.closed && this.thumb.latest === null && retried !== bytes && (status === 0 || status === 409 || status >= 500);
        this.o.logger.warn({ event: "thumbnail_push_failed", stream: this.o.streamId, status, retry, err: (err as Error).message }, "thumbnail push failed");
        if (retry) {
          retried = bytes;
          await sleep(500);
          // A 409: the origin lost the stream; parts resend the manifest, and so may we.
          if (status === 409) this.manifestSent = null;
          this.thumb.latest ??= bytes;
        } else {
          this.o.onThumbnail?.("dropped", performance.now() - started);
        }
      }
    }
  }

  /** Resolves once the rendition's queue is below the high-water mark again. */
  drained(rendition: string): Promise<void> {
    const q = this.queue(rendition);
    if (q.pending.length < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve) => q.drainWaiters.push(resolve));
  }

  /** Waits until every queue is empty (or the timeout passes). */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pendingCount() > 0 && Date.now() < deadline) await sleep(20);
    return this.pendingCount() === 0;
  }

  async endRendition(rendition: string): Promise<void> {
    await this.flush();
    await this.withRetries("rendition end", () => this.send("POST", pushPaths.renditionEnd(this.o.streamId, rendition), {}, null));
    this.queues.delete(rendition);
  }

  async endStream(): Promise<void> {
    await this.flush();
    await this.withRetries("stream end", () => this.send("POST", pushPaths.end(this.o.streamId), {}, null));
    this.close();
  }

  close(): void {
    this.closed = true;
    this.thumb.latest = null;
    for (const q of this.queues.values()) q.drainWaiters.splice(0).forEach((w) => w());
  }

  private enqueue(q: RenditionQueue, item: PushItem): boolean {
    q.pending.push(item);
    if (!q.running) void this.run(q);
    return q.pending.length < this.highWaterMark;
  }

  private async run(q: RenditionQueue): Promise<void> {
    q.running = true;
    try {
      while (q.pending.length > 0 && !this.closed) {
        if (q.epochSeen !== this.epoch || q.needsResync) this.rebuildForResync(q, q.needsResync ?? "replay");
        const item = q.pending[0];
        if (!item) break;
        const epoch = this.epoch;
        try {
          await this.ensureManifest();
          if (epoch !== this.epoch) continue; // failed over meanwhile: resync first
          const started = performance.now();
          const headers = item.kind === "init" ? item.headers : { ...item.headers, [H.seq]: String(item.seq) };
          if (item.kind === "part" && item.initVersion !== undefined) headers[H.initVersion] = String(item.initVersion + this.initBase);
          const path = item.kind === "init" ? pushPaths.init(this.o.streamId, q.name, item.initVersion! + this.initBase) : item.path;
          if (item.kind === "init") this.initSent = true;
          // Retries stay on the origin this item started on; a failover by another queue meanwhile
          // ends them (EpochChanged), so this queue resyncs with the new origin instead of sending
          // it a part or boundary of a segment it never saw the start of.
          const origin = this.currentOrigin;
          try {
            await this.withRetries(`${q.name} ${item.kind}`, () => this.send(item.kind === "segment" ? "POST" : "PUT", path, headers, item.body, origin), epoch);
          } catch (err) {
            if (err instanceof EpochChanged) continue;
            if (!(err instanceof PushError && err.status >= 400 && err.status < 500) && !this.closed && epoch === this.epoch) this.failover();
            if (!(err instanceof PushError && err.status >= 400 && err.status < 500)) continue;
            throw err;
          }
          this.o.onPushed?.(item, performance.now() - started);
          q.pending.shift();
        } catch (err) {
          if (this.closed) break;
          if (err instanceof PushError && err.status === 409) {
            // The origin lost our state (restart): resend manifest and init, replay from part 0.
            this.manifestSent = null;
            q.needsResync = "replay";
            continue;
          }
          if (err instanceof PushError && err.status >= 400 && err.status < 500) {
            // A push the origin will never take (a bug, not a transient): drop it and resync at the next segment.
            this.o.logger.error({ event: "push_rejected", stream: this.o.streamId, rendition: q.name, kind: item.kind, status: err.status, err: err.message }, "origin rejected a push");
            q.pending.shift();
            q.currentSegment = q.currentSegment.filter((i) => i !== item);
            q.needsResync = "skip";
            if (err.nextMsn !== null) this.o.onNextMsn?.(err.nextMsn);
            continue;
          }
          // The manifest could not reach this origin either: fail over (once, whichever queue saw it first).
          if (epoch === this.epoch) this.failover();
        }
        if (q.pending.length < this.highWaterMark) q.drainWaiters.splice(0).forEach((w) => w());
      }
    } finally {
      q.running = false;
      q.drainWaiters.splice(0).forEach((w) => w());
    }
  }

  /** After a failover or a lost origin state, the queue restarts at a segment start with init first. */
  private rebuildForResync(q: RenditionQueue, mode: "replay" | "skip"): void {
    q.epochSeen = this.epoch;
    q.needsResync = null;
    const firstPending = q.pending[0];
    // Replay the recent and current segments from part 0 (the new origin has never seen them), then whatever was queued after.
    // From the oldest of the last `replaySegments` segments the origin acknowledged, in order.
    const acknowledged = q.recentSegments.filter((seg) => seg.every((i) => !q.pending.includes(i))).slice(-(this.o.replaySegments ?? 2));
    const from = acknowledged.length > 0 ? q.recentSegments.indexOf(acknowledged[0]!) : q.recentSegments.length;
    const replay = mode === "replay" ? [...q.recentSegments.slice(from).flat(), ...q.currentSegment].filter((i) => !q.pending.includes(i)) : [];
    let items = [...replay, ...q.pending.filter((i) => i.kind !== "init")];
    const start = items.findIndex((i) => i.kind === "part" && i.partIndex === 0);
    items = start >= 0 ? items.slice(start) : [];
    const first = items[0];
    if (first) first.headers = { ...first.headers, [H.resync]: "1" };
    q.pending = q.init ? [q.init, ...items] : items;
    if (firstPending !== q.pending[0] || replay.length > 0) {
      this.o.logger.info({ event: "push_resync", stream: this.o.streamId, rendition: q.name, origin: this.currentOrigin, replayed: replay.length }, "resyncing rendition with origin");
    }
  }

  private failover(): void {
    const from = this.currentOrigin;
    this.originIndex = (this.originIndex + 1) % this.o.origins.length;
    this.epoch++;
    this.manifestSent = null;
    this.o.logger.warn({ event: "origin_failover", stream: this.o.streamId, from, to: this.currentOrigin }, "failing over to the next origin");
    this.o.onFailover?.(from, this.currentOrigin);
  }

  private async withRetries(what: string, attempt: () => Promise<unknown>, epoch?: number): Promise<void> {
    let delay = 100;
    for (let i = 1; ; i++) {
      try {
        await attempt();
        return;
      } catch (err) {
        const status = err instanceof PushError ? err.status : 0;
        if ((status >= 400 && status < 500) || this.closed) throw err;
        if (epoch !== undefined && epoch !== this.epoch) throw new EpochChanged();
        if (i >= this.failoverAfter) throw err;
        this.o.logger.warn({ event: "push_retry", stream: this.o.streamId, what, attempt: i, status, err: (err as Error).message }, "push failed, retrying");
        await sleep(delay + Math.random() * delay * 0.2);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }

  /** One request; resolves with the answer's text, throws PushError on a non-2xx answer. */
  private async send(method: string, path: string, headers: Record<string, string>, body: Uint8Array | null, origin = this.currentOrigin): Promise<string> {
    const res = await fetch(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.o.token}`, ...(body ? { "content-type": "application/octet-stream" } : {}), ...headers },
      body: body as Uint8Array<ArrayBuffer> | null,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.ok) return res.text();
    const text = await res.text().catch(() => "");
    throw new PushError(res.status, `${method} ${path} → ${res.status} ${text.slice(0, 200)}`, nextMsnOf(text));
  }
}
