import type { IngestLogger } from "../ingest/types.ts";

/** What the node reports in every heartbeat (the control plane's `NodeCapacity`). */
export interface NodeCapacityReport {
  slots: number;
  slots_used: number;
  encoder: string;
  load: number;
  speed: number;
}

/** Sent once at registration, with the capacity. */
export interface NodeDescription {
  control_url: string;
  rtmp_url: string;
  version: string;
}

export interface HeartbeatOptions {
  baseUrl: string;
  nodeToken: string;
  describe: () => NodeDescription;
  capacity: () => NodeCapacityReport;
  logger: IngestLogger;
  /** Until the control plane names its own interval. Default 10 s. */
  intervalMs?: number;
  /** Per request. Default 3 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

/**
 * Registers the node with the control plane and heartbeats its capacity (slots, encoder, load,
 * speed). A heartbeat answered 404 (the control plane forgot the node) registers again; failures
 * are logged once per outage and retried on the next beat. Nothing blocks ingest meanwhile.
 */
export class NodeHeartbeat {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private registered = false;
  private failing = false;
  private everReached = false;
  private stopped = true;
  private intervalMs: number;
  private readonly fetch: typeof fetch;
  /** Beats sent so far (register + heartbeat), for tests and metrics. */
  beats = 0;

  constructor(private readonly o: HeartbeatOptions) {
    this.intervalMs = o.intervalMs ?? 10_000;
    this.fetch = o.fetch ?? fetch;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.tick();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  private async tick(): Promise<void> {
    try {
      if (!this.registered) await this.register();
      else await this.heartbeat();
      if (this.failing && this.everReached) this.o.logger.info({ event: "control_plane_reachable" }, "control plane reachable again");
      this.failing = false;
      this.everReached = true;
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      // At start the control plane (an edge) may simply not be up yet: say so quietly, once.
      if (!this.failing && !this.everReached) this.o.logger.info({ event: "control_plane_waiting", error }, "waiting for the control plane");
      else if (!this.failing) this.o.logger.warn({ event: "control_plane_unreachable", error }, "node heartbeat failed; retrying");
      this.failing = true;
    }
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), this.intervalMs);
    this.timer.unref?.();
  }

  private async post(path: string, body: object): Promise<Response> {
    this.beats++;
    return this.fetch(`${this.o.baseUrl.replace(/\/+$/, "")}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${this.o.nodeToken}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 3000),
    });
  }

  /** Follows the interval the control plane asks for, unless one was configured. */
  private adopt(body: unknown): void {
    const interval = (body as { heartbeat_interval_s?: unknown } | null)?.heartbeat_interval_s;
    if (typeof interval === "number" && interval >= 1 && interval <= 300 && this.o.intervalMs === undefined) this.intervalMs = interval * 1000;
  }

  private async register(): Promise<void> {
    const res = await this.post("/api/v1/nodes/register", { ...this.o.describe(), ...this.o.capacity() });
    const body: unknown = await res.json().catch(() => null);
    if (res.status !== 200) throw new Error(`register answered ${res.status}`);
    this.registered = true;
    this.adopt(body);
    this.o.logger.info({ event: "node_registered" }, "registered with the control plane");
  }

  private async heartbeat(): Promise<void> {
    const res = await this.post("/api/v1/nodes/heartbeat", this.o.capacity());
    const body: unknown = await res.json().catch(() => null);
    if (res.status === 404) {
      this.registered = false;
      await this.register();
      return;
    }
    if (res.status !== 200) throw new Error(`heartbeat answered ${res.status}`);
    this.adopt(body);
  }
}
