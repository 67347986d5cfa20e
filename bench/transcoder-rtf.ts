/**
 * transcoder-rtf: real-time factor of the default ladder through Cascade's transcoder path
 * (StreamPipeline → LadderRun → ffmpeg with build-args.ts → Mp4StreamReader → PartCutter → push
 * client) versus the same ffmpeg command run bare, for a 720p30 and a 1080p30 source.
 */
import { closeSync, openSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Writable } from "node:stream";
import pino from "pino";
import type { StreamEvent } from "../shared/events.ts";
import { DEFAULT_LADDER, fitLadderToSource } from "../shared/ladder.ts";
import { binaryJobOptions, buildTranscodeArgs, outputFds, type TranscodeJob } from "../gpu-transcoder/ffmpeg/build-args.ts";
import { planParts } from "../gpu-transcoder/ffmpeg/part-plan.ts";
import { probeFfmpeg, type FfmpegCapabilities } from "../gpu-transcoder/ffmpeg/probe.ts";
import { RtmpPublishSession } from "../gpu-transcoder/ingest/publish-session.ts";
import type { LadderRun } from "../gpu-transcoder/pipeline/ladder-run.ts";
import type { PartSink, SinkPart } from "../gpu-transcoder/pipeline/part-sink.ts";
import { StreamPipeline } from "../gpu-transcoder/pipeline/stream-pipeline.ts";
import { monoMs } from "./lib/clock.ts";
import { ensureMedia, mediaFile } from "./lib/fmp4.ts";
import { readFlvFile, type FlvFile } from "./lib/flv-file.ts";
import { OUT_DIR, spawnTracked } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber, envWords } from "./lib/settings.ts";
import { fmt, median, ratio } from "./lib/stats.ts";

/** The transcoder's defaults (gpu-transcoder/config.ts): 0.5 s parts, 2 s segments. */
const PART_TARGET = 0.5;
const SEGMENT_DURATION = 2;

const SOURCES = {
  "720p": { width: 1280, height: 720, fps: 30, kbps: 4500 },
  "1080p": { width: 1920, height: 1080, fps: 30, kbps: 6000 },
} as const;
type SourceName = keyof typeof SOURCES;

interface Settings {
  sources: SourceName[];
  seconds: number;
  repeats: number;
}

/**
 * Input backlog kept queued for ffmpeg's stdin: enough that ffmpeg never waits for input (it reads
 * a file in the bare run), far below the pipeline's 8 MiB guard above which it drops frames.
 */
const STDIN_BACKLOG = 1024 * 1024;

const settingsFor = (quick: boolean): Settings => ({
  sources: envWords("BENCH_RTF_SOURCES", quick ? ["720p"] : ["720p", "1080p"], Object.keys(SOURCES)) as SourceName[],
  seconds: envNumber("BENCH_RTF_SECONDS", quick ? 8 : 20, { min: 4, max: 600, integer: true }),
  repeats: envNumber("BENCH_RTF_REPEATS", quick ? 1 : 3, { min: 1, max: 20, integer: true }),
});

/**
 * An OBS-like source (x264 veryfast CBR, 2 s keyframe interval, high profile, B-frames; AAC
 * 160 kb/s 48 kHz) as FLV, the container RTMP carries: what the ingest hands the pipeline.
 */
const sourceArgs = (name: SourceName, seconds: number): string[] => {
  const s = SOURCES[name];
  return [
    "-f", "lavfi", "-i", `testsrc2=size=${s.width}x${s.height}:rate=${s.fps}`,
    "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000",
    "-t", String(seconds),
    "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
    "-g", String(s.fps * 2), "-keyint_min", String(s.fps * 2), "-sc_threshold", "0",
    "-b:v", `${s.kbps}k`, "-maxrate", `${s.kbps}k`, "-bufsize", `${s.kbps * 2}k`,
    "-c:a", "aac", "-b:a", "160k", "-ar", "48000", "-ac", "2",
    "-f", "flv", "pipe:1",
  ];
};

/**
 * The ladder job exactly as StreamPipeline.startRun builds it for this source (fit the ladder to
 * the source, plan parts, cap fps); checked against the arguments the pipeline logs, so the bare
 * run cannot silently drift from what Cascade runs.
 */
