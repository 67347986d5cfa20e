/**
 * origin-rss: the origin's resident memory after a 10-minute stream versus after 1 minute. With a
 * bounded window (segment bytes beyond CASCADE_MEMORY_SEGMENTS dropped, metadata beyond the
 * playlist window released) it should stay flat.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { monoMs, sleepUntil } from "./lib/clock.ts";
import { startLoadgen, type RunningLoadgen } from "./lib/loadgen.ts";
import { loadOriginMedia } from "./lib/origin-media.ts";
import { NODE_SECRET, startOrigin } from "./lib/origin-process.ts";
import { OUT_DIR, readRss } from "./lib/proc.ts";
import { StreamPusher } from "./lib/pusher.ts";
import type { BenchOptions, BenchResult, Benchmark, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { countsText, fmt, ratio } from "./lib/stats.ts";

const STREAM_ID = "bench";
const SAMPLE_EVERY_S = 5;

interface Settings {
  minutes: number;
  /** The early mark: 1 minute, or half the run when BENCH_RSS_MINUTES is below 2. */
  earlyMinutes: number;
  clients: number;
}

const settingsFor = (quick: boolean): Settings => {
  const minutes = envNumber("BENCH_RSS_MINUTES", quick ? 2 : 10, { min: 0.2, max: 240 });
  return { minutes, earlyMinutes: Math.min(1, minutes / 2), clients: envNumber("BENCH_RSS_CLIENTS", quick ? 5 : 10, { min: 0, max: 2000, integer: true }) };
};

interface Sample {
  seconds: number;
  rssMiB: number;
  peakMiB: number;
}

interface MemoryMetrics {
  heapUsedMiB: number;
  externalMiB: number;
}

const MiB = 1024 * 1024;

/** Heap and external (Buffer/ArrayBuffer) memory from the origin's own /metrics (prom-client defaults). */
const fetchMemoryMetrics = async (url: string): Promise<MemoryMetrics | null> => {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const value = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN) / MiB;
    return { heapUsedMiB: value("nodejs_heap_size_used_bytes"), externalMiB: value("nodejs_external_memory_bytes") };
  } catch {
    return null;
  }
};

