import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rungScale } from "./build-args.ts";
import { npmFfmpegPath, run } from "./probe.ts";

/** Source sizes that round differently: 16:9, 4:3, portrait, odd sides, and ratios a hair off 16:9. */
const SOURCES = [[1920, 1080], [1280, 720], [1000, 562], [640, 480], [720, 1280], [853, 480], [1279, 719], [2560, 1081]] as const;
const RUNGS = [[1280, 720], [854, 480], [640, 360]] as const;

let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cascade-scale-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Scales one frame of every source into every rung with the chain build-args writes, in one run
 * of `bin`, and reads each result's size from its PGM header.
 */
const sizes = async (bin: string, scaleDivisibleBy: boolean): Promise<string[]> => {
  const args = ["-hide_banner", "-loglevel", "error", "-y"];
  for (const [w, h] of SOURCES) args.push("-f", "lavfi", "-i", `color=black:size=${w}x${h}:rate=1`);
  const graph: string[] = [];
  const outputs: string[] = [];
  const files: string[] = [];
  SOURCES.forEach((_, s) => {
    graph.push(`[${s}:v]split=${RUNGS.length}${RUNGS.map((__, r) => `[i${s}_${r}]`).join("")}`);
    RUNGS.forEach(([w, h], r) => {
      graph.push(`[i${s}_${r}]${rungScale({ scaleDivisibleBy }, w, h)},format=gray[o${s}_${r}]`);
      const file = path.join(dir, `${path.basename(bin)}-${scaleDivisibleBy}-${s}-${r}.pgm`);
      files.push(file);
      outputs.push("-map", `[o${s}_${r}]`, "-frames:v", "1", "-c:v", "pgm", "-f", "image2", file);
    });
  });
  const r = await run(bin, [...args, "-filter_complex", graph.join(";"), ...outputs], 60_000);
  expect(r.code, r.stderr).toBe(0);
  return Promise.all(
    files.map(async (file) => {
      const header = (await readFile(file)).subarray(0, 32).toString("latin1");
      const m = /^P5\s+(\d+)\s+(\d+)/.exec(header);
      return m ? `${m[1]}x${m[2]}` : `unreadable: ${header}`;
    }),
  );
};

describe("each rung's size, with and without scale's force_divisible_by", () => {
  let reference: string[] = [];

  it("force_divisible_by=2 (ffmpeg ≥ 4.3): inside the box, aspect kept, even sides", async () => {
    reference = await sizes("ffmpeg", true);
    expect(reference).toHaveLength(SOURCES.length * RUNGS.length);
    for (const size of reference) {
      const [w, h] = size.split("x").map(Number);
      expect(w! % 2, size).toBe(0);
      expect(h! % 2, size).toBe(0);
    }
    // 853x480 into 854x480 must not become 853 wide (the odd width libx264 refuses).
    expect(reference[SOURCES.findIndex(([w]) => w === 853) * RUNGS.length + 1]).toBe("852x480");
  });

  it("the expression form gives the same sizes on the same binary", async () => {
    expect(await sizes("ffmpeg", false)).toEqual(reference);
  });

  const old = npmFfmpegPath();
  it.skipIf(!old)(`the expression form gives the same sizes on the npm-shipped ffmpeg 4.x${old ? "" : " (SKIPPED: the optional dependency @ffmpeg-installer/linux-x64 is not installed)"}`, async () => {
    expect(await sizes(old!, false)).toEqual(reference);
  });
});