const pipelineJob = (caps: FfmpegCapabilities, source: FlvFile): TranscodeJob => {
  const { width, height, framerate: sourceFps } = source.metadata;
  const ladder = fitLadderToSource(DEFAULT_LADDER, width && height ? { width, height } : null);
  const capFps = (fps: number) => (sourceFps && sourceFps < fps - 0.01 ? sourceFps : fps);
  const plan = planParts({
    partTarget: PART_TARGET,
    segmentDuration: SEGMENT_DURATION,
    videoFps: [...new Set(ladder.video.map((r) => capFps(r.fps)))],
    audioSampleRate: source.hasAudio ? ladder.audio.sampleRate : null,
  });
  const fpsOf = (fps: number) => [...plan.video.keys()].find((f) => f <= fps + 0.01) ?? fps;
  return {
    encoder: caps.h264Encoder,
    ...(caps.vaapiDevice ? { vaapiDevice: caps.vaapiDevice } : {}),
    video: ladder.video.map((rung) => {
      const fps = fpsOf(rung.fps);
      return { rung, fps, gopFrames: plan.gopFrames.get(fps)!, fragDurationUs: plan.video.get(fps)!.fragDurationUs };
    }),
    audio: source.hasAudio && plan.audio ? { rung: ladder.audio, fragDurationUs: plan.audio.fragDurationUs } : null,
    segmentDuration: plan.segmentDuration,
    ...binaryJobOptions(caps),
  };
};

/** Stands in for the HTTP push: the pipeline's parts end here (counted, then dropped). */
class DiscardingPartSink implements PartSink {
  constructor(private readonly onPart: (rendition: string, duration: number, bytes: number) => void) {}
  setManifest(): Promise<void> {
    return Promise.resolve();
  }
  pushInit(): boolean {
    return true;
  }
  pushPart(rendition: string, p: SinkPart): boolean {
    this.onPart(rendition, p.duration, p.bytes.byteLength);
    return true;
  }
  pushSegment(): boolean {
    return true;
  }
  pushThumbnail(): void {}
  drained(): Promise<void> {
    return Promise.resolve();
  }
  endRendition(): Promise<void> {
    return Promise.resolve();
  }
  endStream(): Promise<void> {
    return Promise.resolve();
  }
  close(): void {}
}

interface RunResult {
  wallSeconds: number;
  rtf: number;
  /** Cascade only: CPU seconds the Node process spent (pipe reading, fMP4 parsing, part cutting). */
  nodeCpuSeconds: number | null;
  /** Cascade only: media seconds packaged for the top rung (should equal the source duration). */
  packagedSeconds: number | null;
  args: string | null;
}

/**
 * The ffmpeg stdin of the pipeline's current ladder run. StreamPipeline keeps its LadderRun
 * private and has no input backpressure (a live publisher cannot be paused; past 8 MiB queued it
 * drops frames), so the benchmark reads the field to feed the file as fast as ffmpeg takes it.
 */
const pipelineStdin = (pipeline: StreamPipeline): Writable | null => {
  const run = (pipeline as unknown as { run?: LadderRun | null }).run;
  if (run === undefined) throw new Error("StreamPipeline no longer has a `run` field: update bench/transcoder-rtf.ts");
  return run?.running ? run.stdin : null;
};

/** Resolves true when `stdin` drained (or closed: ffmpeg exited, which the pipeline reports), false after `ms`. */
const drainedWithin = (stdin: Writable, ms: number): Promise<boolean> =>
  new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      stdin.off("drain", onDrain);
      stdin.off("close", onDrain);
      resolve(value);
    };
    const onDrain = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    stdin.once("drain", onDrain);
    stdin.once("close", onDrain);
  });

/**
 * Cascade's path: the FLV tags go through StreamPipeline as a publisher's would (the RTMP socket
 * and chunk parsing are the only parts left out), as fast as the pipeline takes them: tags are
 * handed over while less than STDIN_BACKLOG bytes wait for ffmpeg's stdin, then the feeder waits
 * for the pipe to drain.
 */
