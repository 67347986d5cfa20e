import type { StreamEvent } from "../../shared/events.ts";
import type { IngestLogger } from "../ingest/types.ts";

/** Pipeline events the control plane's go-live saga acts on (the rest stay local). */
export const REPORTED_EVENTS: ReadonlySet<StreamEvent["type"]> = new Set(["stream_started", "stream_ended", "stream_failed", "connection_lost", "connection_restored", "quality_changed", "error"]);

export interface StreamReporterOptions {
  baseUrl: string;
  nodeToken: string;
  logger: IngestLogger;
  /** Per request. Default 3 s. */
  timeoutMs?: number;
  /** Tries per report (network errors and 5xx). Default 3. */
  attempts?: number;
  fetch?: typeof fetch;
}

/**
 * Tells the control plane what happens to a stream's pipeline: publish started/lost/restored,
 * quality changes, the end (`POST /api/v1/nodes/events` with the node token). Reports of one
 * stream are sent in order; nothing here ever blocks ingest. A 404 means the control plane does
 * not know the stream (a key from the node's local list, such as `npm start`'s `demo`): ignored.
 */
export class StreamReporter {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly fetch: typeof fetch;
  /** Reports the control plane accepted, for tests and metrics. */
  sent = 0;

  constructor(private readonly o: StreamReporterOptions) {
    this.fetch = o.fetch ?? fetch;
  }

  report(e: StreamEvent): void {
    if (!REPORTED_EVENTS.has(e.type)) return;
    const previous = this.chains.get(e.streamId) ?? Promise.resolve();
    const next = previous.then(() => this.send(e));
    this.chains.set(e.streamId, next);
    void next.finally(() => {
      if (this.chains.get(e.streamId) === next) this.chains.delete(e.streamId);
    });
  }

  /** Resolves when every queued report has been sent or given up on. */
  async flush(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  private async send(e: StreamEvent): Promise<void> {
    const attempts = this.o.attempts ?? 3;
    for (let i = 1; i <= attempts; i++) {
      try {
        const res = await this.fetch(`${this.o.baseUrl.replace(/\/+$/, "")}/api/v1/nodes/events`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${this.o.nodeToken}` },
          body: JSON.stringify({ stream_id: e.streamId, type: e.type, severity: e.severity, data: e.data }),
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 3000),
        });
        await res.body?.cancel();
        if (res.ok) {
          this.sent++;
          return;
        }
        if (res.status === 404) return; // not a control-plane stream
        if (res.status < 500) {
          this.o.logger.warn({ event: "stream_report_refused", stream: e.streamId, type: e.type, status: res.status }, "control plane refused a stream report");
          return;
        }
      } catch {
        // retried below
      }
      if (i < attempts) await new Promise((r) => setTimeout(r, 200 * i));
    }
    this.o.logger.warn({ event: "stream_report_failed", stream: e.streamId, type: e.type }, "could not report a stream event to the control plane");
  }
}
