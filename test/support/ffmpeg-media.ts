/**
 * Helpers shared by the ingest tests (not part of the module's API): ffmpeg/ffprobe runners and a
 * minimal FLV reader that is deliberately independent of flv.ts.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export interface ProbedStream {
  codec_type: string;
  codec_name: string;
  width?: number;
  height?: number;
  sample_rate?: string;
}

/** Streams ffprobe finds in an FLV file, after decoding a few frames (-count_frames would be slow). */
export const probeFlv = async (file: string): Promise<ProbedStream[]> => {
  const { stdout } = await execFileAsync("ffprobe", ["-v", "error", "-f", "flv", "-show_streams", "-of", "json", file]);
  return (JSON.parse(stdout) as { streams: ProbedStream[] }).streams;
};

/** Decodes every frame with ffmpeg, failing on any decode error or warning; returns ffprobe's video frame count. */
export const decodeAll = async (file: string): Promise<number> => {
  const decoded = await execFileAsync("ffmpeg", ["-v", "error", "-xerror", "-nostdin", "-f", "flv", "-i", file, "-f", "null", "-"]);
  if (decoded.stderr.trim() !== "") throw new Error(`decode errors: ${decoded.stderr}`);
  const { stdout } = await execFileAsync("ffprobe", [
    "-v", "error", "-f", "flv", "-count_frames", "-select_streams", "v:0",
    "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file,
  ]);
  return Number(stdout.trim());
};

export interface ReadTag {
  type: number;
  timestamp: number;
  data: Buffer;
}

/** Splits an FLV file into its header and tags. */
export const readFlv = (file: Buffer): { header: Buffer; tags: ReadTag[] } => {
  if (file.toString("ascii", 0, 3) !== "FLV") throw new Error("not an FLV file");
  const headerSize = file.readUInt32BE(5);
  const tags: ReadTag[] = [];
  let offset = headerSize + 4;
  while (offset + 11 <= file.length) {
    const size = file.readUIntBE(offset + 1, 3);
    const timestamp = (file.readUIntBE(offset + 4, 3) | (file[offset + 7]! << 24)) >>> 0;
    tags.push({ type: file[offset]! & 0x1f, timestamp, data: file.subarray(offset + 11, offset + 11 + size) });
    offset += 11 + size + 4;
  }
  return { header: file.subarray(0, headerSize + 4), tags };
};

export interface FfmpegRun {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Spawns ffmpeg and records it so the test's afterEach can kill whatever is still running. */
export const spawnFfmpeg = (args: string[], running: Set<ChildProcess>): FfmpegRun => {
  const child = spawn("ffmpeg", args, { stdio: ["ignore", "ignore", "pipe"] });
  running.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  return { child, stderr: () => stderr, exited };
};

export const killAll = (running: Set<ChildProcess>): void => {
  for (const child of running) child.kill("SIGKILL");
  running.clear();
};

/** ffmpeg arguments for a short synthetic 320x180 H.264 + AAC source. */
export const testSourceArgs = (seconds: number, realtime: boolean): string[] => [
  "-hide_banner", "-loglevel", "error", "-nostdin",
  ...(realtime ? ["-re"] : []),
  "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30",
  "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
  "-t", String(seconds),
  "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
  "-c:a", "aac",
];
