/**
 * origin-part-latency: how long after the packager finishes a part a blocked LL-HLS client has the
 * playlist that lists it, at the origin, with 1, 100 and 1,000 clients waiting — Cascade's
 * core-origin next to a minimal long-poll server under the same load.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { monoMs, sleep } from "./lib/clock.ts";
import { startLoadgen } from "./lib/loadgen.ts";
import { loadOriginMedia, type OriginMedia } from "./lib/origin-media.ts";
import { NODE_SECRET, startBaselineServer, startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { OUT_DIR, readCpuSeconds } from "./lib/proc.ts";
import { StreamPusher, partKey } from "./lib/pusher.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envIntList, envNumber } from "./lib/settings.ts";
import { countsText, fmt, median, ratio, summarize, type Summary } from "./lib/stats.ts";

const STREAM_ID = "bench";
type ServerKind = "cascade" | "baseline";

interface Settings {
  clients: number[];
  /** Seconds measured per phase (one server, one client count); raised for small client counts so every phase has ≥ minSamples. */
  measureSeconds: number;
  minSamples: number;
  warmupSeconds: number;
}

const settingsFor = (quick: boolean): Settings => ({
  clients: envIntList("BENCH_LATENCY_CLIENTS", quick ? [1, 20] : [1, 100, 1000], { min: 1, max: 5000 }),
  measureSeconds: envNumber("BENCH_LATENCY_SECONDS", quick ? 10 : 40, { min: 2, max: 3600 }),
  minSamples: quick ? 20 : 200,
  warmupSeconds: quick ? 2 : 5,
});

interface PhaseResult {
  kind: ServerKind;
  clients: number;
  latency: Summary;
  /** p50 of part 0 of each segment (pushed after the segment boundary POST) and of the other parts. */
  firstPartP50: number;
  otherPartsP50: number;
  /** Pusher start → the server acknowledged the watched rendition's PUT. */
  pushAck: Summary;
  samples: number;
  expected: number;
  errors: Record<string, number>;
  serverCpuPercent: number;
  pushProblems: string[];
  backpressured: number;
}