const runCascade = async (caps: FfmpegCapabilities, source: FlvFile, label: string): Promise<RunResult> => {
  const logLines: string[] = [];
  const logger = pino({ level: "info", base: null }, { write: (line: string) => void logLines.push(line) });
  const videoNames = new Set(fitLadderToSource(DEFAULT_LADDER, source.metadata.width && source.metadata.height ? { width: source.metadata.width, height: source.metadata.height } : null).video.map((r) => r.name));
  const packaged = new Map<string, number>([...videoNames].map((n) => [n, 0]));
  let wake: (() => void) | null = null;
  const push = new DiscardingPartSink((rendition, duration) => {
    if (packaged.has(rendition)) packaged.set(rendition, packaged.get(rendition)! + duration);
    wake?.();
  });
  const packagedMin = () => Math.min(...packaged.values());
  /** Resolves on the next packaged part, or false after `ms` without one. */
  const nextPart = (ms: number) =>
    new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        wake = null;
        resolve(false);
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = null;
        resolve(true);
      };
    });
  const events: StreamEvent[] = [];
  let ended!: () => void;
  const endedPromise = new Promise<void>((resolve) => (ended = resolve));
  const pipeline = new StreamPipeline({
    streamId: "bench",
    caps,
    ladder: DEFAULT_LADDER,
    partTarget: PART_TARGET,
    segmentDuration: SEGMENT_DURATION,
    push,
    log: logger,
    graceMs: 0,
    // Measuring the ladder's speed: the real-time guard must not drop rungs below 1×.
    realtime: { minSpeed: 0, slowPeriodMs: 3_600_000 },
    onEvent: (e) => events.push(e),
    onEnded: () => ended(),
  });
  const session: RtmpPublishSession = new RtmpPublishSession({
    id: "bench",
    streamId: "bench",
    app: "live",
    remoteAddress: "127.0.0.1",
    startedAt: Date.now(),
    requestClose: (reason) => session.finish(reason),
  });
  pipeline.attach(session);
  const stall = (what: string) => new Error(`pipeline stalled ${what} (packaged ${packagedMin().toFixed(1)} s); see bench/out/${label}.log`);
  const cpu0 = process.cpuUsage();
  const t0 = monoMs();
  let t1 = Number.NaN;
  try {
    for (const tag of source.tags) {
      session.pushTag({ type: tag.type, timestamp: tag.timestamp, data: tag.data, arrivalMs: Date.now() });
      const stdin = pipelineStdin(pipeline);
      if (stdin && stdin.writableLength > STDIN_BACKLOG) {
        if (!(await drainedWithin(stdin, 30_000))) throw stall("while feeding");
      }
    }
    // Let the encoder work through the input before ending it: the pipeline gives ffmpeg 5 s to drain after stdin closes.
    while (packagedMin() < source.durationSeconds - 1) {
      if (!(await nextPart(30_000))) throw stall("at the end of the input");
    }
    session.finish("end of source file");
    await endedPromise;
    t1 = monoMs();
  } finally {
    writeFileSync(path.join(OUT_DIR, `${label}.log`), logLines.join(""));
    session.finish("benchmark finished");
  }
  const wallSeconds = (t1 - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const errors = events.filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`pipeline reported errors: ${JSON.stringify(errors.map((e) => e.data))}`);
  const started = logLines.map((l) => JSON.parse(l) as { event?: string; args?: string }).find((l) => l.event === "ffmpeg_started");
  return {
    wallSeconds,
    rtf: source.durationSeconds / wallSeconds,
    nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    packagedSeconds: packagedMin(),
    args: started?.args ?? null,
  };
};

