import { Mp4StreamReader, type TrackInfo } from "../../shared/mp4/index.ts";
import { FFMPEG, spawnTracked } from "./proc.ts";

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

/**
 * Runs ffmpeg with the given input and codec arguments, muxing fragmented MP4 to stdout the way the
 * transcoder does (frag_keyframe + empty_moov + default_base_moof, one fragment per part), and
 * splits the stream with the same Mp4StreamReader the packager uses.
 */
export const encodeFmp4 = (inputAndCodecArgs: string[], fragDurationUs: number): Promise<EncodedTrack> =>
  new Promise((resolve, reject) => {
    const args = [
      "-hide_banner", "-loglevel", "error", "-nostdin", ...inputAndCodecArgs,
      "-f", "mp4", "-movflags", "+frag_keyframe+empty_moov+default_base_moof", "-frag_duration", String(fragDurationUs), "pipe:1",
    ];
    const child = spawnTracked(FFMPEG, args, { stdio: ["ignore", "pipe", "pipe"] });
    const reader = new Mp4StreamReader();
    let init: { bytes: Uint8Array; track: TrackInfo } | null = null;
    const parts: Part[] = [];
    let stderr = "";
    let failure: unknown = null;
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.stdout!.on("data", (chunk: Buffer) => {
      if (failure) return;
      try {
        for (const ev of reader.push(new Uint8Array(chunk))) {
          if (ev.kind === "init") {
            const track = ev.info.tracks[0];
            if (!track) throw new Error("init segment without a track");
            init = { bytes: ev.bytes, track };
            continue;
          }
          const traf = ev.info.tracks[0];
          if (!traf || !init) continue;
          parts.push({ bytes: ev.bytes, duration: traf.duration / init.track.timescale, independent: traf.samples[0]?.isSync ?? false });
        }
      } catch (err) {
        failure = err;
      }
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${stderr.trim()}`));
      if (failure) return reject(failure as Error);
      if (!init) return reject(new Error("ffmpeg wrote no init segment"));
      const { bytes, track } = init;
      resolve({ init: bytes, track, parts });
    });
  });

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