const minutesLabel = (m: number) => (Number.isInteger(m) ? `${m} min` : `${fmt(m * 60, 0)} s`);

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const media = await loadOriginMedia(log);
  const origin = await startOrigin("rss-origin");
  const samples: Sample[] = [];
  const marks = new Map<number, { sample: Sample; metrics: MemoryMetrics | null; parts: number }>();
  let parts = 0;
  let loadgen: RunningLoadgen | null = null;
  let pusher: StreamPusher | null = null;
  let loop: Promise<void> | null = null;
  let viewerErrors: Record<string, number> | null = null;
  try {
    pusher = await StreamPusher.create({ baseUrl: origin.url, streamId: STREAM_ID, nodeSecret: NODE_SECRET, feeds: media.feeds, timing: media.timing });
    const startRss = readRss(origin.pid);
    await pusher.announce();
    const t0 = monoMs();
    loop = pusher.runRealtime(() => parts++);
    if (s.clients > 0) loadgen = await startLoadgen(`${origin.url}/live/${STREAM_ID}/${media.watched}/index.m3u8`, s.clients, 1000);
    log(`streaming ${media.feeds.length} renditions at real time for ${minutesLabel(s.minutes)}${s.clients ? ` with ${s.clients} blocked viewers` : ""}; RSS before the stream ${fmt((startRss?.rssKiB ?? Number.NaN) / 1024, 1)} MiB`);
    // Marks: every whole minute, plus the early mark when it is not a whole minute.
    const markMinutes = [...new Set([s.earlyMinutes, ...Array.from({ length: Math.floor(s.minutes) }, (_, i) => i + 1), s.minutes])].sort((a, b) => a - b);
    const times = [...new Set([...Array.from({ length: Math.floor((s.minutes * 60) / SAMPLE_EVERY_S) }, (_, i) => (i + 1) * SAMPLE_EVERY_S), ...markMinutes.map((m) => m * 60)])].sort((a, b) => a - b);
    for (const at of times) {
      await sleepUntil(t0 + at * 1000);
      const rss = readRss(origin.pid);
      if (!rss) throw new Error("the origin process is gone");
      const sample = { seconds: at, rssMiB: rss.rssKiB / 1024, peakMiB: rss.hwmKiB / 1024 };
      samples.push(sample);
      const mark = markMinutes.find((m) => Math.abs(m * 60 - at) < 1e-6);
      if (mark !== undefined) {
        marks.set(mark, { sample, metrics: await fetchMemoryMetrics(origin.url), parts });
        log(`  ${minutesLabel(mark)}: RSS ${fmt(sample.rssMiB, 1)} MiB (peak ${fmt(sample.peakMiB, 1)} MiB), ${parts} parts per rendition pushed`);
      }
      if (pusher.problems.length > 0) throw new Error(`push failed: ${pusher.problems[0]}`);
    }
  } finally {
    const lg = loadgen as RunningLoadgen | null;
    if (lg) viewerErrors = (await lg.stop().catch(() => null))?.errors ?? null;
    if (pusher) await pusher.end();
    await loop;
    await origin.stop();
  }
  writeFileSync(path.join(OUT_DIR, "origin-rss-samples.csv"), ["seconds,rss_mib,peak_mib", ...samples.map((x) => `${x.seconds},${x.rssMiB.toFixed(2)},${x.peakMiB.toFixed(2)}`)].join("\n") + "\n");
  const early = marks.get(s.earlyMinutes)!;
  const late = marks.get(s.minutes)!;
  const table: Table = {
    title: "Origin memory during the stream (MiB)",
    columns: ["time", "RSS", "peak RSS", "JS heap used", "external (Buffers)", "parts pushed per rendition"],
    rows: [...marks.entries()].map(([m, x]) => [
      minutesLabel(m),
      fmt(x.sample.rssMiB, 1),
      fmt(x.sample.peakMiB, 1),
      fmt(x.metrics?.heapUsedMiB ?? Number.NaN, 1),
      fmt(x.metrics?.externalMiB ?? Number.NaN, 1),
      String(x.parts),
    ]),
  };
  const figures = [
    { figure: `origin RSS, ${minutesLabel(s.minutes)} vs ${minutesLabel(s.earlyMinutes)}`, cascade: `${fmt(late.sample.rssMiB, 1)} MiB`, baseline: `${fmt(early.sample.rssMiB, 1)} MiB`, ratio: ratio(late.sample.rssMiB, early.sample.rssMiB, 3) },
    {
      figure: `origin JS heap used, ${minutesLabel(s.minutes)} vs ${minutesLabel(s.earlyMinutes)}`,
      cascade: `${fmt(late.metrics?.heapUsedMiB ?? Number.NaN, 1)} MiB`,
      baseline: `${fmt(early.metrics?.heapUsedMiB ?? Number.NaN, 1)} MiB`,
      ratio: ratio(late.metrics?.heapUsedMiB ?? Number.NaN, early.metrics?.heapUsedMiB ?? Number.NaN, 3),
    },
  ];
  log(`RSS ${fmt(early.sample.rssMiB, 1)} MiB at ${minutesLabel(s.earlyMinutes)} → ${fmt(late.sample.rssMiB, 1)} MiB at ${minutesLabel(s.minutes)} (${ratio(late.sample.rssMiB, early.sample.rssMiB, 3)}); samples in bench/out/origin-rss-samples.csv`);
  return {
    name: "origin-rss",
    title: "Origin memory over a long stream",
    method:
      "core-origin runs as its own process (`core-origin/main.ts`, default window: 8 segments of bytes in memory, 15 listed). A pusher sends one stream through the transcoder's real push client at real time " +
      `(one part of every rendition each 0.5 s, segment boundaries, the loop of real fMP4 parts repeated with increasing MSNs) while ${s.clients} viewer(s) follow the top rendition with blocking reloads. ` +
      `The origin's RSS is read from /proc/<pid>/status (VmRSS) every ${SAMPLE_EVERY_S} s; heap and Buffer memory come from its /metrics. ` +
      `The baseline is the origin's own RSS at ${minutesLabel(s.earlyMinutes)}: a flat memory profile gives a ratio near 1. Media: ${media.describe}.`,
    settings: `${minutesLabel(s.minutes)} stream, early mark ${minutesLabel(s.earlyMinutes)}, ${s.clients} viewer(s); every ${SAMPLE_EVERY_S} s sample in bench/out/origin-rss-samples.csv`,
    figures,
    tables: [table],
    notes: [
      `Viewer errors: ${viewerErrors === null ? "not collected" : countsText(viewerErrors) || "none"}.`,
      "RSS includes memory V8 has not yet returned to the OS after a collection; the JS heap and external columns show whether live objects grow.",
      "Segments are written to the storage directory (bench/out/store, removed afterwards) as they complete, as in production with the local-directory driver.",
    ],
  };
};

export const originRss: Benchmark = {
  name: "origin-rss",
  title: "Origin memory over a long stream",
  summary: "origin RSS after a 10-minute real-time stream vs after 1 minute (BENCH_RSS_MINUTES shortens it)",
  run,
};
