/**
 * edge-latency: capture-to-display latency in a real player. One publisher (ffmpeg test pattern with
 * a burnt-in capture clock) feeds Cascade's RTMP ingest and nginx-rtmp at once; Cascade plays
 * LL-HLS through an edge Worker (wrangler dev), the baseline plays classic HLS (ffmpeg's hls muxer
 * pulling from nginx-rtmp, 2 s segments, served by nginx from disk). Both play side by side in
 * headless Chromium, in the same hls.js page; latency = now − hls.playingDate, sampled every second
 * for 60 s after playback starts, with 0.5 s and 0.2 s parts.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { parseLadderSpec } from "../shared/ladder.ts";
import { chromiumMissing, launchChromium, openPlayer, samplePlayer, waitPlaying, type PlayerPage } from "./lib/browser.ts";
import { monoMs, sleep, sleepUntil } from "./lib/clock.ts";
import { startEdges, type RunningEdges } from "./lib/edges.ts";
import { pdtCorrection, publisherArgs, startPackager, startPublisher, type RunningPackager, type RunningProcess } from "./lib/live-sources.ts";
import { nginxMissing, startNginx, type RunningNginx } from "./lib/nginx.ts";
import { startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import type { PlayerSample } from "./lib/player-page.ts";
import { playerUrl, writePlayerPage } from "./lib/player-page.ts";
import { OUT_DIR, ROOT } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber, envNumberList, envString } from "./lib/settings.ts";
import { countsText, fmt, median, percentile, ratio } from "./lib/stats.ts";
import { startTranscoder, type RunningTranscoder } from "./lib/transcoder-process.ts";

/**
 * The default ladder's 720p and 480p rungs lie above the 640x360 source and would be skipped
 * (fitLadderToSource), leaving one rung; two rungs keep an ABR ladder for hls.js at a cost a
 * 2-core machine can carry next to the publisher, the baseline packager and Chromium.
 */
const DEFAULT_BENCH_LADDER = "360p:640x360@30:800:main,180p:320x180@30:300:main";
const SOURCE = { width: 640, height: 360, fps: 30, videoKbps: 1200, gopSeconds: 2 };
const BASELINE = { segmentSeconds: 2, listSize: 6 };

interface Settings {
  partTargets: number[];
  seconds: number;
  ladder: string;
}

const settingsFor = (quick: boolean): Settings => {
  const ladder = envString("BENCH_EDGE_LATENCY_LADDER", DEFAULT_BENCH_LADDER);
  parseLadderSpec(ladder); // fail early on a typo
  return {
    partTargets: envNumberList("BENCH_EDGE_LATENCY_PARTS", [0.5, 0.2], { min: 0.2, max: 1 }),
    seconds: envNumber("BENCH_EDGE_LATENCY_SECONDS", quick ? 20 : 60, { min: 5, max: 3600, integer: true }),
    ladder,
  };
};

interface PlayerStats {
  latencies: number[];
  /** Seconds from opening the page to the first "playing". */
  timeToPlay: number;
  last: PlayerSample | null;
  heights: Set<number>;
  rates: number[];
  /** hls.js's distance to the end of the live playlist, per sample. */
  edgeDistances: number[];
  notPlayingTicks: number;
  problems: string[];
}

interface PhaseResult {
  partTarget: number;
  cascade: PlayerStats;
  /** Baseline latencies as measured (ffmpeg's own PDT) and corrected to the arrival clock. */
  baselineRaw: PlayerStats;
  baselineCorrected: number[];
  pdtOffsetMs: number;
  pdtSpreadMs: number;
  pdtSegments: number;
  speeds: number[];
  events: Record<string, number>;
  renditions: string[];
  screenshots: Screenshot[];
}

interface Screenshot {
  file: string;
  who: "cascade" | "baseline";
  /** Wall clock just before the screenshot. */
  at: Date;
  /** Latency sampled in the same second (baseline: before the PDT correction). */
  latency: number;
}

