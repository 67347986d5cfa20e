import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { helpArgs, parseComponentList } from "./help-options.ts";
import { ENCODER_NEEDS, HelpIndex, OPTIONAL_NEEDS, REQUIRED_NEEDS, topicsOf, type HelpTexts } from "./option-needs.ts";

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
  /** scale's `force_divisible_by` (ffmpeg ≥ 4.3); without it each rung's even size is an expression. */
  scaleDivisibleBy?: boolean;
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

/** The static ffmpeg shipped in the optional dependency @ffmpeg-installer/linux-x64 (4.x), or null where it is not installed. */
export const npmFfmpegPath = (): string | null => {
  try {
    const pkg = createRequire(import.meta.url).resolve("@ffmpeg-installer/linux-x64/package.json");
    const bin = path.join(path.dirname(pkg), "ffmpeg");
    return existsSync(bin) ? bin : null;
  } catch {
    return null; // not installed
  }
};

/** FFMPEG_PATH, else the system ffmpeg, else the binary shipped in @ffmpeg-installer/linux-x64. */
export const resolveFfmpeg = (env: Record<string, string | undefined> = process.env): { path: string; source: FfmpegCapabilities["source"] } => {
  if (env.FFMPEG_PATH) return { path: env.FFMPEG_PATH, source: "FFMPEG_PATH" };
  const system = onPath("ffmpeg");
  if (system) return { path: system, source: "system" };
  const shipped = npmFfmpegPath();
  if (shipped) return { path: shipped, source: "@ffmpeg-installer/linux-x64" };
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

/** What every run needs, libx264 (the fallback) included; a hardware encoder's needs are read once its device is found. */
const BASE_NEEDS = [...REQUIRED_NEEDS, ...Object.values(OPTIONAL_NEEDS), ...ENCODER_NEEDS.libx264!];

/** Prints each help topic (in parallel: each is a short run of the binary). */
export const readHelp = async (bin: string, topics: readonly string[]): Promise<HelpTexts> => {
  const texts = await Promise.all(topics.map((t) => run(bin, helpArgs(t))));
  return new Map(topics.map((t, i) => [t, texts[i]!.code === 0 ? texts[i]!.stdout : ""]));
};

/** What of `OPTIONAL_NEEDS` and the optional movflags the binary has, from its help. */
export const optionalCapabilities = (help: HelpIndex): Pick<FfmpegCapabilities, "movflags" | "statsPeriod" | "fpsMode" | "scaleDivisibleBy"> => ({
  movflags: new Set(help.options("muxer=mp4")?.get("movflags") ?? []),
  statsPeriod: help.has(OPTIONAL_NEEDS.statsPeriod),
  fpsMode: help.has(OPTIONAL_NEEDS.fpsMode),
  scaleDivisibleBy: help.has(OPTIONAL_NEEDS.scaleDivisibleBy),
});

/**
 * Probes the ffmpeg binary once: version, encoders, and every option the ladder's arguments use
 * (option-needs.ts), so a binary that lacks a required one is refused here with the list rather
 * than failing each run; the optional ones (`-stats_period`, `-fps_mode`, scale's
 * `force_divisible_by`, the newer movflags) choose the arguments. Then the H.264 encoder
 * (CASCADE_ENCODER forces one; otherwise NVENC, then VAAPI/QSV, then libx264).
 */
export const probeFfmpeg = async (env: Record<string, string | undefined> = process.env): Promise<FfmpegCapabilities> => {
  const { path: bin, source } = resolveFfmpeg(env);
  const [ver, enc] = await Promise.all([run(bin, ["-hide_banner", "-version"]), run(bin, helpArgs("encoders"))]);
  if (ver.code !== 0) throw new Error(`ffmpeg at ${bin} does not run: ${ver.stderr.trim()}`);
  const version = /ffmpeg version (\S+)/.exec(ver.stdout)?.[1] ?? "unknown";
  const encoders = parseComponentList(enc.stdout);
  if (!encoders.has("libx264")) throw new Error(`ffmpeg ${version} at ${bin} has no libx264`);
  const texts = new Map([["encoders", enc.stdout]]);
  for (const [topic, text] of await readHelp(bin, topicsOf(BASE_NEEDS).filter((t) => !texts.has(t)))) texts.set(topic, text);
  const help = new HelpIndex(texts);
  const missing = help.missing([...REQUIRED_NEEDS, ...ENCODER_NEEDS.libx264!]);
  if (missing.length) throw new Error(`ffmpeg ${version} at ${bin} lacks what the ladder uses: ${missing.join("; ")} (set FFMPEG_PATH to ffmpeg ≥ 4.1)`);
  const optional = optionalCapabilities(help);
  const unmet = async (encoder: H264Encoder): Promise<string[]> => {
    const needs = ENCODER_NEEDS[encoder] ?? [];
    for (const [topic, text] of await readHelp(bin, topicsOf(needs).filter((t) => !texts.has(t)))) texts.set(topic, text);
    return new HelpIndex(texts).missing(needs);
  };

  const reasons: string[] = [];
  const forced = env.CASCADE_ENCODER as H264Encoder | undefined;
  let chosen: H264Encoder = "libx264";
  let vaapiDevice: string | undefined;
  if (forced) {
    if (!["h264_nvenc", "h264_vaapi", "h264_qsv", "libx264"].includes(forced)) throw new Error(`CASCADE_ENCODER "${forced}" is not supported`);
    const lacks = await unmet(forced);
    if (lacks.length) throw new Error(`CASCADE_ENCODER ${forced}: ffmpeg ${version} lacks ${lacks.join("; ")}`);
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
      const lacks = await unmet(candidate);
      if (lacks.length) {
        reasons.push(`${candidate}: this ffmpeg lacks ${lacks.join("; ")}`);
        vaapiDevice = undefined;
        continue;
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
  return { path: bin, source, version, encoders, ...optional, h264Encoder: chosen, encoderReasons: reasons, ...(vaapiDevice ? { vaapiDevice } : {}) };
};
