import type { AudioRung, VideoRung } from "../../shared/ladder.ts";
import { OPTIONAL_MOVFLAGS } from "./option-needs.ts";
import { fpsRational } from "./part-plan.ts";
import type { FfmpegCapabilities, H264Encoder } from "./probe.ts";

/** Everything one ladder run needs; `buildTranscodeArgs` turns it into an ffmpeg argument list. */
export interface TranscodeJob {
  encoder: H264Encoder;
  vaapiDevice?: string;
  /** Video rungs with their output fps already capped to the source. */
  video: Array<{ rung: VideoRung; fps: number; gopFrames: number; fragDurationUs: number }>;
  audio: { rung: AudioRung; fragDurationUs: number } | null;
  segmentDuration: number;
  movflags: ReadonlySet<string>;
  statsPeriod: boolean;
  /** Input is FLV on stdin; outputs go to fds 3, 4, … in the order video…, audio, thumbnail. */
  input?: { format: "flv"; url: string } | { format: "lavfi"; url: string; audioUrl?: string };
  /**
   * A JPEG of the latest frame every `intervalSeconds` (the first at once), `width` wide, written
   * as concatenated JPEGs (image2pipe) to the fd after the renditions'. Absent or null: none.
   */
  thumbnail?: { intervalSeconds: number; width: number } | null;
  /** The binary has the per-output `-fps_mode` (ffmpeg ≥ 5.1); see thumbnailChain. */
  fpsMode?: boolean;
  /** The binary's scale filter has `force_divisible_by` (ffmpeg ≥ 4.3); see rungScale. */
  scaleDivisibleBy?: boolean;
}

/** The job fields that follow from what the binary supports (probe.ts). */
export const binaryJobOptions = (caps: FfmpegCapabilities): Pick<TranscodeJob, "movflags" | "statsPeriod" | "fpsMode" | "scaleDivisibleBy"> => ({
  movflags: caps.movflags,
  statsPeriod: caps.statsPeriod,
  fpsMode: caps.fpsMode ?? false,
  scaleDivisibleBy: caps.scaleDivisibleBy ?? false,
});

/** Output file descriptor of each rendition: video rungs first, then audio. */
export const outputFds = (job: TranscodeJob): number[] => job.video.map((_, i) => 3 + i).concat(job.audio ? [3 + job.video.length] : []);

/** The thumbnail output's fd (after every rendition's), or null when the job has none. */
export const thumbnailFd = (job: TranscodeJob): number | null =>
  job.thumbnail && job.thumbnail.intervalSeconds > 0 ? 3 + job.video.length + (job.audio ? 1 : 0) : null;

/**
 * The thumbnail branch of the filter graph: `select` passes the first frame and then the first one
 * at least an interval after the last passed (so the first thumbnail comes with the first frame;
 * `fps=1/N` would hold its first output until a frame N/2…N s later, since it waits for the next
 * frame to decide), then scale to the width with an even height, full range for JPEG.
 *
 * image2pipe is a constant-frame-rate output to ffmpeg, which would duplicate the selected frame
 * up to the source frame rate: where the binary has `-fps_mode` the output is `passthrough`;
 * older binaries (whose `-vsync` is global) get timestamps one source frame apart instead, which
 * constant-rate sync passes through as they are. (`-r 1/N` would insert an fps filter, delaying
 * each thumbnail by one interval.)
 */
const thumbnailChain = (job: TranscodeJob, input: string): string => {
  const t = job.thumbnail!;
  const every = Number(t.intervalSeconds.toFixed(3));
  const retime = job.fpsMode ? "" : ",setpts='N/if(gt(FRAME_RATE,0),FRAME_RATE,25)/TB'";
  return `${input}select='isnan(prev_selected_t)+gte(t-prev_selected_t,${every})'${retime},scale=${t.width}:-2:out_range=full,format=yuv420p[thumb]`;
};

/**
 * Fits the source inside the rung's box, keeping its aspect ratio, with even sides (H.264 4:2:0
 * needs them). Where scale lacks `force_divisible_by` the same sizes come from expressions:
 * scale's own decrease rule (each side the smaller of the box's and the other side's rescale,
 * rounded to nearest), then rounded down to even as force_divisible_by=2 does.
 */
export const rungScale = (job: Pick<TranscodeJob, "scaleDivisibleBy">, width: number, height: number): string => {
  if (job.scaleDivisibleBy) return `scale=${width}:${height}:force_original_aspect_ratio=decrease:force_divisible_by=2`;
  const w = `trunc(min(${width},round(${height}*iw/ih))/2)*2`;
  const h = `trunc(min(${height},round(${width}*ih/iw))/2)*2`;
  return `scale=w='${w}':h='${h}'`;
};

const fmp4Flags = (movflags: ReadonlySet<string>): string => {
  const flags = ["frag_keyframe", "empty_moov", "default_base_moof"];
  for (const optional of OPTIONAL_MOVFLAGS) if (movflags.has(optional)) flags.push(optional);
  return `+${flags.join("+")}`;
};

