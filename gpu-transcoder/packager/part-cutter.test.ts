import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import type { VideoRung } from "../../shared/ladder.ts";
import { binaryJobOptions } from "../ffmpeg/build-args.ts";
import { planParts } from "../ffmpeg/part-plan.ts";
import { probeFfmpeg, type FfmpegCapabilities } from "../ffmpeg/probe.ts";
import { LadderRun } from "../pipeline/ladder-run.ts";
import { PartCutter, type Chunk, type CutterOutput } from "./part-cutter.ts";

let caps: FfmpegCapabilities;
beforeAll(async () => {
  caps = await probeFfmpeg({ ...process.env, CASCADE_ENCODER: "libx264" });
});

/** Encodes `seconds` of test pattern + tone through the real ladder args and cuts the outputs. */
const cutRealOutput = async (fps: number, partTarget: number, seconds = 6) => {
  const plan = planParts({ partTarget, segmentDuration: 2, videoFps: [fps], audioSampleRate: 48_000 });
  const rung: VideoRung = { name: "180p", width: 320, height: 180, fps, bitrateKbps: 300, profile: "main" };
  const cutters = {
    "180p": new PartCutter({ type: "video", segmentDuration: plan.segmentDuration }),
    audio: new PartCutter({ type: "audio", segmentDuration: plan.segmentDuration }),
  };
  const outputs: Record<string, CutterOutput[]> = { "180p": [], audio: [] };
  const rate = fps === 29.97 ? "30000/1001" : String(fps);
  const run = new LadderRun(
    caps.path,
    {
      encoder: "libx264",
      video: [{ rung, fps, gopFrames: plan.gopFrames.get(fps)!, fragDurationUs: plan.video.get(fps)!.fragDurationUs }],
      audio: { rung: { name: "audio", bitrateKbps: 96, sampleRate: 48_000, channels: 2, language: "en" }, fragDurationUs: plan.audio!.fragDurationUs },
      segmentDuration: plan.segmentDuration,
      ...binaryJobOptions(caps),
      input: { format: "lavfi", url: `testsrc2=size=320x180:rate=${rate}:duration=${seconds}`, audioUrl: `sine=frequency=440:sample_rate=48000:duration=${seconds}` },
    },
    {
      onInit: () => {},
      onChunk: (name: string, chunk: Chunk) => {
        const key = name as keyof typeof cutters;
        outputs[key]!.push(...cutters[key].push(chunk));
      },
      onProgress: () => {},
      onExit: () => {},
    },
    pino({ level: "silent" }),
  );
  await run.exitPromise;
  for (const key of Object.keys(cutters) as Array<keyof typeof cutters>) outputs[key]!.push(...cutters[key].flush());
  return { plan, outputs };
};

const parts = (o: CutterOutput[]) => o.filter((x): x is Extract<CutterOutput, { kind: "part" }> => x.kind === "part");
const segments = (o: CutterOutput[]) => o.filter((x): x is Extract<CutterOutput, { kind: "segment" }> => x.kind === "segment");

