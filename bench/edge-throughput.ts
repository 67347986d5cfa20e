/**
 * edge-throughput: how many cached LL-HLS parts per second one edge Worker instance (wrangler dev /
 * workerd, Cache API hits) serves, next to nginx serving the same bytes from disk on the same
 * machine, with the same keep-alive client in a separate process.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sleep } from "./lib/clock.ts";
import { startEdges, type RunningEdges } from "./lib/edges.ts";
import { nginxMissing, startNginx, type RunningNginx } from "./lib/nginx.ts";
import { loadOriginMedia } from "./lib/origin-media.ts";
import { NODE_SECRET, startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { OUT_DIR, ROOT, forkTs, groupCpuSeconds, readCpuSeconds, stopChild } from "./lib/proc.ts";
import { StreamPusher } from "./lib/pusher.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { countsText, fmt, ratio } from "./lib/stats.ts";
import type { FromThroughputChild, ThroughputResult, ThroughputStart } from "./lib/throughput-child.ts";

const STREAM_ID = "throughput";
/** Segments of parts pushed and served (2 × 4 parts of 0.5 s). */
const SEGMENTS = 2;

interface Settings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

const settingsFor = (quick: boolean): Settings => ({
  connections: envNumber("BENCH_THROUGHPUT_CONNECTIONS", quick ? 16 : 64, { min: 1, max: 4096, integer: true }),
  seconds: envNumber("BENCH_THROUGHPUT_SECONDS", quick ? 5 : 20, { min: 1, max: 600 }),
  warmupSeconds: quick ? 2 : 3,
});

interface Phase {
  server: "edge" | "nginx";
  result: ThroughputResult;
  serverCpuPercent: number;
  clientCpuPercent: number;
}

/** One measured run of the throughput client against host:port. */
const measure = async (
  server: Phase["server"],
  port: number,
  paths: string[],
  s: Settings,
  serverCpu: () => number,
  expectHeader: string | null,
): Promise<Phase> => {
  const child: ChildProcess = forkTs(path.join(ROOT, "bench/lib/throughput-child.ts"));
  try {
    const result = new Promise<ThroughputResult>((resolve, reject) => {
      child.once("message", (m: FromThroughputChild) => (m.type === "result" ? resolve(m) : reject(new Error(`throughput client failed: ${m.error}`))));
      child.once("exit", (code) => reject(new Error(`throughput client exited (${code})`)));
    });
    const start: ThroughputStart = { type: "start", host: "127.0.0.1", port, paths, connections: s.connections, warmupMs: s.warmupSeconds * 1000, durationMs: s.seconds * 1000, expectHeader };
    child.send(start);
    await sleep(s.warmupSeconds * 1000);
    const c0 = { server: serverCpu(), client: readCpuSeconds(child.pid!) ?? Number.NaN, at: performance.now() };
    await sleep(s.seconds * 1000);
    const c1 = { server: serverCpu(), client: readCpuSeconds(child.pid!) ?? Number.NaN, at: performance.now() };
    const secs = (c1.at - c0.at) / 1000;
    const r = await result;
    return { server, result: r, serverCpuPercent: ((c1.server - c0.server) / secs) * 100, clientCpuPercent: ((c1.client - c0.client) / secs) * 100 };
  } finally {
    await stopChild(child);
  }
};