const encoderArgs = (job: TranscodeJob, v: TranscodeJob["video"][number]): string[] => {
  const kbps = v.rung.bitrateKbps;
  const rate = [`-b:v`, `${kbps}k`, `-maxrate`, `${Math.round(kbps * 1.1)}k`, `-bufsize`, `${kbps}k`];
  const gop = ["-g", String(v.gopFrames), "-keyint_min", String(v.gopFrames)];
  switch (job.encoder) {
    case "h264_nvenc":
      return ["-c:v", "h264_nvenc", "-preset", "p2", "-tune", "ll", "-rc", "cbr", "-zerolatency", "1", "-no-scenecut", "1", "-forced-idr", "1", "-bf", "0", "-profile:v", v.rung.profile, ...gop, ...rate];
    case "h264_vaapi":
      return ["-c:v", "h264_vaapi", "-rc_mode", "CBR", "-bf", "0", "-profile:v", v.rung.profile, ...gop, ...rate];
    case "h264_qsv":
      return ["-c:v", "h264_qsv", "-preset", "veryfast", "-look_ahead", "0", "-bf", "0", "-profile:v", v.rung.profile, ...gop, ...rate];
    case "libx264":
      return ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-profile:v", v.rung.profile, "-sc_threshold", "0", "-x264-params", "open-gop=0:scenecut=0", ...gop, ...rate];
  }
};

/**
 * Decode once, split, scale each rung, encode, and write one fragmented MP4 per rendition to its
 * own pipe; each fragment is one LL-HLS part (see part-plan.ts for the fragment duration).
 */
export const buildTranscodeArgs = (job: TranscodeJob): string[] => {
  const input = job.input ?? { format: "flv", url: "pipe:0" };
  const args = ["-hide_banner", "-nostdin", "-loglevel", "warning", "-nostats", "-progress", "pipe:1"];
  if (job.statsPeriod) args.push("-stats_period", "0.5");
  if (job.encoder === "h264_vaapi" && job.vaapiDevice) args.push("-vaapi_device", job.vaapiDevice);
  if (input.format === "flv") {
    args.push("-fflags", "+nobuffer", "-analyzeduration", "1000000", "-f", "flv", "-i", input.url);
  } else {
    // Synthetic input (tests, benchmarks): as fast as the encoders go.
    args.push("-f", "lavfi", "-i", input.url);
    if (input.audioUrl) args.push("-f", "lavfi", "-i", input.audioUrl);
  }
  const n = job.video.length;
  const hw = job.encoder === "h264_vaapi" ? ",format=nv12,hwupload" : "";
  const chains = job.video.map(
    (v, i) =>
      `[s${i}]fps=${fpsRational(v.fps)},${rungScale(job, v.rung.width, v.rung.height)},format=yuv420p${hw}[v${i}]`,
  );
  const thumbFd = thumbnailFd(job);
  // One decode: every rung (and the thumbnail) takes its frames from the same split.
  const branches = n + (thumbFd !== null ? 1 : 0);
  const labels = job.video.map((_, i) => `[s${i}]`).concat(thumbFd !== null ? ["[st]"] : []);
  const split = branches > 1 ? `[0:v]split=${branches}${labels.join("")}` : `[0:v]null[s0]`;
  if (thumbFd !== null) chains.push(thumbnailChain(job, "[st]"));
  args.push("-filter_complex", [split, ...chains].join(";"));
  const fds = outputFds(job);
  const common = (fd: number, fragUs: number) => [
    "-f", "mp4", "-movflags", fmp4Flags(job.movflags), "-frag_duration", String(fragUs), "-flush_packets", "1", `pipe:${fd}`,
  ];
  job.video.forEach((v, i) => {
    // Half a frame of slack so float rounding of t never skips a boundary; -g keeps the same cadence.
    const keyframes = `expr:gte(t,n_forced*${job.segmentDuration}-${(0.5 / v.fps).toFixed(4)})`;
    args.push("-map", `[v${i}]`, "-an", ...encoderArgs(job, v), "-force_key_frames", keyframes, ...common(fds[i]!, v.fragDurationUs));
  });
  if (job.audio) {
    const a = job.audio.rung;
    const audioInput = input.format === "lavfi" && input.audioUrl ? "1:a" : "0:a";
    args.push(
      "-map", audioInput, "-vn", "-c:a", "aac", "-b:a", `${a.bitrateKbps}k`, "-ar", String(a.sampleRate), "-ac", String(a.channels),
      ...common(fds[n]!, job.audio.fragDurationUs),
    );
  }
  if (thumbFd !== null) {
    // mjpeg wants full-range input ("unofficial" admits yuv420p marked full range, avoiding the
    // deprecated yuvj formats); one thread, since frame threads hold each image back until the next.
    args.push(
      "-map", "[thumb]", "-an", "-c:v", "mjpeg", "-q:v", "4", "-threads", "1", "-strict", "unofficial", "-color_range", "pc",
      ...(job.fpsMode ? ["-fps_mode", "passthrough"] : []),
      "-f", "image2pipe", "-flush_packets", "1", `pipe:${thumbFd}`,
    );
  }
  return args;
};