const runPhase = async (kind: ServerKind, clients: number, media: OriginMedia, s: Settings, log: (line: string) => void): Promise<PhaseResult> => {
  const label = `latency-${kind}-${clients}`;
  const server: ServerProcess = kind === "cascade" ? await startOrigin(label) : await startBaselineServer(label);
  try {
    const pusher = await StreamPusher.create({ baseUrl: server.url, streamId: STREAM_ID, nodeSecret: NODE_SECRET, feeds: media.feeds, timing: media.timing, watched: media.watched });
    await pusher.announce();
    const starts = new Map<string, number>();
    const loop = pusher.runRealtime((p) => starts.set(partKey(p.msn, p.part), p.startMs));
    try {
      const rampMs = clients <= 1 ? 0 : Math.min(5000, clients * 5);
      const loadgen = await startLoadgen(`${server.url}/live/${STREAM_ID}/${media.watched}/index.m3u8`, clients, rampMs);
      const partsPerSecond = 1 / media.timing.partTarget;
      const measureSeconds = Math.max(s.measureSeconds, Math.ceil(s.minSamples / (clients * partsPerSecond)));
      log(`  ${kind}, ${clients} client(s): all joined; warming up ${s.warmupSeconds} s, measuring ${measureSeconds} s`);
      let t0 = 0;
      let t1 = 0;
      let cpu0: number | null = null;
      let cpu1: number | null = null;
      try {
        await sleep(s.warmupSeconds * 1000);
        cpu0 = readCpuSeconds(server.pid);
        t0 = monoMs();
        await sleep(measureSeconds * 1000);
        t1 = monoMs();
        cpu1 = readCpuSeconds(server.pid);
      } catch (err) {
        await loadgen.stop().catch(() => undefined);
        throw err;
      }
      // Stop the clients while parts still flow, so each in-flight request is answered by the next part.
      const result = await loadgen.stop();
      const latencies: number[] = [];
      const byIndex = new Map<number, number[]>();
      const csv = ["msn,part,latency_ms,push_ack_ms"];
      const { records } = result;
      for (let i = 0; i + 2 < records.length; i += 3) {
        const key = partKey(records[i]!, records[i + 1]!);
        const start = starts.get(key);
        if (start === undefined || start < t0 || start >= t1) continue;
        const latency = records[i + 2]! - start;
        latencies.push(latency);
        const group = byIndex.get(records[i + 1]!);
        if (group) group.push(latency);
        else byIndex.set(records[i + 1]!, [latency]);
        csv.push(`${records[i]},${records[i + 1]},${latency.toFixed(3)},${((pusher.acks.get(key) ?? Number.NaN) - start).toFixed(3)}`);
      }
      writeFileSync(path.join(OUT_DIR, `${label}.csv`), csv.join("\n") + "\n");
      const inWindow = [...starts.entries()].filter(([, start]) => start >= t0 && start < t1);
      const pushAck = inWindow.flatMap(([key, start]) => {
        const ack = pusher.acks.get(key);
        return ack === undefined ? [] : [ack - start];
      });
      return {
        kind,
        clients,
        latency: summarize(latencies),
        firstPartP50: median(byIndex.get(0) ?? []),
        otherPartsP50: median([...byIndex.entries()].filter(([k]) => k > 0).flatMap(([, v]) => v)),
        pushAck: summarize(pushAck),
        samples: latencies.length,
        expected: inWindow.length * clients,
        errors: result.errors,
        serverCpuPercent: cpu0 !== null && cpu1 !== null ? ((cpu1 - cpu0) / ((t1 - t0) / 1000)) * 100 : Number.NaN,
        pushProblems: pusher.problems,
        backpressured: pusher.backpressured,
      };
    } finally {
      pusher.stop();
      await loop;
      await pusher.end();
    }
  } finally {
    await server.stop();
  }
};

