import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export type H264Encoder = "h264_nvenc" | "h264_vaapi" | "h264_qsv" | "libx264";

export interface FfmpegCapabilities {
  path: string;
  source: "FFMPEG_PATH" | "system" | "@ffmpeg-installer/linux-x64";
  version: string;
  encoders: Set<string>;
  movflags: Set<string>;
  statsPeriod: boolean;
  /** Per-output `-fps_mode` (ffmpeg ≥ 5.1); the thumbnail output uses it when present. */
  fpsMode?: boolean;
  h264Encoder: H264Encoder;
  /** Why that encoder was chosen (each hardware candidate tried and its outcome). */
  encoderReasons: string[];
  vaapiDevice?: string;
}

export const run = (bin: string, args: string[], timeoutMs = 15_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
  new Promise((resolve) => {
    const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: String(err) });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });

const onPath = (name: string): string | null => {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
};

/** FFMPEG_PATH, else the system ffmpeg, else the binary shipped in @ffmpeg-installer/linux-x64. */
export const resolveFfmpeg = (env: Record<string, string | undefined> = process.env): { path: string; source: FfmpegCapabilities["source"] } => {
  if (env.FFMPEG_PATH) return { path: env.FFMPEG_PATH, source: "FFMPEG_PATH" };
  const system = onPath("ffmpeg");
  if (system) return { path: system, source: "system" };
  try {
    const require = createRequire(import.meta.url);
    const pkg = require.resolve("@ffmpeg-installer/linux-x64/package.json");
    const bin = path.join(path.dirname(pkg), "ffmpeg");
    if (existsSync(bin)) return { path: bin, source: "@ffmpeg-installer/linux-x64" };
  } catch {
    // not installed: fall through to the error below
  }
  throw new Error("no ffmpeg found: install ffmpeg, set FFMPEG_PATH, or npm install @ffmpeg-installer/linux-x64");
};

/** Tries one frame through a hardware encoder: a listed encoder is not proof that the device exists. */
const tryEncode = async (bin: string, encoder: H264Encoder, vaapiDevice?: string): Promise<string | null> => {
  const pre = encoder === "h264_vaapi" && vaapiDevice ? ["-vaapi_device", vaapiDevice] : [];
  const vf = encoder === "h264_vaapi" ? ["-vf", "format=nv12,hwupload"] : [];
  const r = await run(bin, [
    "-hide_banner", "-loglevel", "error", ...pre,
    "-f", "lavfi", "-i", "color=black:s=256x144:r=30", "-frames:v", "2", ...vf,
    "-c:v", encoder, "-f", "null", "-",
  ]);
  return r.code === 0 ? null : (r.stderr.trim().split("\n").at(-1) ?? `exit ${r.code}`);
};

/**
 * Probes the ffmpeg binary once: version, encoders, mp4 muxer flags, `-stats_period`, `-fps_mode`, and the
 * H.264 encoder to use (CASCADE_ENCODER forces one; otherwise NVENC, then VAAPI/QSV, then libx264).
 */
export const probeFfmpeg = async (env: Record<string, string | undefined> = process.env): Promise<FfmpegCapabilities> => {
  const { path: bin, source } = resolveFfmpeg(env);
  const [ver, enc, mux, full] = await Promise.all([
    run(bin, ["-hide_banner", "-version"]),
    run(bin, ["-hide_banner", "-encoders"]),
    run(bin, ["-hide_banner", "-h", "muxer=mp4"]),
    run(bin, ["-hide_banner", "-h", "full"]),
  ]);
  if (ver.code !== 0) throw new Error(`ffmpeg at ${bin} does not run: ${ver.stderr.trim()}`);
  const version = /ffmpeg version (\S+)/.exec(ver.stdout)?.[1] ?? "unknown";
  const encoders = new Set([...enc.stdout.matchAll(/^\s*[VAS][A-Z.]{5}\s+(\S+)/gm)].map((m) => m[1]!));
  const flagsBlock = mux.stdout.split("-movflags")[1]?.split(/\n\s*-\w/)[0] ?? "";
  const movflags = new Set([...flagsBlock.matchAll(/^\s+([a-z_]+)\s+E/gm)].map((m) => m[1]!));
  const statsPeriod = /-stats_period\b/.test(full.stdout);
  const fpsMode = /^-fps_mode\b/m.test(full.stdout);
  if (!encoders.has("libx264")) throw new Error(`ffmpeg ${version} at ${bin} has no libx264`);
  if (!movflags.has("empty_moov") || !movflags.has("default_base_moof")) throw new Error(`ffmpeg ${version} cannot write fragmented MP4`);

  const reasons: string[] = [];
  const forced = env.CASCADE_ENCODER as H264Encoder | undefined;
  let chosen: H264Encoder = "libx264";
  let vaapiDevice: string | undefined;
  if (forced) {
    if (!["h264_nvenc", "h264_vaapi", "h264_qsv", "libx264"].includes(forced)) throw new Error(`CASCADE_ENCODER "${forced}" is not supported`);
    chosen = forced;
    reasons.push(`forced by CASCADE_ENCODER`);
  } else {
    const candidates: H264Encoder[] = ["h264_nvenc", "h264_vaapi", "h264_qsv"];
    for (const candidate of candidates) {
      if (!encoders.has(candidate)) {
        reasons.push(`${candidate}: not built into this ffmpeg`);
        continue;
      }
      if (candidate === "h264_nvenc" && !existsSync("/dev/nvidia0") && !existsSync("/dev/nvidiactl")) {
        reasons.push(`${candidate}: no NVIDIA device`);
        continue;
      }
      if (candidate !== "h264_nvenc") {
        const device = ["/dev/dri/renderD128", "/dev/dri/renderD129"].find((d) => existsSync(d));
        if (!device) {
          reasons.push(`${candidate}: no /dev/dri render node`);
          continue;
        }
        if (candidate === "h264_vaapi") vaapiDevice = device;
      }
      const failure = await tryEncode(bin, candidate, vaapiDevice);
      if (failure === null) {
        chosen = candidate;
        reasons.push(`${candidate}: test encode succeeded`);
        break;
      }
      reasons.push(`${candidate}: test encode failed (${failure})`);
    }
    if (chosen === "libx264") reasons.push("libx264: software fallback");
  }
  return { path: bin, source, version, encoders, movflags, statsPeriod, fpsMode, h264Encoder: chosen, encoderReasons: reasons, ...(vaapiDevice ? { vaapiDevice } : {}) };
};
