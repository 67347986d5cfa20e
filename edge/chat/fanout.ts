/**
 * Broadcast fan-out for one room shard, coalescing under load.
 *
 * At a low message rate each frame goes out at once (no added latency). When the shard has pushed
 * `highRate` or more frames within the last second, frames are gathered for `windowMs` and sent as
 * one JSON array per socket: with thousands of sockets, the per-send cost dominates, so one send of
 * N frames beats N sends (see bench/chat-delivery.ts, which picked the default window). The same
 * batch is handed to `relay` once, so shards exchange one call per window instead of one per frame.
 */
import type { BroadcastFrame } from "./protocol.ts";

export interface FanoutOptions {
  /** Sends an already-serialised payload to every local socket. */
  send: (payload: string) => void;
  /** Passes frames that originated on this shard to the other shards (absent: single shard). */
  relay?: (frames: BroadcastFrame[]) => void;
  /** Coalescing window in ms; 0 disables coalescing. */
  windowMs: number;
  /** Frames per second from which coalescing starts. */
  highRate?: number;
  now?: () => number;
}

export class Fanout {
  private readonly recent: number[] = [];
  private pending: BroadcastFrame[] = [];
  private pendingRelay: BroadcastFrame[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly highRate: number;
  private readonly now: () => number;

  constructor(private readonly o: FanoutOptions) {
    this.highRate = o.highRate ?? 10;
    this.now = o.now ?? Date.now;
  }

  /** Broadcasts `frame` to this shard's sockets; `local` frames are also relayed to the other shards. */
  push(frame: BroadcastFrame, local: boolean): void {
    const now = this.now();
    this.recent.push(now);
    while (this.recent.length > 0 && this.recent[0]! <= now - 1000) this.recent.shift();
    this.pending.push(frame);
    if (local && this.o.relay) this.pendingRelay.push(frame);
    if (this.timer !== null) return;
    if (this.o.windowMs <= 0 || this.recent.length < this.highRate) return this.flush();
    this.timer = setTimeout(() => this.flush(), this.o.windowMs);
  }

  /** Sends whatever is pending now. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const frames = this.pending;
    const relayed = this.pendingRelay;
    this.pending = [];
    this.pendingRelay = [];
    if (frames.length > 0) this.o.send(JSON.stringify(frames.length === 1 ? frames[0] : frames));
    if (relayed.length > 0) this.o.relay?.(relayed);
  }

  get coalescing(): boolean {
    return this.timer !== null;
  }
}
