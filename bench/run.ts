/**
 * `npm run bench [-- [name…] [--quick] [--list]]`: runs the benchmarks (all, or the named ones),
 * prints progress and a figures table, and writes bench/RESULTS.md with the machine, date and
 * command. A development run (--quick, or any BENCH_* override) writes bench/out/RESULTS.dev.md
 * instead, so contended or shortened figures never land in bench/RESULTS.md.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { archiveLag } from "./archive-lag.ts";
import { chatDelivery } from "./chat-delivery.ts";
import { edgeLatency } from "./edge-latency.ts";
import { edgeOffload } from "./edge-offload.ts";
import { edgeRss } from "./edge-rss.ts";
import { edgeThroughput } from "./edge-throughput.ts";
import { goLive } from "./go-live.ts";
import { originPartLatency } from "./origin-part-latency.ts";
import { originRss } from "./origin-rss.ts";
import { transcoderRtf } from "./transcoder-rtf.ts";
import { viewerCount } from "./viewer-count.ts";
import { vodFirstByte } from "./vod-first-byte.ts";
import { describeMachine, machineInfo } from "./lib/machine.ts";
import { OUT_DIR, ROOT } from "./lib/proc.ts";
import { figuresTable, readSections, renderResultsFile, renderSection, renderTextTable, type BenchResult, type Benchmark, type Figure, type RunContext } from "./lib/report.ts";
import { benchOverrides } from "./lib/settings.ts";

const BENCHMARKS: Benchmark[] = [originPartLatency, transcoderRtf, originRss, edgeLatency, edgeOffload, edgeThroughput, edgeRss, goLive, viewerCount, chatDelivery, archiveLag, vodFirstByte];

const USAGE = `usage: npm run bench [-- [name ...] [--quick] [--list]]

  name      run only these benchmarks (default: all): ${BENCHMARKS.map((b) => b.name).join(", ")}
  --quick   development mode: short durations, small loads
  --list    list the benchmarks and exit

Environment overrides (each makes the run a development run, written to bench/out/RESULTS.dev.md):
  BENCH_LATENCY_CLIENTS=1,100   BENCH_LATENCY_SECONDS=40      origin-part-latency
  BENCH_RTF_SOURCES=720p,1080p  BENCH_RTF_SECONDS=20  BENCH_RTF_REPEATS=3   transcoder-rtf
  BENCH_RSS_MINUTES=10          BENCH_RSS_CLIENTS=10          origin-rss
  BENCH_EDGE_LATENCY_PARTS=0.5,0.2  BENCH_EDGE_LATENCY_SECONDS=60  BENCH_EDGE_LATENCY_LADDER=…   edge-latency
  BENCH_OFFLOAD_CLIENTS=1000    BENCH_OFFLOAD_DIRECT=50   BENCH_OFFLOAD_SECONDS=60
  BENCH_OFFLOAD_RENDITION=360p  BENCH_OFFLOAD_LOADGENS=1                            edge-offload
  BENCH_THROUGHPUT_CONNECTIONS=64  BENCH_THROUGHPUT_SECONDS=20                      edge-throughput
  BENCH_EDGE_RSS_SECONDS=240  BENCH_EDGE_RSS_VIEWERS=50                          edge-rss
  BENCH_GOLIVE_RUNS=5           BENCH_GOLIVE_FOLLOWERS=10000                        go-live
  BENCH_VIEWERS=10000  BENCH_VIEWERS_EDGES=3  BENCH_VIEWERS_INTERVAL_S=20  BENCH_VIEWERS_SECONDS=60   viewer-count
  BENCH_CHAT_CLIENTS=1000,5000,10000  BENCH_CHAT_RATES=20,100  BENCH_CHAT_SECONDS=10  BENCH_CHAT_WINDOWS=0,50,100 (or none)
  BENCH_CHAT_SWEEP_CLIENTS=10000  BENCH_CHAT_WRITERS=200  BENCH_CHAT_PROCESSES=2  BENCH_CHAT_VIA=direct|proxy
  BENCH_CHAT_SERVERS=baseline,cascade                                               chat-delivery
  BENCH_ARCHIVE_SECONDS=60      BENCH_ARCHIVE_LADDER=360p:640x360@30:800:main,…     archive-lag
  BENCH_VOD_RECORDINGS=12  BENCH_VOD_SEGMENTS=6  BENCH_VOD_WARM=300                  vod-first-byte`;

const parseArgs = (argv: string[]) => {
  const names: string[] = [];
  let quick = false;
  for (const arg of argv) {
    if (arg === "--quick") quick = true;
    else if (arg === "--list") {
      for (const b of BENCHMARKS) console.log(`${b.name.padEnd(22)} ${b.summary}`);
      process.exit(0);
    } else if (arg === "--help" || arg === "-h") {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith("-")) {
      console.error(`unknown option ${arg}\n\n${USAGE}`);
      process.exit(2);
    } else if (!BENCHMARKS.some((b) => b.name === arg)) {
      console.error(`unknown benchmark "${arg}"\n\n${USAGE}`);
      process.exit(2);
    } else names.push(arg);
  }
  return { names, quick };
};

/** The command as the user typed it (npm or tsx), with any BENCH_* overrides in front. */
const commandLine = (argv: string[], overrides: string[]): string => {
  const env = overrides.map((k) => `${k}=${process.env[k]}`).join(" ");
  const base = process.env.npm_lifecycle_event === "bench" ? `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}` : `npx tsx bench/run.ts${argv.length ? ` ${argv.join(" ")}` : ""}`;
  return env ? `${env} ${base}` : base;
};