const newStats = (): PlayerStats => ({ latencies: [], timeToPlay: Number.NaN, last: null, heights: new Set(), rates: [], edgeDistances: [], notPlayingTicks: 0, problems: [] });

const waitUntil = async (what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, alive: () => void): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive();
    if (await Promise.resolve(check()).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(250);
  }
};

const segmentsIn = async (url: string): Promise<number> => {
  const res = await fetch(url);
  if (!res.ok) return 0;
  return (await res.text()).split("\n").filter((l) => l.startsWith("#EXTINF:")).length;
};

const runPhase = async (
  partTarget: number,
  ctx: { s: Settings; origin: ServerProcess; edges: RunningEdges; nginx: RunningNginx; browser: Browser; www: string; log: (line: string) => void },
): Promise<PhaseResult> => {
  const { s, origin, nginx, browser, log } = ctx;
  const edge = ctx.edges.edges[0]!;
  const tag = `p${Math.round(partTarget * 1000)}`;
  const streamId = `lat-${tag}`;
  const key = `bench-${tag}-key-0123456789`;
  const classicName = `classic-${tag}`;
  const label = `${partTarget} s parts`;
  let transcoder: RunningTranscoder | null = null;
  let publisher: RunningProcess | null = null;
  let packager: RunningPackager | null = null;
  const pages: PlayerPage[] = [];
  try {
    transcoder = await startTranscoder({ label: `edge-latency-transcoder-${tag}`, originUrl: origin.url, streamKeys: { [streamId]: key }, partTarget, ladder: s.ladder });
    publisher = startPublisher({ outputs: [`${transcoder.rtmpUrl}/${key}`, `${nginx.rtmpUrl}/${classicName}`], ...SOURCE });
    packager = startPackager({ input: `${nginx.rtmpUrl}/${classicName}`, dir: path.join(ctx.www, "hls", classicName), ...BASELINE });
    const pub = publisher;
    const pkg = packager;
    const alive = () => {
      ctx.edges.check();
      if (pub.child.exitCode !== null || pub.child.signalCode !== null) throw new Error(`the publisher exited: ${pub.stderrTail()}`);
      if (pkg.child.exitCode !== null || pkg.child.signalCode !== null) throw new Error(`the baseline packager exited: ${pkg.stderrTail().slice(-1500)}`);
    };
    log(`${label}: publishing 640x360 to Cascade (${streamId}) and nginx-rtmp (${classicName}); waiting for 3 Cascade segments and 5 baseline segments`);
    const firstRendition = parseLadderSpec(s.ladder).video[0]!.name;
    // hls.js starts 3 target durations (classic) or PART-HOLD-BACK (LL-HLS) behind the live end;
    // with fewer segments listed it would start nearer the end than it can stay, so wait for them.
    await waitUntil("the Cascade stream at the origin", 60_000, async () => (await segmentsIn(`${origin.url}/live/${streamId}/${firstRendition}/index.m3u8`)) >= 3, alive);
    await waitUntil(
      "the baseline playlist",
      60_000,
      () => {
        pkg.poll();
        return pkg.readPlaylist().length >= 5;
      },
      alive,
    );

    const cascadeUrl = playerUrl(nginx.httpUrl, `${edge.url}/hls/${streamId}/master.m3u8`, "ll");
    const baselineUrl = playerUrl(nginx.httpUrl, `${nginx.httpUrl}/hls/${classicName}/index.m3u8`, "classic");
    const t0 = Date.now();
    const [cascadePage, baselinePage] = await Promise.all([openPlayer(browser, cascadeUrl), openPlayer(browser, baselineUrl)]);
    pages.push(cascadePage, baselinePage);
    const cascade = newStats();
    const baselineRaw = newStats();
    await Promise.all([
      waitPlaying(cascadePage.page, 45_000).then(() => (cascade.timeToPlay = (Date.now() - t0) / 1000)),
      waitPlaying(baselinePage.page, 45_000).then(() => (baselineRaw.timeToPlay = (Date.now() - t0) / 1000)),
    ]).catch((err: Error) => {
      throw new Error(`${label}: a player did not start: ${err.message}; Cascade page: ${cascadePage.problems.slice(-3).join(" | ")}; baseline page: ${baselinePage.problems.slice(-3).join(" | ")}`);
    });
    log(`${label}: both playing (Cascade after ${fmt(cascade.timeToPlay, 1)} s, baseline after ${fmt(baselineRaw.timeToPlay, 1)} s); sampling every second for ${s.seconds} s`);

    const speeds: number[] = [];
    const screenshots: Screenshot[] = [];
    const start = monoMs();
    const take = (stats: PlayerStats, sample: PlayerSample) => {
      stats.last = sample;
      if (sample.state === "playing" && sample.latency !== null && Number.isFinite(sample.latency)) {
        stats.latencies.push(sample.latency);
        stats.rates.push(sample.playbackRate);
        if (sample.edgeDistance !== null) stats.edgeDistances.push(sample.edgeDistance);
        if (sample.height) stats.heights.add(sample.height);
      } else stats.notPlayingTicks++;
    };
    for (let tick = 1; cascade.latencies.length < s.seconds || baselineRaw.latencies.length < s.seconds; tick++) {
      if (tick > s.seconds * 2) throw new Error(`${label}: fewer than ${s.seconds} playing samples after ${tick - 1} s (Cascade ${cascade.latencies.length}, baseline ${baselineRaw.latencies.length})`);
      await sleepUntil(start + tick * 1000);
      alive();
      const [c, b] = await Promise.all([samplePlayer(cascadePage.page), samplePlayer(baselinePage.page)]);
      if (cascade.latencies.length < s.seconds) take(cascade, c);
      if (baselineRaw.latencies.length < s.seconds) take(baselineRaw, b);
      pkg.poll();
      if (tick % 5 === 0) {
        const st = (await transcoder.streams().catch(() => [])).find((x) => x.id === streamId);
        if (st && Number.isFinite(st.speed)) speeds.push(st.speed);
      }
      if (tick === Math.round(s.seconds / 2)) {
        // For a look at the burnt-in capture clock against the measured latency.
        for (const [who, p, latency] of [["cascade", cascadePage, c.latency], ["baseline", baselinePage, b.latency]] as const) {
          const file = path.join(OUT_DIR, `edge-latency-${tag}-${who}.png`);
          const at = new Date();
          if (await p.page.screenshot({ path: file }).then(() => true, () => false)) screenshots.push({ file: path.relative(ROOT, file), who, at, latency: latency ?? Number.NaN });
        }
      }
      if (tick % 10 === 0) {
        const soFar = pdtCorrection(pkg.pdtOffsets()).offsetMs / 1000;
        log(`  ${label}: ${tick} s — Cascade ${fmt(c.latency ?? Number.NaN, 2)} s, baseline ${fmt((b.latency ?? Number.NaN) + soFar, 2)} s (PDT-corrected; ${fmt(b.latency ?? Number.NaN, 2)} s as hls.js reports it)`);
      }
    }
    for (const [stats, p] of [[cascade, cascadePage], [baselineRaw, baselinePage]] as const) stats.problems = p.problems;
    const correction = pdtCorrection(pkg.pdtOffsets());
    if (!Number.isFinite(correction.offsetMs)) throw new Error(`${label}: could not measure the baseline packager's PDT offset (no "Opening 'segN.ts'" lines matched a listed segment): ${pkg.stderrTail().slice(-500)}`);
    const st = (await transcoder.streams().catch(() => [])).find((x) => x.id === streamId);
    return {
      partTarget,
      cascade,
      baselineRaw,
      baselineCorrected: baselineRaw.latencies.map((l) => l + correction.offsetMs / 1000),
      pdtOffsetMs: correction.offsetMs,
      pdtSpreadMs: correction.spreadMs,
      pdtSegments: pkg.pdtOffsets().length,
      speeds,
      events: await transcoder.eventCounts().catch(() => ({})),
      renditions: st?.renditions ?? [],
      screenshots,
    };
  } finally {
    await Promise.all(pages.map((p) => p.page.close().catch(() => undefined)));
    await publisher?.stop();
    await packager?.stop();
    await transcoder?.stop();
  }
};

