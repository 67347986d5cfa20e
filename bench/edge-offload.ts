/**
 * edge-offload: 1,000 simulated LL-HLS players spread over 3 edge Workers (wrangler dev / workerd,
 * as `npm start -- --edges 3` runs them) in front of one core-origin with a live stream. How many
 * requests reach the origin per object per edge (goal: 1.00, one fill per object per edge), how
 * much latency the edge adds (the same client code direct to the origin, side by side in the same
 * run), and errors.
 */
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DEFAULT_LADDER } from "../shared/ladder.ts";
import { monoMs, sleep } from "./lib/clock.ts";
import { startEdges, type RunningEdges } from "./lib/edges.ts";
import { loadOriginMedia } from "./lib/origin-media.ts";
import { NODE_SECRET, startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { startPlayerLoadgen, type MergedTally, type PlayerLoadgenOutcome } from "./lib/player-loadgen.ts";
import type { PlayerTarget } from "./lib/player-loadgen-protocol.ts";
import { OUT_DIR, groupCpuSeconds, readCpuSeconds } from "./lib/proc.ts";
import { StreamPusher, partKey } from "./lib/pusher.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber, envWords } from "./lib/settings.ts";
import { countsText, fmt, ratio, summarize, type Summary } from "./lib/stats.ts";

const STREAM_ID = "offload";
const EDGES = 3;

interface Settings {
  clients: number;
  direct: number;
  seconds: number;
  warmupSeconds: number;
  rampSeconds: number;
  rendition: string;
  processes: number;
}

const RENDITIONS = DEFAULT_LADDER.video.map((r) => r.name);

const settingsFor = (quick: boolean): Settings => ({
  clients: envNumber("BENCH_OFFLOAD_CLIENTS", quick ? 100 : 1000, { min: EDGES, max: 20_000, integer: true }),
  direct: envNumber("BENCH_OFFLOAD_DIRECT", quick ? 10 : 50, { min: 1, max: 5000, integer: true }),
  seconds: envNumber("BENCH_OFFLOAD_SECONDS", quick ? 15 : 60, { min: 5, max: 3600, integer: true }),
  warmupSeconds: quick ? 3 : 5,
  rampSeconds: quick ? 5 : 10,
  rendition: envWords("BENCH_OFFLOAD_RENDITION", [RENDITIONS.at(-1)!], RENDITIONS)[0]!,
  processes: envNumber("BENCH_OFFLOAD_LOADGENS", 1, { min: 1, max: 8, integer: true }),
});

/** `cascade_origin_viewer_requests_total` summed over status classes, by resource kind. */
const viewerRequests = async (originUrl: string): Promise<Record<string, number>> => {
  const text = await (await fetch(`${originUrl}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^cascade_origin_viewer_requests_total\{([^}]*)\} (\S+)$/gm)) {
    const kind = /kind="([^"]+)"/.exec(m[1]!)?.[1] ?? "?";
    out[kind] = (out[kind] ?? 0) + Number(m[2]);
  }
  return out;
};

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
const errorText = (e: Record<string, number>) => countsText(e, { byCount: true }) || "none";

interface Latencies {
  edge: { part: Summary; playlist: Summary };
  direct: { part: Summary; playlist: Summary };
  perEdge: Map<string, Summary>;
}

/** Part-available (the pusher handed the part over) → the client has the part's bytes / the playlist listing it. */
const latencies = (o: PlayerLoadgenOutcome, starts: Map<string, number>, t0: number, t1: number): Latencies => {
  const collect = (records: number[]) => {
    const byLabel = new Map<string, number[]>();
    for (let i = 0; i + 3 < records.length; i += 4) {
      const start = starts.get(partKey(records[i + 1]!, records[i + 2]!));
      if (start === undefined || start < t0 || start >= t1) continue;
      const label = o.labels[records[i]!]!;
      const list = byLabel.get(label) ?? [];
      list.push(records[i + 3]! - start);
      byLabel.set(label, list);
    }
    return byLabel;
  };
  const parts = collect(o.partRecords);
  const playlists = collect(o.playlistRecords);
  const edgeOf = (m: Map<string, number[]>) => [...m.entries()].filter(([l]) => l !== "direct").flatMap(([, v]) => v);
  const csv = ["path,kind,latency_ms"];
  for (const [kind, m] of [["part", parts], ["playlist", playlists]] as const) for (const [label, v] of m) for (const x of v) csv.push(`${label},${kind},${x.toFixed(3)}`);
  writeFileSync(path.join(OUT_DIR, "edge-offload-latency.csv"), csv.join("\n") + "\n");
  return {
    edge: { part: summarize(edgeOf(parts)), playlist: summarize(edgeOf(playlists)) },
    direct: { part: summarize(parts.get("direct") ?? []), playlist: summarize(playlists.get("direct") ?? []) },
    perEdge: new Map([...parts.entries()].filter(([l]) => l !== "direct").map(([l, v]) => [l, summarize(v)])),
  };
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const media = await loadOriginMedia(log);
  const partsPerSecond = 1 / media.timing.partTarget;
  const origin: ServerProcess = await startOrigin("edge-offload-origin");
  let edges: RunningEdges | null = null;
  let pusher: StreamPusher | null = null;
  let loop: Promise<void> | null = null;
  const starts = new Map<string, number>();
  try {
    edges = await startEdges("edge-offload", EDGES, origin.url, log);
    pusher = await StreamPusher.create({ baseUrl: origin.url, streamId: STREAM_ID, nodeSecret: NODE_SECRET, feeds: media.feeds, timing: media.timing });
    await pusher.announce();
    loop = pusher.runRealtime((p) => starts.set(partKey(p.msn, p.part), p.startMs));
    // Two segments of stream before the players arrive, as a live stream has when viewers join.
    await sleep(2 * media.timing.segmentDuration * 1000);

    const before = await viewerRequests(origin.url);
    const targets: PlayerTarget[] = [
      ...edges.edges.map((e, i) => ({
        label: e.name,
        baseUrl: e.url,
        streamPath: `/hls/${STREAM_ID}`,
        clients: Math.floor(s.clients / EDGES) + (i < s.clients % EDGES ? 1 : 0),
      })),
      { label: "direct", baseUrl: origin.url, streamPath: `/live/${STREAM_ID}`, clients: s.direct },
    ];
    log(`starting ${s.clients} players over ${EDGES} edges (${targets.slice(0, EDGES).map((t) => t.clients).join("/")}) and ${s.direct} direct to the origin, on ${s.rendition}, joining over ${s.rampSeconds} s`);
    const loadgen = await startPlayerLoadgen(
      { targets, rendition: s.rendition, rampMs: s.rampSeconds * 1000, playlistTimeoutMs: 3 * media.timing.targetDuration * 1000 + 4000, partTimeoutMs: 5000 },
      s.processes,
    );
    let outcome: PlayerLoadgenOutcome;
    let t0 = 0;
    let t1 = 0;
    const cpu = { edges: 0, origin: 0, loadgen: 0 };
    try {
      log(`all joined; warming up ${s.warmupSeconds} s, measuring ${s.seconds} s`);
      await sleep(s.warmupSeconds * 1000);
      const edgeCpu = () => sum(edges!.edges.map((e) => groupCpuSeconds(e.pgid)));
      const c0 = { edges: edgeCpu(), origin: readCpuSeconds(origin.pid) ?? Number.NaN, loadgen: loadgen.cpuSeconds() };
      t0 = monoMs();
      for (let left = s.seconds; left > 0; left -= 10) {
        await sleep(Math.min(10, left) * 1000);
        edges.check();
        const m = await viewerRequests(origin.url).catch(() => null);
        log(`  ${s.seconds - left + Math.min(10, left)}/${s.seconds} s: origin viewer requests so far ${m ? sum(Object.values(m)) - sum(Object.values(before)) : "?"}; push problems ${pusher.problems.length}`);
      }
      t1 = monoMs();
      const secs = (t1 - t0) / 1000;
      cpu.edges = ((edgeCpu() - c0.edges) / secs) * 100;
      cpu.origin = (((readCpuSeconds(origin.pid) ?? Number.NaN) - c0.origin) / secs) * 100;
      cpu.loadgen = ((loadgen.cpuSeconds() - c0.loadgen) / secs) * 100;
    } finally {
      // Stop the players while parts still flow, so every request in flight is answered (and counted by the origin).
      outcome = await loadgen.stop();
    }
    edges.check();
    // Fills started for the last requests land at the origin within a part.
    await sleep(1500);
    const after = await viewerRequests(origin.url);
    return report(s, media.describe, partsPerSecond, outcome, before, after, latencies(outcome, starts, t0, t1), cpu, pusher.problems, (t1 - t0) / 1000);
  } finally {
    pusher?.stop();
    await loop;
    await pusher?.end();
    await edges?.stop();
    await origin.stop();
  }
};

const report = (
  s: Settings,
  mediaDescribe: string,
  partsPerSecond: number,
  o: PlayerLoadgenOutcome,
  before: Record<string, number>,
  after: Record<string, number>,
  lat: Latencies,
  cpu: { edges: number; origin: number; loadgen: number },
  pushProblems: string[],
  measuredSeconds: number,
): BenchResult => {
  const delta = (kind: string) => (after[kind] ?? 0) - (before[kind] ?? 0);
  const tallies = [...o.tallies.entries()];
  const edgeTallies = tallies.filter(([l]) => l !== "direct");
  const direct: MergedTally = o.tallies.get("direct")!;
  const edgeSum = (f: (t: MergedTally) => number) => sum(edgeTallies.map(([, t]) => f(t)));

  // Origin's view: every viewer request it answered, minus the direct players' own requests (each
  // counted by the load generator), minus the edges' fills of the plain playlist on join (a
  // mutable object, refreshed every 0.5 × TD; known from the MISS answers of those requests).
  const partObjects = edgeSum((t) => t.partKeys.size);
  const blockingObjects = edgeSum((t) => t.blockingKeys.size);
  const plainFills = edgeSum((t) => t.cache["plain MISS"] ?? 0);
  const upstreamParts = delta("part") - direct.sent.part;
  const upstreamBlocking = delta("playlist") - direct.sent.plain - direct.sent.blocking - plainFills;
  const perPart = upstreamParts / partObjects;
  const perBlocking = upstreamBlocking / blockingObjects;
  const otherKinds = Object.keys({ ...before, ...after }).filter((k) => k !== "part" && k !== "playlist" && delta(k) !== 0);

  const offloadTable: Table = {
    title: "Requests reaching the origin per object per edge",
    columns: ["object", "distinct objects × edges", "client requests via edges", "origin requests from edges (origin metrics)", "per object per edge", "edges' MISS answers per object (per edge)"],
    rows: [
      [
        "part",
        String(partObjects),
        String(edgeSum((t) => t.sent.part)),
        String(upstreamParts),
        fmt(perPart, 3),
        edgeTallies.map(([l, t]) => `${l} ${fmt((t.cache["part MISS"] ?? 0) / t.partKeys.size, 3)}`).join(", "),
      ],
      [
        "blocking playlist (msn, part)",
        String(blockingObjects),
        String(edgeSum((t) => t.sent.blocking)),
        String(upstreamBlocking),
        fmt(perBlocking, 3),
        edgeTallies.map(([l, t]) => `${l} ${fmt((t.cache["blocking MISS"] ?? 0) / t.blockingKeys.size, 3)}`).join(", "),
      ],
    ],
  };
  const edgeClientRequests = edgeSum((t) => t.sent.plain + t.sent.blocking + t.sent.part);
  const latencyRow = (name: string, x: Summary): string[] => [name, String(x.count), fmt(x.p50), fmt(x.p90), fmt(x.p99), fmt(x.max)];
  const latencyTable: Table = {
    title: "Part-available-to-client latency (ms): pusher hands the part over → the client has it",
    columns: ["path", "samples", "p50", "p90", "p99", "max"],
    rows: [
      latencyRow("part bytes, via edges", lat.edge.part),
      latencyRow("part bytes, direct to origin", lat.direct.part),
      latencyRow("playlist listing the part, via edges", lat.edge.playlist),
      latencyRow("playlist listing the part, direct to origin", lat.direct.playlist),
      ...[...lat.perEdge.entries()].map(([l, x]) => latencyRow(`part bytes, via ${l}`, x)),
    ],
  };
  const errorsTable: Table = {
    title: "Players: requests and errors",
    columns: ["path", "players' requests (plain / blocking / part)", "errors (non-200, timeouts, transport)", "part not listed / skipped", "cache answers", "MB received"],
    rows: tallies.map(([l, t]) => [
      l,
      `${t.sent.plain} / ${t.sent.blocking} / ${t.sent.part}`,
      errorText(t.errors),
      `${t.partNotListed} / ${t.partSkipped}`,
      l === "direct" ? "–" : errorText(t.cache),
      fmt(t.bodyBytes / 1e6, 1),
    ]),
  };
  const edgeErrors = edgeSum((t) => sum(Object.values(t.errors)));
  const directErrors = sum(Object.values(direct.errors));
  const edgeTimeouts = edgeSum((t) => sum(Object.entries(t.errors).filter(([k]) => k.endsWith(" timeout")).map(([, v]) => v)));
  const figures: Figure[] = [
    { figure: "origin requests per part per edge (goal 1.00)", cascade: fmt(perPart, 3), baseline: "1.000", ratio: ratio(perPart, 1, 3) },
    { figure: "origin requests per blocking playlist per edge (goal 1.00)", cascade: fmt(perBlocking, 3), baseline: "1.000", ratio: ratio(perBlocking, 1, 3) },
    { figure: `part-available-to-client p50, ${s.clients} players via edges vs ${s.direct} direct`, cascade: `${fmt(lat.edge.part.p50)} ms`, baseline: `${fmt(lat.direct.part.p50)} ms`, ratio: ratio(lat.edge.part.p50, lat.direct.part.p50) },
    { figure: `part-available-to-client p99, ${s.clients} players via edges vs ${s.direct} direct`, cascade: `${fmt(lat.edge.part.p99)} ms`, baseline: `${fmt(lat.direct.part.p99)} ms`, ratio: ratio(lat.edge.part.p99, lat.direct.part.p99) },
    { figure: "players' errors (non-200 + timeouts), via edges vs direct", cascade: String(edgeErrors), baseline: String(directErrors), ratio: "–" },
  ];
  const notes: string[] = [
    `Edge-added latency (via edges − direct, part bytes): p50 ${fmt(lat.edge.part.p50 - lat.direct.part.p50)} ms, p99 ${fmt(lat.edge.part.p99 - lat.direct.part.p99)} ms; for the playlist listing the part: p50 ${fmt(lat.edge.playlist.p50 - lat.direct.playlist.p50)} ms, p99 ${fmt(lat.edge.playlist.p99 - lat.direct.playlist.p99)} ms. Timeouts among the edge players' errors: ${edgeTimeouts}.`,
    `Offload: ${edgeClientRequests} player requests through the edges became ${upstreamParts + upstreamBlocking + plainFills} origin requests (${ratio(edgeClientRequests, upstreamParts + upstreamBlocking + plainFills, 0)} fewer). The plain playlist reloads of joining players are mutable objects (edge lifetime 0.5 × TD) and are not in the per-object figures; the edges filled them ${plainFills} time(s).`,
    `How the origin count is split: origin requests by kind (cascade_origin_viewer_requests_total, before the players started and after they stopped and every request was answered) minus the direct players' own requests (counted by the load generator), minus the plain-playlist fills; divided by the distinct objects the players asked each edge for, summed over the edges. The MISS column is the edges' own view (x-cascade-cache: MISS marks the request that made the fill).`,
    `CPU during the measured window: 3 edges (wrangler + workerd process groups) ${fmt(cpu.edges, 0)} %, origin ${fmt(cpu.origin, 0)} %, load generator ${fmt(cpu.loadgen, 0)} % (100 % = one core). Throughput to the players: ${fmt((edgeSum((t) => t.bodyBytes) + direct.bodyBytes) / 1e6 / Math.max(1, measuredSeconds + s.warmupSeconds + s.rampSeconds), 1)} MB/s averaged over the whole player run.`,
    `Raw latencies: bench/out/edge-offload-latency.csv.`,
  ];
  const cores = os.availableParallelism();
  if (cpu.edges + cpu.origin + cpu.loadgen > 85 * cores) {
    notes.push(
      `The machine was CPU-bound during the window (edges + origin + load generator ${fmt(cpu.edges + cpu.origin + cpu.loadgen, 0)} % of ${cores * 100} %): the edge latencies above are mostly queueing for CPU in workerd, not the edge's design; players then fall behind the live edge (parts skipped, blocking reloads answered from cache).`,
    );
  }
  if (otherKinds.length) notes.push(`Other origin request kinds changed during the run (not part of the figures): ${otherKinds.map((k) => `${k} +${delta(k)}`).join(", ")}.`);
  if (pushProblems.length) notes.push(`The push client logged ${pushProblems.length} problem(s), first: ${pushProblems[0]}`);
  return {
    name: "edge-offload",
    title: "Edge offload: origin requests per object with 1,000 players on 3 edges",
    method:
      `core-origin (its own process) serves one live stream, pushed at real time by the transcoder's real push client from pre-made fMP4 parts (${mediaDescribe}). ` +
      `${EDGES} edge Workers run in workerd via \`wrangler dev\` (scripts/edge-process.ts, as \`npm start -- --edges 3\`), each with its own empty cache, all in front of that origin. ` +
      `${s.clients} simulated LL-HLS players in a separate load-generator process (bench/lib/player-loadgen-child.ts) are spread evenly over the edges; ${s.direct} more run the same code directly against the origin in the same run. ` +
      `Each player does what hls.js does in low-latency mode: a plain playlist load to join at the PRELOAD-HINT, then blocking reloads (\`_HLS_msn\`/\`_HLS_part\`) for the next part and, as each answer lists it, a GET of the new part on a second keep-alive connection; players start at random offsets over ${s.rampSeconds} s. They follow the ${s.rendition} rendition. ` +
      "Latency = monotonic time the player has the part's bytes (or the playlist listing it) − the time the pusher handed the part to the push client.",
    settings: `${s.clients} players via ${EDGES} edges + ${s.direct} direct; ${s.rampSeconds} s ramp, ${s.warmupSeconds} s warm-up, ${s.seconds} s measured (latency window; request counts cover the whole player run); rendition ${s.rendition} at ${partsPerSecond} parts/s; ${s.processes} load-generator process(es); request timeouts 3 × TD + 4 s (playlists), 5 s (parts)`,
    figures,
    tables: [offloadTable, latencyTable, errorsTable],
    notes,
  };
};

export const edgeOffload: Benchmark = {
  name: "edge-offload",
  title: "Edge offload: origin requests per object with 1,000 players on 3 edges",
  summary: "1,000 simulated LL-HLS players on 3 edges (wrangler dev): origin requests per object per edge (goal 1.00), edge-added latency vs direct, errors",
  run,
};