const main = async () => {
  const argv = process.argv.slice(2);
  const { names, quick } = parseArgs(argv);
  const selected = names.length > 0 ? BENCHMARKS.filter((b) => names.includes(b.name)) : BENCHMARKS;
  const overrides = benchOverrides();
  const ctx: RunContext = { machine: machineInfo(), date: new Date(), command: commandLine(argv, overrides), publishable: !quick && overrides.length === 0 };
  const resultsFile = ctx.publishable ? path.join(ROOT, "bench", "RESULTS.md") : path.join(OUT_DIR, "RESULTS.dev.md");
  const t0 = Date.now();
  const stamp = () => `[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s]`;

  console.log(`Cascade benchmarks: ${selected.map((b) => b.name).join(", ")}`);
  console.log(`machine: ${describeMachine(ctx.machine)}`);
  console.log(`command: ${ctx.command}`);
  if (!ctx.publishable) console.log(`development run (${[quick ? "--quick" : "", ...overrides].filter(Boolean).join(", ")}): results go to ${path.relative(ROOT, resultsFile)}, bench/RESULTS.md is left alone`);
  if (ctx.machine.loadAverage[0] > 0.5) console.log(`warning: 1-minute load average is ${ctx.machine.loadAverage[0].toFixed(2)}; figures from a busy machine are not comparable`);

  const fresh = new Map<string, string>();
  const results: BenchResult[] = [];
  const failures: Array<{ name: string; error: string }> = [];
  for (const b of selected) {
    console.log(`\n${stamp()} ▶ ${b.name}: ${b.summary}`);
    try {
      const r = await b.run({ quick, log: (line) => console.log(`${stamp()}   ${b.name}: ${line}`) });
      results.push(r);
      fresh.set(b.name, renderSection(ctx, r));
      console.log("");
      for (const t of r.tables) console.log(`${renderTextTable(t)}\n`);
      console.log(`${renderTextTable(figuresTable(`${r.name}: figures`, r.figures.map((f) => ({ benchmark: r.name, ...f }))))}\n`);
      for (const n of r.notes) console.log(`note: ${n}`);
    } catch (err) {
      const error = (err as Error)?.stack ?? String(err);
      console.error(`${stamp()} ✗ ${b.name} failed: ${error}`);
      failures.push({ name: b.name, error });
      fresh.set(b.name, renderSection(ctx, { name: b.name, title: b.title, error }));
    }
  }

  const rows: Array<{ benchmark: string } & Figure> = results.flatMap((r) => r.figures.map((f) => ({ benchmark: r.name, ...f })));
  console.log(`\n${renderTextTable(figuresTable(`Figures (${ctx.publishable ? "full run" : "development run: not for comparison"})`, rows))}`);
  for (const f of failures) console.log(`${f.name}: FAILED (see above)`);

  // Sections written by other commands (`npm run soak`) are kept, after the benchmarks'.
  const existing = readSections(resultsFile);
  const registry = BENCHMARKS.map((b) => b.name);
  writeFileSync(resultsFile, renderResultsFile([...registry, ...[...existing.keys()].filter((n) => !registry.includes(n))], existing, fresh));
  console.log(`\nwrote ${path.relative(ROOT, resultsFile)} (${((Date.now() - t0) / 60000).toFixed(1)} min)`);
  process.exit(failures.length > 0 ? 1 : 0);
};

await main();
