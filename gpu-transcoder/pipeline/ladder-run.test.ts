import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import type { VideoRung } from "../../shared/ladder.ts";
import { isJpeg, jpegSize } from "../../shared/thumbnail.ts";
import { probeFfmpeg, type FfmpegCapabilities } from "../ffmpeg/probe.ts";
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
