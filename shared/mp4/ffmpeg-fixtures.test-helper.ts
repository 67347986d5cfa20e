/**
 * Test-only support (never imported by runtime code, hence the node: imports): generates real
 * ffmpeg output into a temp dir and asks ffprobe for the ground truth to compare against.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { concatBytes } from "../bytes.ts";

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

export const concat = (...parts: Uint8Array[]): Uint8Array => concatBytes(parts);

const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};

/** Builds a box with a 32-bit size from a 4cc and payload parts. */
export const box = (type: string, ...payload: Uint8Array[]): Uint8Array => {
  const body = concat(...payload);
  return concat(u32(8 + body.length), new TextEncoder().encode(type), body);
};

/** Builds a full box: version and 24-bit flags, then the payload. */
export const fullBox = (type: string, version: number, flags: number, ...payload: Uint8Array[]): Uint8Array =>
  box(type, new Uint8Array([version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff]), ...payload);

/** Big-endian fields: `be(4, x)` is a u32, `be(8, x)` a u64. */
export const be = (bytes: 1 | 2 | 3 | 4 | 8, value: number): Uint8Array => {
  const b = new Uint8Array(bytes);
  let v = BigInt(value) & ((1n << BigInt(bytes * 8)) - 1n);
  for (let i = bytes - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
};

/** Offsets of top-level boxes of a type, for slicing fixtures into pieces. */
export const topLevel = (bytes: Uint8Array): { type: string; start: number; end: number }[] => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: { type: string; start: number; end: number }[] = [];
  for (let at = 0; at + 8 <= bytes.length; ) {
    const size = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    out.push({ type, start: at, end: at + size });
    if (size < 8) break;
    at += size;
  }
  return out;
};