describe("part cutting on real ffmpeg output", () => {
  for (const [fps, target] of [[25, 0.5], [29.97, 0.5], [30, 0.5], [60, 0.5], [30, 0.2], [29.97, 0.2]] as const) {
    it(`${fps} fps, PART-TARGET ${target}`, async () => {
      const { plan, outputs } = await cutRealOutput(fps, target);
      for (const [name, out] of Object.entries(outputs)) {
        const ps = parts(out);
        const segs = segments(out);
        expect(ps.length, name).toBeGreaterThan(4);
        for (const p of ps) {
          expect(p.duration, `${name} ${p.msn}.${p.part}`).toBeLessThanOrEqual(plan.partTarget + 1e-6);
          const lastOfSegment = !ps.some((q) => q.msn === p.msn && q.part === p.part + 1);
          if (!p.independent && !lastOfSegment) expect(p.duration, `${name} ${p.msn}.${p.part}`).toBeGreaterThanOrEqual(0.85 * plan.partTarget);
        }
        // Every segment starts with an independent part (a keyframe for video).
        for (const p of ps.filter((q) => q.part === 0)) expect(p.independent).toBe(true);
        for (const s of segs.slice(0, -1)) {
          expect(Math.round(s.duration), `${name} seg ${s.msn}`).toBeLessThanOrEqual(plan.targetDuration);
          expect(s.duration).toBeGreaterThan(plan.segmentDuration - 0.5);
        }
        // Parts of a segment add up to the segment.
        for (const s of segs) {
          const sum = ps.filter((p) => p.msn === s.msn).reduce((a, p) => a + p.duration, 0);
          expect(sum).toBeCloseTo(s.duration, 6);
        }
      }
      // Video segments are whole GOPs; video and audio stay on the same MSNs.
      const video = segments(outputs["180p"]!);
      for (const s of video.slice(0, -1)) expect(s.duration).toBeCloseTo(plan.segmentDuration, 3);
      expect(segments(outputs.audio!).length).toBe(video.length);
    });
  }

  it("marks the first part after a new run discontinuous and keeps numbering", () => {
    const cutter = new PartCutter({ type: "video", segmentDuration: 2 });
    const chunk = (t: number, sync: boolean): Chunk => ({ bytes: new Uint8Array(10), startTicks: t * 1000, durationTicks: 500, timescale: 1000, startsWithSync: sync });
    const first = [0, 0.5, 1, 1.5, 2, 2.5].flatMap((t) => cutter.push(chunk(t, t % 2 === 0)));
    expect(segments(first).map((s) => s.msn)).toEqual([0]);
    const flushed = cutter.startNewRun();
    expect(segments(flushed).map((s) => [s.msn, s.duration])).toEqual([[1, 1]]);
    const next = cutter.push(chunk(0, true));
    expect(parts(next)[0]).toMatchObject({ msn: 2, part: 0, discontinuity: true, independent: true });
    expect(parts(cutter.push(chunk(0.5, false)))[0]).toMatchObject({ msn: 2, part: 1, discontinuity: false });
  });
});

describe("continuing the origin's playlists after another run (failover)", () => {
  const chunk = (start: number, sync: boolean): Chunk => ({ startTicks: start * 1000, durationTicks: 500, timescale: 1000, startsWithSync: sync, bytes: new Uint8Array(10) });

  it("the open segment keeps its number; the next one jumps to the origin's next MSN as a discontinuity", () => {
    const cutter = new PartCutter({ type: "video", segmentDuration: 2 });
    const out: CutterOutput[] = [];
    out.push(...cutter.push(chunk(0, true)), ...cutter.push(chunk(0.5, false)));
    cutter.continueAt(40);
    for (const t of [1, 1.5, 2, 2.5, 3, 3.5, 4]) out.push(...cutter.push(chunk(t, t % 2 === 0)));
    const parts = out.filter((o) => o.kind === "part");
    expect(parts.map((p) => `${p.msn}.${p.part}`)).toEqual(["0.0", "0.1", "0.2", "0.3", "40.0", "40.1", "40.2", "40.3", "41.0"]);
    expect(parts.filter((p) => p.discontinuity).map((p) => p.msn)).toEqual([40]);
    expect(out.filter((o) => o.kind === "segment").map((o) => o.msn)).toEqual([0, 40]);
  });

  it("a jump to an MSN it already passed changes nothing", () => {
    const cutter = new PartCutter({ type: "audio", segmentDuration: 2, startMsn: 10 });
    cutter.continueAt(3);
    const parts = [0, 0.5, 1, 1.5, 2].flatMap((t) => cutter.push(chunk(t, true))).filter((o) => o.kind === "part");
    expect(parts.map((p) => p.msn)).toEqual([10, 10, 10, 10, 11]);
    expect(parts.some((p) => p.discontinuity)).toBe(false);
  });
});
