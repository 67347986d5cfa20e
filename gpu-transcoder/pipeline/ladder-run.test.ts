import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LADDER, type VideoRung } from "../../shared/ladder.ts";
import { isJpeg, jpegSize } from "../../shared/thumbnail.ts";
import { binaryJobOptions } from "../ffmpeg/build-args.ts";
import { npmFfmpegPath, probeFfmpeg, type FfmpegCapabilities } from "../ffmpeg/probe.ts";
import { LadderRun } from "./ladder-run.ts";

let caps: FfmpegCapabilities;
beforeAll(async () => {
  caps = await probeFfmpeg({ ...process.env, CASCADE_ENCODER: "libx264" });
});

/** Runs the real ladder args on `seconds` of a 640x360 test pattern (as fast as it encodes) and collects what comes out. */
const runWithThumbnails = async (bin: string, fpsMode: boolean, seconds: number, intervalSeconds: number) => {
  const rung: VideoRung = { name: "90p", width: 160, height: 90, fps: 30, bitrateKbps: 100, profile: "baseline" };
  const thumbnails: Uint8Array[] = [];
  const chunks = new Map<string, number>();
  const run = new LadderRun(
    bin,
    {
      encoder: "libx264",
      video: [{ rung, fps: 30, gopFrames: 60, fragDurationUs: 483333 }],
      audio: null,
      segmentDuration: 2,
      movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe"]),
      statsPeriod: false,
      fpsMode,
      thumbnail: { intervalSeconds, width: 320 },
      input: { format: "lavfi", url: `testsrc2=size=640x360:rate=30:duration=${seconds}` },
    },
    {
      onInit: () => {},
      onChunk: (name) => void chunks.set(name, (chunks.get(name) ?? 0) + 1),
      onProgress: () => {},
      onThumbnail: (jpeg) => thumbnails.push(jpeg),
      onExit: () => {},
    },
    pino({ level: "silent" }),
  );
  await run.exitPromise;
  return { thumbnails, chunks };
};

describe("thumbnail output on real ffmpeg", () => {
  const check = async (bin: string, fpsMode: boolean) => {
    // Frames at 0, 10 and 20 s are selected: one JPEG per interval, the first with the first frame, no duplicates.
    const { thumbnails, chunks } = await runWithThumbnails(bin, fpsMode, 21, 10);
    expect(thumbnails).toHaveLength(3);
    for (const t of thumbnails) {
      expect(isJpeg(t)).toBe(true);
      expect(jpegSize(t)).toEqual({ width: 320, height: 180 });
      expect(t.byteLength).toBeLessThan(512 * 1024);
    }
    // The frames differ (testsrc2 moves): these are the latest frames, not one repeated.
    expect(Buffer.from(thumbnails[0]!).equals(Buffer.from(thumbnails[1]!))).toBe(false);
    // The rendition was encoded alongside: 21 s of 0.5 s parts.
    expect(chunks.get("90p")).toBeGreaterThanOrEqual(40);
  };

  it("the probed ffmpeg, with -fps_mode passthrough where it has it", async () => {
    await check(caps.path, caps.fpsMode ?? false);
  });

  it("the same binary on the fallback path for ffmpeg < 5.1 (frames retimed, constant-rate sync)", async () => {
    await check(caps.path, false);
  });
});

describe("the npm-shipped ffmpeg 4.x (what `npm start` runs without a system ffmpeg)", () => {
  const old = npmFfmpegPath();
  /** The default ladder with audio and thumbnails on 3 s of 720p, with the job options given. */
  const ladder = async (bin: string, options: ReturnType<typeof binaryJobOptions>) => {
    const inits = new Map<string, { width?: number; height?: number }>();
    const chunks = new Map<string, number>();
    let exit: { code: number | null; tail: string } | null = null;
    const run = new LadderRun(
      bin,
      {
        encoder: "libx264",
        video: DEFAULT_LADDER.video.map((rung) => ({ rung, fps: 30, gopFrames: 60, fragDurationUs: 483333 })),
        audio: { rung: DEFAULT_LADDER.audio, fragDurationUs: 480000 },
        segmentDuration: 2,
        ...options,
        thumbnail: { intervalSeconds: 1, width: 320 },
        input: { format: "lavfi", url: "testsrc2=size=1280x720:rate=30:duration=3", audioUrl: "sine=frequency=440:sample_rate=48000:duration=3" },
      },
      {
        onInit: (name, _bytes, info) => void inits.set(name, { width: info.tracks[0]?.width, height: info.tracks[0]?.height }),
        onChunk: (name) => void chunks.set(name, (chunks.get(name) ?? 0) + 1),
        onProgress: () => {},
        onExit: (code, _signal, tail) => (exit = { code, tail }),
      },
      pino({ level: "silent" }),
    );
    await run.exitPromise;
    return { inits, chunks, exit: exit! as { code: number | null; tail: string } };
  };

  it.skipIf(!old)(`encodes every rendition with the arguments built from its probe${old ? "" : " (SKIPPED: the optional dependency @ffmpeg-installer/linux-x64 is not installed)"}`, async () => {
    const caps = await probeFfmpeg({ PATH: process.env.PATH, FFMPEG_PATH: old!, CASCADE_ENCODER: "libx264" });
    const { inits, chunks, exit } = await ladder(old!, binaryJobOptions(caps));
    expect(exit.code, exit.tail).toBe(0);
    expect(Object.fromEntries(inits)).toEqual({
      "720p": { width: 1280, height: 720 },
      "480p": { width: 852, height: 480 },
      "360p": { width: 640, height: 360 },
      audio: { width: undefined, height: undefined },
    });
    for (const name of ["720p", "480p", "360p", "audio"]) expect(chunks.get(name), name).toBeGreaterThanOrEqual(5);
  });

  it.skipIf(!old)(`refuses the arguments built for a modern binary (scale's force_divisible_by): why the probe asks${old ? "" : " (SKIPPED: the optional dependency @ffmpeg-installer/linux-x64 is not installed)"}`, async () => {
    const { exit } = await ladder(old!, { movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe"]), statsPeriod: false, fpsMode: false, scaleDivisibleBy: true });
    expect(exit.code).not.toBe(0);
    expect(exit.tail).toContain("force_divisible_by");
  });
});