const errorText = (e: Record<string, number>) => countsText(e) || "none";

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const missing = nginxMissing(false);
  if (missing) throw new Error(`edge-throughput needs ${missing}`);
  const media = await loadOriginMedia(log);
  const partsPerSegment = media.feeds[0]!.segments[0]!.length;
  const rendition = media.watched;
  const www = path.join(OUT_DIR, "edge-throughput-www");
  rmSync(www, { recursive: true, force: true });
  const origin: ServerProcess = await startOrigin("edge-throughput-origin");
  let edges: RunningEdges | null = null;
  let nginx: RunningNginx | null = null;
  let pusher: StreamPusher | null = null;
  const phases: Phase[] = [];
  const paths: string[] = [];
  let bytesPerPart = 0;
  try {
    // The parts: SEGMENTS whole segments of every rendition, pushed at once through the real push client.
    pusher = await StreamPusher.create({ baseUrl: origin.url, streamId: STREAM_ID, nodeSecret: NODE_SECRET, feeds: media.feeds, timing: media.timing });
    await pusher.announce();
    for (let i = 0; i <= SEGMENTS * partsPerSegment; i++) pusher.pushNextPart();
    for (let msn = 0; msn < SEGMENTS; msn++) for (let part = 0; part < partsPerSegment; part++) paths.push(`/hls/${STREAM_ID}/${rendition}/part${msn}.${part}.m4s`);
    const bodies = new Map<string, Buffer>();
    const deadline = Date.now() + 15_000;
    for (const p of paths) {
      for (;;) {
        const res = await fetch(`${origin.url}${p.replace(/^\/hls\//, "/live/")}`);
        const body = Buffer.from(await res.arrayBuffer());
        if (res.status === 200) {
          bodies.set(p, body);
          break;
        }
        if (Date.now() > deadline) throw new Error(`${p} not at the origin (${res.status})`);
        await sleep(100);
      }
    }
    bytesPerPart = [...bodies.values()].reduce((n, b) => n + b.length, 0) / bodies.size;

    // nginx: the same bytes as files under the same paths.
    for (const [p, body] of bodies) {
      const file = path.join(www, p);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, body);
    }
    nginx = await startNginx({ label: "edge-throughput", root: www, workers: 1 });
    edges = await startEdges("edge-throughput", 1, origin.url, log);
    const edge = edges.edges[0]!;

    // Fill the edge's cache (MISS), then check both servers answer every part with the same bytes, the edge from its cache.
    for (const p of paths) await (await fetch(`${edge.url}${p}`)).arrayBuffer();
    for (const [base, name] of [[edge.url, "edge"], [nginx.httpUrl, "nginx"]] as const) {
      for (const [p, body] of bodies) {
        const res = await fetch(`${base}${p}`);
        const got = Buffer.from(await res.arrayBuffer());
        if (res.status !== 200 || !got.equals(body)) throw new Error(`${name} answered ${p} with ${res.status}, ${got.length} bytes (expected ${body.length})`);
        if (name === "edge" && res.headers.get("x-cascade-cache") !== "HIT") throw new Error(`the edge did not answer ${p} from its cache (x-cascade-cache: ${res.headers.get("x-cascade-cache")})`);
      }
    }
    log(`${paths.length} ${rendition} parts (${fmt(bytesPerPart / 1024, 0)} KiB average) cached at ${edge.url} and on disk for nginx at ${nginx.httpUrl}`);

    const ng = nginx;
    for (const server of ["nginx", "edge"] as const) {
      log(`${server}: ${s.connections} keep-alive connections, ${s.warmupSeconds} s warm-up, ${s.seconds} s measured`);
      const phase =
        server === "edge"
          ? await measure("edge", edge.port, paths, s, () => groupCpuSeconds(edge.pgid), "x-cascade-cache: HIT")
          : await measure("nginx", Number(new URL(ng.httpUrl).port), paths, s, () => ng.cpuSeconds(), null);
      const r = phase.result;
      edges.check();
      if (r.requests === 0) throw new Error(`${server}: no successful request (${errorText(r.errors)})`);
      log(`  ${server}: ${fmt(r.requests / r.seconds, 0)} req/s, ${fmt(r.bytes / r.seconds / 1e6, 0)} MB/s, p50 ${fmt(r.latencyMs.p50)} ms, p99 ${fmt(r.latencyMs.p99)} ms, server CPU ${fmt(phase.serverCpuPercent, 0)} %, client CPU ${fmt(phase.clientCpuPercent, 0)} %, errors: ${errorText(r.errors)}`);
      phases.push(phase);
    }
  } finally {
    await pusher?.end();
    await edges?.stop();
    await nginx?.stop();
    await origin.stop();
  }

  const e = phases.find((p) => p.server === "edge")!;
  const n = phases.find((p) => p.server === "nginx")!;
  const rps = (p: Phase) => p.result.requests / p.result.seconds;
  const mbps = (p: Phase) => p.result.bytes / p.result.seconds / 1e6;
  const figures: Figure[] = [
    { figure: `cached part requests/s, ${s.connections} connections`, cascade: fmt(rps(e), 0), baseline: fmt(rps(n), 0), ratio: ratio(rps(e), rps(n)) },
    { figure: "throughput (MB/s)", cascade: fmt(mbps(e), 0), baseline: fmt(mbps(n), 0), ratio: ratio(mbps(e), mbps(n)) },
    { figure: "request latency p99 under that load", cascade: `${fmt(e.result.latencyMs.p99)} ms`, baseline: `${fmt(n.result.latencyMs.p99)} ms`, ratio: ratio(e.result.latencyMs.p99, n.result.latencyMs.p99) },
  ];
  const table: Table = {
    title: "Cached part throughput",
    columns: ["server", "requests", "req/s", "MB/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors", "server CPU", "client CPU"],
    rows: phases.map((p) => [
      p.server === "edge" ? "Cascade edge (1 × wrangler dev / workerd, Cache API hit)" : "nginx (1 worker, sendfile from disk)",
      String(p.result.requests),
      fmt(rps(p), 0),
      fmt(mbps(p), 0),
      fmt(p.result.latencyMs.p50),
      fmt(p.result.latencyMs.p90),
      fmt(p.result.latencyMs.p99),
      fmt(p.result.latencyMs.max),
      errorText(p.result.errors) + (p.result.unexpected ? `; ${p.result.unexpected} not from the cache` : ""),
      `${fmt(p.serverCpuPercent, 0)} %`,
      `${fmt(p.clientCpuPercent, 0)} %`,
    ]),
  };
  return {
    name: "edge-throughput",
    title: "Cached part throughput: one edge instance vs nginx",
    method:
      `${paths.length} LL-HLS parts of the ${rendition} rendition (real fMP4 from the benchmark media, ${fmt(bytesPerPart / 1024, 0)} KiB on average) are pushed to core-origin by the transcoder's push client, pulled once through one edge Worker (workerd via \`wrangler dev\`, as \`npm start\` runs it) so they sit in its Cache API, and written byte for byte to disk for nginx (Debian's nginx, 1 worker process, sendfile, keep-alive, access log off) under the same paths. ` +
      `A client process (bench/lib/throughput-child.ts, the benchmarks' minimal keep-alive HTTP/1.1 client) keeps ${s.connections} connections busy, one request in flight each, cycling over the parts: ${s.warmupSeconds} s warm-up, then ${s.seconds} s measured, nginx first, then the edge. Every edge answer is checked to come from its cache (x-cascade-cache: HIT). ` +
      "Server CPU is that of the whole process group (wrangler + workerd; nginx master + worker) over the window; 100 % = one core.",
    settings: `${s.connections} connections, ${s.warmupSeconds} s warm-up + ${s.seconds} s per server; ${paths.length} parts cycled`,
    figures,
    tables: [table],
    notes: [
      ...phases
        .filter((p) => p.clientCpuPercent >= 90)
        .map((p) => `${p.server}: the client process used ${fmt(p.clientCpuPercent, 0)} % of a core — the client, not the server, set this rate, so ${p.server}'s figure is a lower bound${p.server === "nginx" ? " and the ratio flatters the edge" : ""}.`),
      "The client, the server and (for the edge) wrangler's own proxy process share the machine's cores; the client CPU column shows whether the client itself was the limit.",
      "The edge serves from workerd's local Cache API implementation under `wrangler dev` (what `npm start` runs), not Cloudflare's production cache.",
    ],
  };
};

export const edgeThroughput: Benchmark = {
  name: "edge-throughput",
  title: "Cached part throughput: one edge instance vs nginx",
  summary: "requests/s of cached LL-HLS parts from one edge (wrangler dev) vs nginx from disk, 64 keep-alive connections, 20 s each",
  run,
};