/** The same ffmpeg command with nothing behind it: FLV file on stdin, every output to /dev/null. */
const runBare = async (caps: FfmpegCapabilities, job: TranscodeJob, file: string, source: FlvFile): Promise<RunResult> => {
  const args = buildTranscodeArgs(job);
  const input = openSync(file, "r");
  const sink = openSync("/dev/null", "w");
  const t0 = monoMs();
  const child = spawnTracked(caps.path, args, { stdio: [input, sink, "pipe", ...outputFds(job).map(() => sink)] });
  closeSync(input);
  closeSync(sink);
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const wallSeconds = (monoMs() - t0) / 1000;
  if (code !== 0) throw new Error(`bare ffmpeg exited ${code}: ${stderr.trim()}`);
  return { wallSeconds, rtf: source.durationSeconds / wallSeconds, nodeCpuSeconds: null, packagedSeconds: null, args: args.join(" ") };
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const caps = await probeFfmpeg();
  log(`ffmpeg ${caps.version} (${caps.source}), encoder ${caps.h264Encoder}: ${caps.encoderReasons.join("; ")}`);
  const rows: string[][] = [];
  const figures: Figure[] = [];
  const notes: string[] = [];
  for (const name of s.sources) {
    const args = sourceArgs(name, s.seconds);
    const file = await ensureMedia(mediaFile(`source-${name}${SOURCES[name].fps}`, args, "flv"), args, log);
    const source = readFlvFile(file);
    const job = pipelineJob(caps, source);
    const expectedArgs = buildTranscodeArgs(job).join(" ");
    const cascade: RunResult[] = [];
    const bare: RunResult[] = [];
    for (let i = 0; i < s.repeats; i++) {
      // Alternate the order so warm caches or thermal drift do not favour one side.
      const order = i % 2 === 0 ? (["bare", "cascade"] as const) : (["cascade", "bare"] as const);
      for (const kind of order) {
        log(`${name}30 source, run ${i + 1}/${s.repeats}: ${kind === "bare" ? "bare ffmpeg" : "Cascade pipeline"}…`);
        const r = kind === "bare" ? await runBare(caps, job, file, source) : await runCascade(caps, source, `transcoder-rtf-${name}-${i + 1}`);
        if (kind === "cascade") {
          if (r.args !== expectedArgs) {
            throw new Error(`the pipeline ran different ffmpeg arguments than the bare run would:\n pipeline: ${r.args}\n bare:     ${expectedArgs}`);
          }
          cascade.push(r);
        } else {
          bare.push(r);
        }
        log(`  ${fmt(r.wallSeconds, 1)} s wall, RTF ${fmt(r.rtf)}${r.nodeCpuSeconds !== null ? `, Node CPU ${fmt(r.nodeCpuSeconds, 1)} s, packaged ${fmt(r.packagedSeconds ?? Number.NaN, 1)} s` : ""}`);
      }
    }
    const rtfC = median(cascade.map((r) => r.rtf));
    const rtfB = median(bare.map((r) => r.rtf));
    const span = (rs: RunResult[]) => (rs.length > 1 ? ` (${fmt(Math.min(...rs.map((r) => r.rtf)))}–${fmt(Math.max(...rs.map((r) => r.rtf)))})` : "");
    rows.push(
      [`${name}30`, "Cascade pipeline", `${fmt(rtfC)}×${span(cascade)}`, fmt(median(cascade.map((r) => r.wallSeconds)), 1), fmt(median(cascade.map((r) => r.nodeCpuSeconds!)), 1), fmt(median(cascade.map((r) => r.packagedSeconds!)), 2)],
      [`${name}30`, "bare ffmpeg", `${fmt(rtfB)}×${span(bare)}`, fmt(median(bare.map((r) => r.wallSeconds)), 1), "–", "–"],
    );
    figures.push({ figure: `real-time factor, ${name}30 source`, cascade: `${fmt(rtfC)}×`, baseline: `${fmt(rtfB)}×`, ratio: ratio(rtfC, rtfB, 3) });
    const short = cascade.find((r) => (r.packagedSeconds ?? 0) < source.durationSeconds - 0.6);
    if (short) notes.push(`${name}: a Cascade run packaged only ${fmt(short.packagedSeconds!, 2)} s of ${fmt(source.durationSeconds, 2)} s for the top rung`);
  }
  const table: Table = {
    title: `Real-time factor (media seconds per wall second; median of ${s.repeats}${s.repeats > 1 ? ", range in brackets" : ""})`,
    columns: ["source", "path", "RTF", "wall s", "Node CPU s", "packaged s (top rung)"],
    rows,
  };
  notes.push(
    `Encoder: ${caps.h264Encoder} (${caps.encoderReasons.at(-1)}). Sources are testsrc2 test patterns, which encode far more easily than camera or game footage: read the ratio, not the absolute RTF.`,
    "What differs from production: the FLV tags are handed to the pipeline in process instead of arriving over an RTMP socket (ingest parsing is not measured), and the parts end in a discarding push client instead of HTTP PUTs to an origin. The real-time guard is disabled (minSpeed 0) so a ladder slower than real time is measured instead of degraded.",
    "The bare run reads the FLV file on stdin and writes every output (progress and the four fMP4 pipes) to /dev/null; its arguments are checked to be identical to the ones the pipeline logged.",
  );
  return {
    name: "transcoder-rtf",
    title: "Transcoder real-time factor, default ladder",
    method:
      "RTF = source media duration / wall time from the first input byte to the end of the last part. Cascade: a pre-encoded FLV source (x264 veryfast CBR, 2 s GOP, AAC) " +
      "is fed through StreamPipeline (gpu-transcoder/pipeline/) as fast as it takes it — the same code path an RTMP publish takes after the ingest: " +
      "FLV to ffmpeg's stdin, the ladder arguments from gpu-transcoder/ffmpeg/build-args.ts, the four fMP4 pipes read by LadderRun with shared/mp4's Mp4StreamReader and cut into parts and segments by the PartCutter. " +
      "Baseline: the identical ffmpeg command run bare. Ratio < 1 is Cascade's overhead (both run on the same cores, so Node's CPU competes with the encoders).",
    settings: `default ladder ${DEFAULT_LADDER.video.map((r) => `${r.name} ${r.bitrateKbps}k`).join(", ")} + AAC ${DEFAULT_LADDER.audio.bitrateKbps}k; ${s.seconds} s sources (${s.sources.map((n) => `${n}30`).join(", ")}); ${s.repeats} run(s) per path, alternating order`,
    figures,
    tables: [table],
    notes,
  };
};

export const transcoderRtf: Benchmark = {
  name: "transcoder-rtf",
  title: "Transcoder real-time factor, default ladder",
  summary: "default ladder (720p/480p/360p + AAC) from a 720p30 and a 1080p30 source: Cascade's pipeline vs the same ffmpeg command bare",
  run,
};
