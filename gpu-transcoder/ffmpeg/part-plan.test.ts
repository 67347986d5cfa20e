import { describe, expect, it } from "vitest";
import { exactFrameDuration, fpsRational, planParts } from "./part-plan.ts";

const check = (fps: number, partTarget: number) => {
  const plan = planParts({ partTarget, segmentDuration: 2, videoFps: [fps], audioSampleRate: 48_000 });
  const v = plan.video.get(fps)!;
  const a = plan.audio!;
  return { plan, v, a };
};

describe("part planning (85 % rule, RFC §4.4.4.9)", () => {
  for (const fps of [25, 29.97, 30, 60]) {
    for (const target of [0.5, 0.2]) {
      it(`${fps} fps, PART-TARGET ${target}: every part ≤ target and ≥ 85 %`, () => {
        const { plan, v, a } = check(fps, target);
        expect(v.partDuration).toBeLessThanOrEqual(plan.partTarget + 1e-9);
        expect(a.partDuration).toBeLessThanOrEqual(plan.partTarget + 1e-9);
        expect(v.partDuration).toBeGreaterThanOrEqual(0.85 * plan.partTarget);
        expect(plan.partTarget).toBeLessThanOrEqual(target + 1e-9);
        // ffmpeg cuts a fragment when the next packet is ≥ frag_duration past its start: n frames.
        expect(Math.ceil(v.fragDurationUs / 1e6 / v.frameDuration)).toBe(v.framesPerPart);
        expect(Math.ceil(a.fragDurationUs / 1e6 / a.frameDuration)).toBe(a.framesPerPart);
        // Segments are whole GOPs; EXTINF rounded stays ≤ TARGETDURATION even for audio, which may run one part over.
        expect(Math.round(plan.segmentDuration + a.partDuration)).toBeLessThanOrEqual(plan.targetDuration);
      });
    }
  }

  it("uses exact NTSC frame durations", () => {
    expect(exactFrameDuration(29.97)).toBeCloseTo(1001 / 30000, 12);
    expect(fpsRational(29.97)).toBe("30000/1001");
    expect(fpsRational(59.94)).toBe("60000/1001");
    expect(fpsRational(30)).toBe("30");
    expect(check(29.97, 0.5).plan.gopFrames.get(29.97)).toBe(60);
  });

  it("30 fps at 0.5 s gives 15-frame parts and 4 parts per 2 s segment", () => {
    const { plan, v } = check(30, 0.5);
    expect(v.framesPerPart).toBe(15);
    expect(plan.partTarget).toBe(0.5);
    expect(plan.segmentDuration).toBeCloseTo(2, 9);
    expect(plan.targetDuration).toBe(2);
  });

  it("rejects part targets outside 0.2–1 s", () => {
    expect(() => planParts({ partTarget: 0.1, segmentDuration: 2, videoFps: [30], audioSampleRate: null })).toThrow(/part target/);
    expect(() => planParts({ partTarget: 2, segmentDuration: 2, videoFps: [30], audioSampleRate: null })).toThrow(/part target/);
  });
});
