/**
 * Throughput client process (edge-throughput): N keep-alive connections, each sending GETs back to
 * back (one in flight per connection) over a list of paths, for a warm-up and then a measured
 * window. The same minimal client (http-client.ts) for every server, in its own process so its CPU
 * is not charged to the server. Reports requests/s, bytes/s, latency percentiles and errors.
 * Only node: modules and small helpers here.
 */
import { monoMs, sleep } from "./clock.ts";
import { KeepAliveClient } from "./http-client.ts";
import { summarize, type Summary } from "./stats.ts";

export interface ThroughputStart {
  type: "start";
  host: string;
  port: number;
  paths: string[];
  connections: number;
  warmupMs: number;
  durationMs: number;
  /** A response header line every answer must carry (e.g. `x-cascade-cache: HIT`); others are counted. */
  expectHeader: string | null;
}

export interface ThroughputResult {
  type: "result";
  requests: number;
  bytes: number;
  seconds: number;
  latencyMs: Summary;
  errors: Record<string, number>;
  /** Answers without `expectHeader`. */
  unexpected: number;
}

export type FromThroughputChild = ThroughputResult | { type: "failed"; error: string };

const run = async (cfg: ThroughputStart): Promise<ThroughputResult> => {
  const errors: Record<string, number> = {};
  const latencies: number[] = [];
  const expect = cfg.expectHeader?.toLowerCase() ?? null;
  let requests = 0;
  let bytes = 0;
  let unexpected = 0;
  let measuring = false;
  let running = true;
  const connection = async (i: number) => {
    const c = new KeepAliveClient(cfg.host, cfg.port);
    for (let k = i; running; k++) {
      const path = cfg.paths[k % cfg.paths.length]!;
      const sent = monoMs();
      try {
        const res = await c.get(path);
        if (!measuring) continue;
        if (res.status !== 200) {
          errors[res.status] = (errors[res.status] ?? 0) + 1;
          continue;
        }
        if (expect && !res.head.toLowerCase().includes(`\r\n${expect}`)) unexpected++;
        requests++;
        bytes += res.body.length;
        latencies.push(monoMs() - sent);
      } catch (err) {
        if (measuring) errors[(err as Error).message] = (errors[(err as Error).message] ?? 0) + 1;
        await sleep(10);
      }
    }
    c.close();
  };
  const all = Array.from({ length: cfg.connections }, (_, i) => connection(i));
  await sleep(cfg.warmupMs);
  measuring = true;
  const t0 = monoMs();
  await sleep(cfg.durationMs);
  measuring = false;
  const seconds = (monoMs() - t0) / 1000;
  running = false;
  await Promise.race([Promise.all(all), sleep(5000)]);
  return { type: "result", requests, bytes, seconds, latencyMs: summarize(latencies), errors, unexpected };
};

const send = (msg: FromThroughputChild) => process.send!(msg, undefined, undefined, () => process.exit(0));
process.on("message", (msg: ThroughputStart) => {
  if (msg.type === "start") run(msg).then(send, (err: unknown) => send({ type: "failed", error: String((err as Error)?.stack ?? err) }));
});
process.on("disconnect", () => process.exit(0));
