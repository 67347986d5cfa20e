import type { ChildProcess } from "node:child_process";
import path from "node:path";
import type { FromPlayerLoadgen, PlayerLoadgenResult, PlayerLoadgenStart, PlayerTarget, TargetTally, ToPlayerLoadgen } from "./player-loadgen-protocol.ts";
import { ROOT, forkTs, readCpuSeconds, stopChild } from "./proc.ts";
import { messageWaiter } from "./child-message.ts";

/** Per target label, merged over the load-generator processes. */
export interface MergedTally extends Omit<TargetTally, "blockingKeys" | "partKeys"> {
  blockingKeys: Set<string>;
  partKeys: Set<string>;
}

export interface PlayerLoadgenOutcome {
  /** Quadruples as in PlayerLoadgenResult, target indices mapped onto `labels`. */
  playlistRecords: number[];
  partRecords: number[];
  labels: string[];
  tallies: Map<string, MergedTally>;
}

export interface RunningPlayerLoadgen {
  readyAtMs: number;
  /** CPU seconds the load-generator processes have used so far. */
  cpuSeconds(): number;
  stop(): Promise<PlayerLoadgenOutcome>;
}

const nextMessage = messageWaiter<FromPlayerLoadgen>("load generator");

/** Splits every target's clients over `processes` children (as evenly as possible). */
const split = (targets: PlayerTarget[], processes: number): PlayerTarget[][] =>
  Array.from({ length: processes }, (_, p) =>
    targets.map((t) => ({ ...t, clients: Math.floor(t.clients / processes) + (p < t.clients % processes ? 1 : 0) })).filter((t) => t.clients > 0),
  ).filter((ts) => ts.length > 0);

/** Starts the simulated players in `processes` child processes; resolves once every client has joined. */
export const startPlayerLoadgen = async (cfg: Omit<PlayerLoadgenStart, "type">, processes: number): Promise<RunningPlayerLoadgen> => {
  const children: ChildProcess[] = [];
  const kill = () => Promise.all(children.map((c) => stopChild(c)));
  let readyAtMs = 0;
  try {
    const ready: Promise<{ atMs: number }>[] = [];
    for (const targets of split(cfg.targets, processes)) {
      const child = forkTs(path.join(ROOT, "bench/lib/player-loadgen-child.ts"));
      children.push(child);
      ready.push(nextMessage(child, "ready", 90_000 + cfg.rampMs));
      const msg: ToPlayerLoadgen = { type: "start", ...cfg, targets };
      child.send(msg);
    }
    readyAtMs = Math.max(...(await Promise.all(ready)).map((r) => r.atMs));
  } catch (err) {
    await kill();
    throw err;
  }
  return {
    readyAtMs,
    cpuSeconds: () => children.reduce((n, c) => n + (readCpuSeconds(c.pid!) ?? 0), 0),
    async stop() {
      const results = children.map((c) => nextMessage(c, "result", cfg.playlistTimeoutMs + 30_000));
      for (const c of children) c.send({ type: "stop" } satisfies ToPlayerLoadgen);
      let all: PlayerLoadgenResult[];
      try {
        all = await Promise.all(results);
      } finally {
        await kill();
      }
      const labels = cfg.targets.map((t) => t.label);
      const outcome: PlayerLoadgenOutcome = { playlistRecords: [], partRecords: [], labels, tallies: new Map() };
      for (const r of all) {
        const map = r.targets.map((l) => labels.indexOf(l));
        for (const [from, to] of [[r.playlistRecords, outcome.playlistRecords], [r.partRecords, outcome.partRecords]] as const) {
          for (let i = 0; i + 3 < from.length; i += 4) to.push(map[from[i]!]!, from[i + 1]!, from[i + 2]!, from[i + 3]!);
        }
        r.tallies.forEach((t, i) => {
          const label = r.targets[i]!;
          const m = outcome.tallies.get(label);
          if (!m) {
            outcome.tallies.set(label, { ...t, sent: { ...t.sent }, cache: { ...t.cache }, errors: { ...t.errors }, blockingKeys: new Set(t.blockingKeys), partKeys: new Set(t.partKeys) });
            return;
          }
          for (const k of ["plain", "blocking", "part"] as const) m.sent[k] += t.sent[k];
          for (const [k, v] of Object.entries(t.cache)) m.cache[k] = (m.cache[k] ?? 0) + v;
          for (const [k, v] of Object.entries(t.errors)) m.errors[k] = (m.errors[k] ?? 0) + v;
          for (const k of t.blockingKeys) m.blockingKeys.add(k);
          for (const k of t.partKeys) m.partKeys.add(k);
          m.partNotListed += t.partNotListed;
          m.partSkipped += t.partSkipped;
          m.bodyBytes += t.bodyBytes;
        });
      }
      return outcome;
    },
  };
};