const errorText = (e: Record<string, number>) => countsText(e) || "none";

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const media = await loadOriginMedia(log);
  const phases: PhaseResult[] = [];
  for (const [i, clients] of s.clients.entries()) {
    // Alternate which server goes first so slow drift in the machine's state does not favour one.
    const order: ServerKind[] = i % 2 === 0 ? ["cascade", "baseline"] : ["baseline", "cascade"];
    for (const kind of order) {
      log(`${kind} with ${clients} waiting client(s)`);
      const r = await runPhase(kind, clients, media, s, log);
      log(
        `  ${kind}, ${clients} client(s): p50 ${fmt(r.latency.p50)} ms, p99 ${fmt(r.latency.p99)} ms ` +
          `(${r.samples}/${r.expected} samples, server CPU ${fmt(r.serverCpuPercent, 0)} %, errors: ${errorText(r.errors)})`,
      );
      phases.push(r);
    }
  }
  const find = (kind: ServerKind, clients: number) => phases.find((p) => p.kind === kind && p.clients === clients)!;
  const detail: Table = {
    title: "Part-available-to-client latency (ms), per server and number of blocked clients",
    columns: ["clients", "server", "p50", "p90", "p99", "max", "p50 part 0 / others", "samples / expected", "push ack p50", "server CPU", "client errors"],
    rows: s.clients
      .flatMap((clients) => [find("cascade", clients), find("baseline", clients)])
      .map((p) => [
        String(p.clients),
        p.kind === "cascade" ? "Cascade core-origin" : "baseline long-poll",
        fmt(p.latency.p50),
        fmt(p.latency.p90),
        fmt(p.latency.p99),
        fmt(p.latency.max),
        `${fmt(p.firstPartP50)} / ${fmt(p.otherPartsP50)}`,
        `${p.samples} / ${p.expected}`,
        fmt(p.pushAck.p50),
        `${fmt(p.serverCpuPercent, 0)} %`,
        errorText(p.errors),
      ]),
  };
  const figures: Figure[] = s.clients.flatMap((clients) => {
    const c = find("cascade", clients);
    const b = find("baseline", clients);
    return (["p50", "p99"] as const).map((q) => ({
      figure: `latency ${q}, ${clients} client${clients === 1 ? "" : "s"}`,
      cascade: `${fmt(c.latency[q])} ms`,
      baseline: `${fmt(b.latency[q])} ms`,
      ratio: ratio(c.latency[q], b.latency[q]),
    }));
  });
  const most = Math.max(...s.clients);
  const cpuC = find("cascade", most).serverCpuPercent;
  const cpuB = find("baseline", most).serverCpuPercent;
  figures.push({ figure: `server CPU, ${most} client${most === 1 ? "" : "s"}`, cascade: `${fmt(cpuC, 0)} %`, baseline: `${fmt(cpuB, 0)} %`, ratio: ratio(cpuC, cpuB) });
  const notes: string[] = [];
  for (const p of phases) {
    if (p.pushProblems.length > 0) notes.push(`${p.kind}, ${p.clients} clients: the push client logged ${p.pushProblems.length} problem(s), first: ${p.pushProblems[0]}`);
    if (p.backpressured > 0) notes.push(`${p.kind}, ${p.clients} clients: the push queue was full ${p.backpressured} time(s) (the server fell behind the pushes)`);
  }
  notes.push(
    "Columns: \"p50 part 0 / others\" splits the first part of each segment (its PUT waits behind the segment-boundary POST, in the push client's per-rendition order, as in the transcoder) from the rest; \"push ack p50\" is hand-off to the push client → the server's answer to the top rendition's PUT, as the pusher sees it; server CPU is the server process's CPU time over the measured window. Raw samples: bench/out/latency-<server>-<clients>.csv.",
    "Samples / expected: one sample per client per part in the window. A client that was still busy with the previous response when a part landed asks for the newest part next, so it skips one; fewer samples than expected means clients fell behind.",
    "Both servers run as their own processes; the load generator is a third process and the pusher (the transcoder's real push client) runs in the benchmark process, all on the same machine, so at 1,000 clients the clients' CPU competes with the server's.",
  );
  return {
    name: "origin-part-latency",
    title: "Origin part-available-to-client latency",
    method:
      "A pusher plays a transcoder node: every 0.5 s it hands the next part of every rendition to the node's real push client " +
      "(gpu-transcoder/push/push-client.ts), which PUTs it to the server. N LL-HLS clients in a separate load-generator process " +
      "follow the top rendition with blocking playlist reloads (`_HLS_msn`/`_HLS_part` of the PRELOAD-HINT, like hls.js and AVPlayer). " +
      "Latency = monotonic time when a client has the whole playlist response that lists part (msn, part) minus the time the pusher handed that part to the push client " +
      "(CLOCK_MONOTONIC is one clock across processes). Cascade is core-origin started as `core-origin/main.ts` with its environment configuration; " +
      "the baseline is bench/lib/baseline-server.ts, a bare node:http long-poll server that answers a tiny pre-rendered playlist the moment the PUT body has arrived. " +
      `Media: ${media.describe}.`,
    settings: `${s.clients.join(", ")} blocked clients; per phase ${s.warmupSeconds} s warm-up then ≥ ${s.measureSeconds} s measured (longer for few clients, ≥ ${s.minSamples} samples); a fresh server process per phase; playlists fetched without gzip`,
    figures,
    tables: [detail],
    notes,
  };
};

export const originPartLatency: Benchmark = {
  name: "origin-part-latency",
  title: "Origin part-available-to-client latency",
  summary: "part pushed → blocked client has the playlist listing it, p50/p99 at 1/100/1000 clients, core-origin vs a minimal long-poll server",
  run,
};
