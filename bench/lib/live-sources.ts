/**
 * Live media for edge-latency: one publisher feeding both systems, and the classic-HLS packager of
 * the baseline.
 *
 * Publisher: one ffmpeg, one encode (test pattern 640x360@30 with a burnt-in capture clock + a
 * tone; libx264 veryfast, tune zerolatency, a keyframe every 2 s; AAC), sent by the tee muxer to
 * several RTMP servers at once (Cascade's ingest and nginx-rtmp), so both get the same packets at
 * the same moment. The clock is the wall clock (UTC, milliseconds) when the frame was made: a
 * `setpts=RTCTIME` step puts the wall clock into the timestamps just long enough for drawtext to
 * print it, then the timestamps go back to a steady 30 fps.
 *
 * Packager (baseline): ffmpeg's hls muxer pulling the stream from nginx-rtmp (`-c copy`, 2 s
 * segments, `program_date_time+independent_segments+delete_segments`, the way Owncast packages),
 * writing into a directory nginx serves. ffmpeg stamps the first segment's PROGRAM-DATE-TIME with
 * the wall clock when its muxer starts — after probing the input, so (measured in development) 1 to
 * 2 s after that segment's first frame arrived — and adds segment durations from there: its PDT is
 * later than the arrival clock by a constant, and hls.js's `playingDate` would understate the
 * baseline's latency by that much. The packager logs (verbose) "Opening 'segN.ts'" when it writes
 * segment N out, which is when N is complete: when the first frame of N + 1 arrives. So
 * PDT(N + 1) − that log line's wall time measures the constant (`pdtOffsets`, the largest over the
 * segments: a log line can come late, never early), against the same
 * clock Cascade's PDT uses (the wall clock when the segment's first frame reached the node). The log
 * line comes about 35 ms after the frame arrives (the muxer interleaves audio and video first), which
 * makes the corrected baseline that much lower (in its favour).
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync, mkdirSync } from "node:fs";
import { ffmpegPath, spawnTracked, stopChild } from "./proc.ts";

/** Wall clock with sub-millisecond resolution (Date.now() is whole milliseconds). */
export const wallMs = (): number => performance.timeOrigin + performance.now();

const FONT = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"].find((f) => existsSync(f));

export interface PublisherOptions {
  /** RTMP URLs (with stream key / name) that all receive the same encoded stream. */
  outputs: string[];
  width: number;
  height: number;
  fps: number;
  videoKbps: number;
  /** Keyframe interval in seconds. */
  gopSeconds: number;
}

/** ffmpeg arguments of the tee publisher (exported for the report). */
export const publisherArgs = (o: PublisherOptions): string[] => {
  // Seconds at 00:00 UTC today: drawtext prints (wall clock − midnight) as HH:MM:SS.mmm.
  const midnight = Math.floor(Date.now() / 86_400_000) * 86_400;
  const clock = FONT
    ? `,settb=1/1000,setpts=RTCTIME/1000,drawtext=fontfile=${FONT}:text='%{pts\\:hms\\:-${midnight}} UTC':fontsize=${Math.round(o.height / 9)}:fontcolor=white:box=1:boxcolor=black@0.7:x=(w-tw)/2:y=h-th-${Math.round(o.height / 10)},settb=1/${o.fps},setpts=N`
    : "";
  const gop = Math.round(o.fps * o.gopSeconds);
  return [
    "-hide_banner", "-loglevel", "error", "-nostdin",
    // One lavfi input for picture and tone: with two inputs ffmpeg reads each in a thread that
    // queues packets ahead of -re's schedule, and the clock would be stamped that much early.
    "-re", "-f", "lavfi", "-i", `testsrc2=size=${o.width}x${o.height}:rate=${o.fps}${clock}[out0];sine=frequency=440:beep_factor=4:sample_rate=48000[out1]`,
    "-map", "0:v", "-map", "0:a",
    "-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
    "-g", String(gop), "-keyint_min", String(gop), "-sc_threshold", "0",
    "-b:v", `${o.videoKbps}k`, "-maxrate", `${o.videoKbps}k`, "-bufsize", `${o.videoKbps}k`,
    "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2",
    // The tee muxer cannot tell the encoders that FLV wants global headers (AVC/AAC sequence headers).
    "-flags", "+global_header",
    "-f", "tee", o.outputs.map((url) => `[f=flv]${url}`).join("|"),
  ];
};

export interface RunningProcess {
  child: ChildProcess;
  /** The last lines ffmpeg wrote to stderr. */
  stderrTail(): string;
  stop(): Promise<void>;
}