const q = (values: number[], p: number) => percentile([...values].sort((a, b) => a - b), p);
const secs = (v: number) => `${fmt(v, 2)} s`;

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const missing = [nginxMissing(true), chromiumMissing()].filter(Boolean);
  if (missing.length) throw new Error(`edge-latency needs: ${missing.join("; ")}`);
  const www = path.join(OUT_DIR, "edge-latency-www");
  writePlayerPage(www);
  const nginx = await startNginx({ label: "edge-latency", root: www, rtmp: true });
  let origin: ServerProcess | null = null;
  let edges: RunningEdges | null = null;
  let browser: Browser | null = null;
  const phases: PhaseResult[] = [];
  try {
    log(`nginx (RTMP ingest + HTTP) at ${nginx.rtmpUrl} and ${nginx.httpUrl}`);
    log(`Cascade ladder: CASCADE_LADDER=${s.ladder}${s.ladder === DEFAULT_BENCH_LADDER ? " (the default ladder's 720p and 480p rungs are above the 640x360 source and would be skipped)" : ""}`);
    origin = await startOrigin("edge-latency-origin");
    edges = await startEdges("edge-latency", 1, origin.url, log);
    browser = await launchChromium();
    for (const partTarget of s.partTargets) {
      const r = await runPhase(partTarget, { s, origin, edges, nginx, browser, www, log });
      const c = r.cascade.latencies;
      log(
        `${partTarget} s parts: Cascade p50 ${secs(q(c, 50))} p95 ${secs(q(c, 95))}; classic HLS p50 ${secs(q(r.baselineCorrected, 50))} p95 ${secs(q(r.baselineCorrected, 95))} ` +
          `(PDT correction ${fmt(r.pdtOffsetMs / 1000, 3)} s); ratio p50 ${ratio(q(c, 50), q(r.baselineCorrected, 50))}; transcoder speed median ${fmt(median(r.speeds))}`,
      );
      phases.push(r);
    }
  } finally {
    await browser?.close().catch(() => undefined);
    await edges?.stop();
    await origin?.stop();
    await nginx.stop();
  }

  const csv = ["part_target_s,second,cascade_latency_s,baseline_latency_raw_s,baseline_latency_s"];
  for (const p of phases) {
    for (let i = 0; i < Math.max(p.cascade.latencies.length, p.baselineRaw.latencies.length); i++) {
      csv.push(`${p.partTarget},${i + 1},${p.cascade.latencies[i]?.toFixed(3) ?? ""},${p.baselineRaw.latencies[i]?.toFixed(3) ?? ""},${p.baselineCorrected[i]?.toFixed(3) ?? ""}`);
    }
  }
  writeFileSync(path.join(OUT_DIR, "edge-latency-samples.csv"), csv.join("\n") + "\n");

  const figures: Figure[] = phases.flatMap((p) =>
    ([50, 95] as const).map((pc) => ({
      figure: `capture-to-display p${pc}, ${p.partTarget} s parts`,
      cascade: secs(q(p.cascade.latencies, pc)),
      baseline: secs(q(p.baselineCorrected, pc)),
      ratio: ratio(q(p.cascade.latencies, pc), q(p.baselineCorrected, pc)),
    })),
  );
  const playerRow = (p: PhaseResult, who: "Cascade" | "baseline"): string[] => {
    const st = who === "Cascade" ? p.cascade : p.baselineRaw;
    const l = who === "Cascade" ? p.cascade.latencies : p.baselineCorrected;
    const errors = st.last?.errors ?? [];
    return [
      `${p.partTarget} s`,
      who === "Cascade" ? "Cascade LL-HLS via edge" : "classic HLS (nginx)",
      String(l.length),
      fmt(q(l, 0), 2),
      fmt(q(l, 50), 2),
      fmt(q(l, 95), 2),
      fmt(q(l, 100), 2),
      fmt(st.timeToPlay, 1),
      String(st.last?.stalls ?? "–"),
      [...st.heights].sort((a, b) => b - a).map((h) => `${h}p`).join(", ") || "–",
      fmt(median(st.rates), 2),
      `${fmt(median(st.edgeDistances), 2)} / ${fmt(st.last?.targetLatency ?? Number.NaN, 2)}`,
      errors.length ? `${[...new Set(errors.map((e) => e.details))].join(", ")} (${errors.filter((e) => e.fatal).length} fatal)` : "none",
    ];
  };
  const detail: Table = {
    title: "Capture-to-display latency (s), sampled once a second while playing",
    columns: ["parts", "player", "samples", "min", "p50", "p95", "max", "time to play (s)", "stalls", "levels seen", "playback rate p50", "hls.js behind live end p50 / target (s)", "hls.js errors (last 10)"],
    rows: phases.flatMap((p) => [playerRow(p, "Cascade"), playerRow(p, "baseline")]),
  };
  const pipeline: Table = {
    title: "Pipelines",
    columns: ["parts", "transcoder speed min / median", "renditions at the end", "transcoder events", "baseline PDT correction", "correction spread", "segments measured"],
    rows: phases.map((p) => [
      `${p.partTarget} s`,
      `${fmt(p.speeds.length ? Math.min(...p.speeds) : Number.NaN)} / ${fmt(median(p.speeds))}`,
      p.renditions.join(", ") || "–",
      countsText(p.events) || "–",
      `${fmt(p.pdtOffsetMs / 1000, 3)} s`,
      `${fmt(p.pdtSpreadMs, 0)} ms`,
      String(p.pdtSegments),
    ]),
  };
  const notes: string[] = [];
  for (const p of phases) {
    if (median(p.speeds) < 0.98) notes.push(`${p.partTarget} s parts: the transcoder ran below real time (median speed ${fmt(median(p.speeds))}): the machine did not keep up with the ladder, and latency grows while it falls behind.`);
    if (p.pdtSpreadMs > 250) notes.push(`${p.partTarget} s parts: the baseline's PDT offset varied by ${fmt(p.pdtSpreadMs, 0)} ms between segments (the packager's log lines came late under load); the largest offset (the least delayed line) was used.`);
    if ((p.events.quality_changed ?? 0) > 0) notes.push(`${p.partTarget} s parts: the transcoder's real-time guard dropped a rung (quality_changed × ${p.events.quality_changed}): the machine did not keep up with the ladder.`);
    for (const [who, st] of [["Cascade", p.cascade], ["baseline", p.baselineRaw]] as const) {
      if (st.problems.length) notes.push(`${p.partTarget} s parts, ${who} page: ${st.problems.length} page/console error(s), first: ${st.problems[0]}`);
      if (st.notPlayingTicks) notes.push(`${p.partTarget} s parts, ${who}: ${st.notPlayingTicks} one-second tick(s) without a playing sample (not counted).`);
    }
  }
  notes.push(
    "\"hls.js behind live end / target\": hls.js's own estimate of its distance from the end of the live playlist (hls.latency) next to the distance it aims for (hls.targetLatency: PART-HOLD-BACK for LL-HLS, 3 target durations for classic HLS). A player that stays well behind its target at playback rate 1.00 shows where hls.js started and how it catches up, on top of what the delivery path adds.",
    "Baseline PDT correction: ffmpeg's hls muxer stamps the first segment with the wall clock when its muxer starts (after probing the input, 1–2 s after that segment's first frame arrived) and adds segment durations, so its PDT runs late by a constant and hls.js's playingDate would understate the baseline's latency. The constant is measured per segment: PDT(N + 1) − the wall time the packager wrote segment N out (verbose log \"Opening 'segN.ts'\", which happens when the first frame of N + 1 arrives, about 35 ms after it does, later when the machine is loaded); the largest of these (the least delayed log line) is added to every baseline sample (\"min/p50/p95/max\" of the baseline are corrected values). Cascade's PDT is by design the wall time the segment's first frame reached the transcoder node, so both are measured from arrival at the server; the publisher (x264 tune zerolatency) adds a few tens of ms between the burnt-in capture clock and arrival.",
    `Raw samples: bench/out/edge-latency-samples.csv. Screenshots taken mid-run, to compare the burnt-in capture clock (UTC) with the time of the screenshot (it shows the frame a little after that time, and the capture clock runs a few tens of ms ahead of arrival at the server): ${
      phases
        .flatMap((p) =>
          p.screenshots.map(
            (x) =>
              `${x.file} taken at ${x.at.toISOString().slice(11, 23)} UTC, latency sampled ${fmt(x.who === "baseline" ? x.latency + p.pdtOffsetMs / 1000 : x.latency, 2)} s${x.who === "baseline" ? ` (${fmt(x.latency, 2)} s before the PDT correction)` : ""}`,
          ),
        )
        .join("; ") || "none"
    }.`,
    "Everything (publisher, transcoder, origin, edge in workerd, nginx, the packager and Chromium with both players) runs on the one machine at the same time, so both players see the same contention.",
  );
  return {
    name: "edge-latency",
    title: "Capture-to-display latency through the edge vs classic HLS",
    method:
      `One ffmpeg publisher (testsrc2 ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps} with a burnt-in wall clock, libx264 veryfast tune zerolatency ${SOURCE.videoKbps} kb/s, keyframe every ${SOURCE.gopSeconds} s, AAC) encodes once and sends the stream with the tee muxer to Cascade's RTMP ingest and to nginx-rtmp. ` +
      `Cascade: gpu-transcoder (own process, CASCADE_LADDER=${s.ladder}, CASCADE_PART_TARGET per phase) → core-origin → one edge Worker in workerd (\`wrangler dev\`, as \`npm start\` runs it). ` +
      `Baseline (classic HLS, the way Owncast packages): ffmpeg pulls from nginx-rtmp and writes ${BASELINE.segmentSeconds} s MPEG-TS segments with \`-hls_flags program_date_time+independent_segments+delete_segments\` (list of ${BASELINE.listSize}) into a directory nginx serves. ` +
      "Both streams play at the same time in two tabs of headless Chromium (playwright-core), in the same minimal page with the hls.js build the watch page bundles: for Cascade the watch page's hls.js configuration (lowLatencyMode, catch-up to 1.5×), for the baseline hls.js defaults. " +
      `Capture-to-display latency = Date.now() − hls.playingDate, sampled every second for ${s.seconds} s from the first \`playing\` event; p50/p95 over those samples. ` +
      "The default ladder's 720p and 480p rungs are above the 640x360 source and would be skipped, so the transcoder runs a two-rung ladder (360p + 180p).",
    settings: `part targets ${s.partTargets.join(" s, ")} s (a fresh transcoder, publisher and packager per phase; origin, edge, nginx and Chromium shared); ${s.seconds} one-second samples per player per phase; publisher args: \`${publisherArgs({ outputs: ["<cascade>", "<nginx>"], ...SOURCE }).join(" ").replace(/fontfile=[^:]+:/, "")}\``,
    figures,
    tables: [detail, pipeline],
    notes,
  };
};

export const edgeLatency: Benchmark = {
  name: "edge-latency",
  title: "Capture-to-display latency through the edge vs classic HLS",
  summary: "now − hls.playingDate in headless Chromium, 60 s p50/p95, LL-HLS (0.5 s / 0.2 s parts) via the edge vs ffmpeg-hls + nginx-rtmp classic HLS",
  run,
};
