/**
 * Test-only support (never imported by runtime code, hence the node: imports): generates real
 * ffmpeg output into a temp dir and asks ffprobe for the ground truth to compare against.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const FFMPEG = process.env.FFMPEG_PATH ?? "/usr/bin/ffmpeg";
const FFPROBE = process.env.FFPROBE_PATH ?? "/usr/bin/ffprobe";

const FRAGMENTED = ["-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof"];
const VIDEO_SRC = ["-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30"];
const AUDIO_SRC = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"];

/** Named ffmpeg invocations (input + encode args, without the output path). */
export const FIXTURES = {
  /** The transcoder's shape: 30 fps, 2 s GOP, 450 ms fragments. */
  video: [
    ...VIDEO_SRC, ...AUDIO_SRC, "-t", "3", "-map", "0:v", "-c:v", "libx264", "-profile:v", "main", "-preset", "ultrafast",
    "-g", "60", "-keyint_min", "60", "-sc_threshold", "0", ...FRAGMENTED, "-frag_duration", "450000", "-flush_packets", "1",
  ],
  audio: [...AUDIO_SRC, "-t", "3", "-c:a", "aac", "-b:a", "128k", ...FRAGMENTED, "-frag_duration", "450000"],
  /** Muxed A/V with prft boxes ahead of each moof: two trafs per moof. */
  av: [
    ...VIDEO_SRC, ...AUDIO_SRC, "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-c:a", "aac",
    ...FRAGMENTED, "-frag_duration", "450000", "-write_prft", "wallclock",
  ],
  everyFrame: [
    ...VIDEO_SRC, "-t", "1", "-c:v", "libx264", "-preset", "ultrafast", "-g", "30", "-f", "mp4",
    "-movflags", "frag_keyframe+empty_moov+default_base_moof+frag_every_frame",
  ],
  // ultrafast turns off CABAC and B-frames, so x264 then signals Constrained Baseline whatever
  // -profile:v says; veryfast keeps the features that make main and high real.
  baseline: [...VIDEO_SRC, "-t", "0.5", "-c:v", "libx264", "-profile:v", "baseline", "-preset", "veryfast", ...FRAGMENTED],
  main: [...VIDEO_SRC, "-t", "0.5", "-c:v", "libx264", "-profile:v", "main", "-preset", "veryfast", ...FRAGMENTED],
  high: [...VIDEO_SRC, "-t", "0.5", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", ...FRAGMENTED],
  hevc: [
    ...VIDEO_SRC, "-t", "0.5", "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
    "-tag:v", "hvc1", ...FRAGMENTED,
  ],
  /** A progressive (non-fragmented) MP4: what a misconfigured pusher would send. */
  progressive: [...VIDEO_SRC, "-t", "0.5", "-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4"],
} satisfies Record<string, string[]>;

export type FixtureName = keyof typeof FIXTURES;

export const hasEncoder = (name: string): boolean =>
  execFileSync(FFMPEG, ["-hide_banner", "-encoders"], { encoding: "utf8" }).includes(` ${name} `);

/** A temp dir of generated files; each fixture is encoded on first use. */
export class Fixtures {
  readonly dir = mkdtempSync(join(tmpdir(), "cascade-mp4-"));
  private readonly cache = new Map<FixtureName, Uint8Array>();

  path(name: FixtureName): string {
    return join(this.dir, `${name}.mp4`);
  }

  bytes(name: FixtureName): Uint8Array {
    let bytes = this.cache.get(name);
    if (!bytes) {
      const out = this.path(name);
      execFileSync(FFMPEG, ["-hide_banner", "-loglevel", "error", "-y", ...FIXTURES[name], out], { stdio: "pipe" });
      // A plain Uint8Array, as a Worker would see it, not a Node Buffer.
      bytes = new Uint8Array(readFileSync(out));
      this.cache.set(name, bytes);
    }
    return bytes;
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface ProbedStream {
  codecTag: string;
  profile: string;
  level: number;
  timeBase: string;
  durationTs: number;
  packets: number;
  frames: number;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
}

export const probeStream = (file: string, selector: "v:0" | "a:0"): ProbedStream => {
  const out = execFileSync(
    FFPROBE,
    ["-v", "error", "-count_frames", "-count_packets", "-select_streams", selector, "-show_streams", "-of", "json", file],
    { encoding: "utf8" },
  );
  const s = (JSON.parse(out) as { streams: Record<string, string | number>[] }).streams[0]!;
  const num = (key: string): number | undefined => (s[key] === undefined ? undefined : Number(s[key]));
  return {
    codecTag: String(s.codec_tag_string),
    profile: String(s.profile),
    level: Number(s.level),
    timeBase: String(s.time_base),
    durationTs: Number(s.duration_ts),
    packets: Number(s.nb_read_packets),
    frames: Number(s.nb_read_frames),
    width: num("width"),
    height: num("height"),
    sampleRate: num("sample_rate"),
    channels: num("channels"),
  };
};

/** Per-packet keyframe flags in decode order. */
export const probeKeyframes = (file: string, selector: "v:0" | "a:0"): boolean[] =>
  execFileSync(FFPROBE, ["-v", "error", "-select_streams", selector, "-show_entries", "packet=flags", "-of", "csv=p=0", file], {
    encoding: "utf8",
  })
    .trim()
    .split("\n")
    .map((line) => line.startsWith("K"));

/** Deterministic PRNG (mulberry32) so random chunkings reproduce. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};
export { be, box, concat, fullBox, topLevel } from "./mp4-boxes.ts";