const collectTail = (child: ChildProcess, onLine?: (line: string, atMs: number) => void): (() => string) => {
  let tail = "";
  let partial = "";
  child.stderr!.on("data", (d: Buffer) => {
    const at = wallMs();
    const text = d.toString();
    tail = (tail + text).slice(-4000);
    if (!onLine) return;
    const lines = (partial + text).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line, at);
  });
  return () => tail.trim();
};

export const startPublisher = (o: PublisherOptions): RunningProcess => {
  const child = spawnTracked(ffmpegPath(), publisherArgs(o), { stdio: ["ignore", "ignore", "pipe"] });
  const tail = collectTail(child);
  return { child, stderrTail: tail, stop: () => stopChild(child, 3000) };
};

export interface PackagerOptions {
  /** rtmp://…/live/<name> on nginx-rtmp. */
  input: string;
  /** Directory for index.m3u8 and seg<N>.ts (nginx serves it). */
  dir: string;
  segmentSeconds: number;
  listSize: number;
}

export const packagerArgs = (o: PackagerOptions): string[] => [
  "-hide_banner", "-nostdin", "-nostats", "-loglevel", "verbose",
  "-rtmp_live", "live", "-i", o.input,
  "-map", "0", "-c", "copy",
  "-f", "hls", "-hls_time", String(o.segmentSeconds), "-hls_list_size", String(o.listSize),
  "-hls_flags", "program_date_time+independent_segments+delete_segments",
  "-hls_segment_filename", `${o.dir}/seg%d.ts`,
  `${o.dir}/index.m3u8`,
];

export interface RunningPackager extends RunningProcess {
  playlistFile: string;
  /** Segments listed in the playlist right now (with their PROGRAM-DATE-TIME, ms since the epoch). */
  readPlaylist(): Array<{ sequence: number; pdtMs: number; duration: number }>;
  /** Remembers the PDT of every segment listed now (call every second or so: old ones drop out of the list). */
  poll(): void;
  /**
   * PDT − the wall clock when the segment's first frame reached the packager, per segment seen
   * (the first segment excluded: its file is opened before any frame arrives).
   */
  pdtOffsets(): number[];
}

const SEGMENT_OPEN = /Opening '.*\/seg(\d+)\.ts' for writing/;
const PDT = /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/;

/** ffmpeg writes `+0000`; Date.parse wants `+00:00`. */
const parsePdt = (value: string): number => Date.parse(value.trim().replace(/([+-]\d\d)(\d\d)$/, "$1:$2"));

export const startPackager = (o: PackagerOptions): RunningPackager => {
  rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true });
  const opened = new Map<number, number>();
  const pdts = new Map<number, number>();
  const child = spawnTracked(ffmpegPath(), packagerArgs(o), { stdio: ["ignore", "ignore", "pipe"] });
  const tail = collectTail(child, (line, at) => {
    const m = SEGMENT_OPEN.exec(line);
    if (m) opened.set(Number(m[1]), at);
  });
  const playlistFile = `${o.dir}/index.m3u8`;
  const readPlaylist = () => {
    if (!existsSync(playlistFile)) return [];
    const lines = readFileSync(playlistFile, "utf8").split("\n");
    const out: Array<{ sequence: number; pdtMs: number; duration: number }> = [];
    let pdt = Number.NaN;
    let duration = Number.NaN;
    for (const line of lines) {
      const p = PDT.exec(line);
      if (p) pdt = parsePdt(p[1]!);
      else if (line.startsWith("#EXTINF:")) duration = Number.parseFloat(line.slice(8));
      else {
        const seg = /^seg(\d+)\.ts$/.exec(line.trim());
        if (seg) {
          out.push({ sequence: Number(seg[1]), pdtMs: pdt, duration });
          pdt = Number.NaN;
        }
      }
    }
    return out;
  };
  return {
    child,
    stderrTail: tail,
    playlistFile,
    readPlaylist,
    poll() {
      for (const s of readPlaylist()) if (Number.isFinite(s.pdtMs)) pdts.set(s.sequence, s.pdtMs);
    },
    pdtOffsets() {
      // Segment N's file is written when N is complete, i.e. when the first frame of N + 1 arrives.
      return [...pdts.entries()].filter(([seq]) => opened.has(seq - 1)).map(([seq, pdt]) => pdt - opened.get(seq - 1)!);
    },
    stop: () => stopChild(child, 3000),
  };
};

/**
 * The constant to add to the baseline's measured latency (see the file comment). A log line can only
 * come late (the packager busy, the machine loaded), never early, so each offset is the true one
 * minus some delay: the largest offset is the best estimate.
 */
export const pdtCorrection = (offsets: number[]): { offsetMs: number; spreadMs: number } => ({
  offsetMs: offsets.length ? Math.max(...offsets) : Number.NaN,
  spreadMs: offsets.length ? Math.max(...offsets) - Math.min(...offsets) : Number.NaN,
});
