import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Mp4StreamReader, type TrackInfo } from "../../shared/mp4/index.ts";
import { OUT_DIR, ffmpegPath, spawnTracked } from "./proc.ts";

/** One fMP4 fragment = one LL-HLS part, as the transcoder's packager produces them. */
export interface Part {
  bytes: Uint8Array;
  /** Seconds. */
  duration: number;
  /** Starts with a sync sample. */
  independent: boolean;
}

export interface EncodedTrack {
  init: Uint8Array;
  track: TrackInfo;
  parts: Part[];
}

/** Generated media lives here, keyed by a hash of the ffmpeg arguments, so it is encoded once. */
export const MEDIA_DIR = path.join(OUT_DIR, "media");

/** `bench/out/media/<name>-<hash of args>.<ext>`: a change of arguments makes a new file. */
export const mediaFile = (name: string, args: readonly string[], ext: string): string =>
  path.join(MEDIA_DIR, `${name}-${createHash("sha256").update(args.join("\u0000")).digest("hex").slice(0, 12)}.${ext}`);

/** Runs ffmpeg with `args`, its stdout saved to `file` (written under a temporary name, then renamed). */
const ffmpegToFile = (args: string[], file: string): Promise<void> =>
  new Promise((resolve, reject) => {
    mkdirSync(path.dirname(file), { recursive: true });
    const child = spawnTracked(ffmpegPath(), args, { stdio: ["ignore", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout!.on("data", (c: Buffer) => chunks.push(c));
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${stderr.trim()}`));
      const tmp = `${file}.partial`;
      writeFileSync(tmp, Buffer.concat(chunks));
      renameSync(tmp, file);
      resolve();
    });
  });

/**
 * Produces `file` with ffmpeg unless it already exists. The arguments must write the result to
 * stdout (`pipe:1`): fragmented MP4 and FLV come out byte for byte as the transcoder would see them
 * on a pipe.
 */
export const ensureMedia = async (file: string, args: string[], log: (line: string) => void): Promise<string> => {
  if (existsSync(file)) return file;
  log(`generating ${path.relative(process.cwd(), file)} with ffmpeg (once; cached in bench/out/media)`);
  await ffmpegToFile(["-hide_banner", "-loglevel", "error", "-nostdin", ...args], file);
  return file;
};

/**
 * Splits a fragmented MP4 file into its init segment and fragments with the same Mp4StreamReader
 * the transcoder's packager uses; each fragment is one part.
 */
export const readFmp4 = (file: string): EncodedTrack => {
  const reader = new Mp4StreamReader();
  let init: { bytes: Uint8Array; track: TrackInfo } | null = null;
  const parts: Part[] = [];
  for (const ev of [...reader.push(new Uint8Array(readFileSync(file))), ...reader.end()]) {
    if (ev.kind === "init") {
      const track = ev.info.tracks[0];
      if (!track) throw new Error(`${file}: init segment without a track`);
      init = { bytes: ev.bytes, track };
      continue;
    }
    const traf = ev.info.tracks[0];
    if (!traf || !init) continue;
    parts.push({ bytes: ev.bytes, duration: traf.duration / init.track.timescale, independent: traf.samples[0]?.isSync ?? false });
  }
  if (!init) throw new Error(`${file}: no init segment`);
  return { init: init.bytes, track: init.track, parts };
};

/** Output arguments that mux fragmented MP4 to stdout the way the transcoder does (one fragment per part). */
export const fmp4OutputArgs = (fragDurationUs: number): string[] => [
  "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", String(fragDurationUs), "pipe:1",
];

/**
 * Groups parts into segments of exactly `partsPerSegment`. Video segments must open on a keyframe
 * (the GOP is the segment); a trailing short group (end of the encode) is dropped, since the
 * benchmarks loop the segments and a short one would break the cadence.
 */
export const toSegments = (parts: Part[], partsPerSegment: number, requireKeyframes: boolean): Part[][] => {
  const segments: Part[][] = [];
  for (let i = 0; i + partsPerSegment <= parts.length; i += partsPerSegment) {
    const seg = parts.slice(i, i + partsPerSegment);
    if (requireKeyframes && (!seg[0]!.independent || seg.slice(1).some((p) => p.independent))) {
      throw new Error(`fragments do not line up with the GOP at part ${i}: check -g and -frag_duration`);
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw new Error(`encode produced ${parts.length} parts, fewer than one segment of ${partsPerSegment}`);
  return segments;
};

/** libx264 input + codec arguments for a synthetic test pattern, cut into GOP-aligned parts. */
export const testPatternVideoArgs = (o: { width: number; height: number; fps: number; seconds: number; gop: number; bitrateKbps?: number; preset?: string }): string[] => [
  "-f", "lavfi", "-i", `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}`, "-t", String(o.seconds),
  "-c:v", "libx264", "-preset", o.preset ?? "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
  "-g", String(o.gop), "-keyint_min", String(o.gop), "-sc_threshold", "0",
  ...(o.bitrateKbps ? ["-b:v", `${o.bitrateKbps}k`, "-maxrate", `${Math.round(o.bitrateKbps * 1.1)}k`, "-bufsize", `${o.bitrateKbps}k`] : []),
];

export const toneAudioArgs = (o: { seconds: number; bitrateKbps: number; sampleRate: number; channels: number }): string[] => [
  "-f", "lavfi", "-i", `sine=frequency=440:beep_factor=4:sample_rate=${o.sampleRate}`, "-t", String(o.seconds),
  "-c:a", "aac", "-b:a", `${o.bitrateKbps}k`, "-ar", String(o.sampleRate), "-ac", String(o.channels),
];
