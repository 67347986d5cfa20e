/**
 * Broadcast fan-out for one room shard, coalescing under load.
 *
 * A leading-edge throttle: when nothing was sent for `windowMs`, a frame goes out at once (no added
 * latency at low rates); frames that arrive sooner are gathered and sent together as one JSON array
 * per socket `windowMs` after the end of the previous send. Measuring from the end of the send matters
 * under overload: while a send to thousands of sockets runs, incoming frames queue up, and the next
 * send carries all of them instead of paying the per-socket cost once per frame (a rate-based
 * trigger measured on the room's clock switched itself off exactly then; see bench/chat-delivery.ts,
 * which also chose the default window). The same batch is relayed to the other shards in one call.
 */
import type { BroadcastFrame } from "../../chat/protocol.ts";

export interface FanoutOptions {
  /** Sends an already-serialised payload to every local socket. */
  send: (payload: string) => void;
  /** Passes frames that originated on this shard to the other shards (absent: single shard). */
  relay?: (frames: BroadcastFrame[]) => void;
  /** Coalescing window in ms; 0 sends every frame at once. */
  windowMs: number;
  now?: () => number;
}

export class Fanout {
  private pending: BroadcastFrame[] = [];
  private pendingRelay: BroadcastFrame[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the next send may go out at once. */
  private nextAllowed = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(private readonly o: FanoutOptions) {
    this.now = o.now ?? Date.now;
  }

  /** Broadcasts `frame` to this shard's sockets; `local` frames are also relayed to the other shards. */
  push(frame: BroadcastFrame, local: boolean): void {
    this.pending.push(frame);
    if (local && this.o.relay) this.pendingRelay.push(frame);
    if (this.timer !== null) return;
    const wait = this.nextAllowed - this.now();
    if (this.o.windowMs <= 0 || wait <= 0) return this.flush();
    this.timer = setTimeout(() => this.flush(), wait);
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
    this.nextAllowed = this.now() + this.o.windowMs;
  }

  get coalescing(): boolean {
    return this.timer !== null;
  }
}
