import { afterAll, describe, expect, it } from "vitest";
import { Mp4FormatError } from "./errors.ts";
import {
  Fixtures,
  be,
  box,
  concat,
  fullBox,
  probeKeyframes,
  probeStream,
  topLevel,
  type FixtureName,
} from "../../test/support/ffmpeg-fixtures.ts";
import { isSyncSampleFlags, parseFragment, type TrackFragment } from "./fragment-info.ts";
import { parseInitSegment, trackDefaults } from "./init-info.ts";

const fixtures = new Fixtures();
afterAll(() => fixtures.cleanup());

/** Parses a fixture the way the origin sees it: init, then one buffer per moof+mdat. */
const fragmentsOf = (name: FixtureName) => {
  const bytes = fixtures.bytes(name);
  const boxes = topLevel(bytes);
  const moov = boxes.find((b) => b.type === "moov")!;
  const init = parseInitSegment(bytes.subarray(0, moov.end));
  const defaults = trackDefaults(init);
  const fragments = [];
  let start = moov.end;
  for (const b of boxes) {
    if (b.type !== "mdat") continue;
    fragments.push(parseFragment(bytes.subarray(start, b.end), defaults));
    start = b.end;
  }
  const lastMdat = boxes.filter((b) => b.type === "mdat").at(-1)!;
  return { init, fragments, whole: parseFragment(bytes.subarray(moov.end, lastMdat.end), defaults) };
};

const trackOf = (fragment: { tracks: TrackFragment[] }, trackId = 1): TrackFragment =>
  fragment.tracks.find((t) => t.trackId === trackId)!;

describe("parseFragment on ffmpeg output", () => {
  it.each([
    ["video", "v:0", 1],
    ["audio", "a:0", 1],
    ["av", "v:0", 1],
    ["av", "a:0", 2],
  ] as const)("%s %s: samples, durations, sync flags and tfdt agree with ffprobe", (name, selector, trackId) => {
    const { fragments } = fragmentsOf(name);
    const probe = probeStream(fixtures.path(name), selector);
    const tracks = fragments.map((f) => trackOf(f, trackId));
    const samples = tracks.flatMap((t) => t.samples);

    expect(samples).toHaveLength(probe.packets);
    if (selector === "v:0") expect(samples).toHaveLength(probe.frames);
    expect(tracks.reduce((n, t) => n + t.duration, 0)).toBe(probe.durationTs);
    expect(tracks[0]!.baseMediaDecodeTime).toBe(0);
    expect(tracks[0]!.samples[0]!.isSync).toBe(true);
    for (let i = 1; i < tracks.length; i++) {
      expect(tracks[i]!.baseMediaDecodeTime).toBe(tracks[i - 1]!.baseMediaDecodeTime + tracks[i - 1]!.duration);
    }
    expect(samples.map((s) => s.isSync)).toEqual(probeKeyframes(fixtures.path(name), selector));
    for (const t of tracks) {
      expect(t.duration).toBe(t.samples.reduce((n, s) => n + s.duration, 0));
      expect(t.dataSize).toBe(t.samples.reduce((n, s) => n + s.size, 0));
    }
    expect(fragments.map((f) => f.sequenceNumber)).toEqual(fragments.map((_, i) => i + 1));
  });

  it("cuts 450 ms fragments at 14 frames of 30 fps, and again at each keyframe", () => {
    const { fragments } = fragmentsOf("video");
    const counts = fragments.map((f) => trackOf(f).samples.length);
    // 60-frame GOPs: 14+14+14+14+4 (cut by the keyframe at frame 60), then 14+14+2 to the end.
    expect(counts).toEqual([14, 14, 14, 14, 4, 14, 14, 2]);
    expect(fragments.map((f) => trackOf(f).samples[0]!.isSync)).toEqual([true, false, false, false, false, true, false, false]);
    expect(trackOf(fragments[0]!).duration).toBe(14 * 512);
  });

  it("puts exactly one sample in each fragment with frag_every_frame", () => {
    const { fragments } = fragmentsOf("everyFrame");
    expect(fragments).toHaveLength(30);
    for (const f of fragments) expect(trackOf(f).samples).toHaveLength(1);
  });

  it("reads B-frame composition offsets (high profile)", () => {
    const { fragments } = fragmentsOf("high");
    const offsets = fragments.flatMap((f) => trackOf(f).samples.map((s) => s.compositionOffset));
    expect(offsets.some((o) => o > 0)).toBe(true);
  });

  it("merges several moof+mdat pairs per track and keeps them apart in moofs", () => {
    const { fragments, whole } = fragmentsOf("av");
    expect(whole.moofs).toHaveLength(fragments.length);
    expect(whole.sequenceNumber).toBe(1);
    for (const trackId of [1, 2]) {
      const merged = trackOf(whole, trackId);
      expect(merged.baseMediaDecodeTime).toBe(0);
      expect(merged.samples).toEqual(fragments.flatMap((f) => trackOf(f, trackId).samples));
      expect(merged.duration).toBe(fragments.reduce((n, f) => n + trackOf(f, trackId).duration, 0));
    }
    expect(whole.moofs[0]!.tracks).toEqual(fragments[0]!.tracks);
  });

  it("rejects an init segment, a moof without mdat and sample data outside the mdat", () => {
    const bytes = fixtures.bytes("video");
    const [, moov, moof, mdat] = topLevel(bytes);
    expect(() => parseFragment(bytes.subarray(0, moov!.end))).toThrow(/init segment/);
    expect(() => parseFragment(bytes.subarray(moof!.start, moof!.end))).toThrow(/moof without mdat/);
    // An mdat one byte short that still tiles: the trun now points past it.
    const short = bytes.slice(moof!.start, mdat!.end - 1);
    new DataView(short.buffer).setUint32(moof!.end - moof!.start, mdat!.end - mdat!.start - 1);
    expect(() => parseFragment(short)).toThrow(/outside mdat/);
  });
});

describe("parseFragment on hand-built trun/tfhd variants", () => {
  const mdat = (n: number) => box("mdat", new Uint8Array(n));
  const moofWith = (tfhd: Uint8Array, ...truns: Uint8Array[]) =>
    box("moof", fullBox("mfhd", 0, 0, be(4, 42)), box("traf", tfhd, fullBox("tfdt", 1, 0, be(8, 2 ** 40 + 5)), ...truns));

  /** Builds the moof twice: the trun data-offset (from the moof start) depends on the moof's own size. */
  const withDataOffset = (build: (dataOffset: number) => Uint8Array, dataSize: number): Uint8Array => {
    const moofLen = build(0).length;
    return concat(build(moofLen + 8), mdat(dataSize));
  };

  it("reads every optional trun field, with trun v1 signed composition offsets", () => {
    const tfhd = fullBox("tfhd", 0, 0x020000, be(4, 7));
    // data-offset, first-sample-flags, duration, size, flags, cto
    const bytes = withDataOffset(
      (offset) =>
        moofWith(
          tfhd,
          fullBox(
            "trun", 1, 0x000f05, be(4, 2), be(4, offset), be(4, 0x02000000),
            be(4, 100), be(4, 3), be(4, 0x01010000), be(4, -50),
            be(4, 200), be(4, 4), be(4, 0x01010000), be(4, 70),
          ),
        ),
      7,
    );
    const info = parseFragment(bytes);
    expect(info.sequenceNumber).toBe(42);
    expect(info.tracks).toEqual([
      {
        trackId: 7,
        baseMediaDecodeTime: 2 ** 40 + 5,
        duration: 300,
        dataSize: 7,
        samples: [
          // first-sample-flags overrides the per-sample flags for sample 0
          { duration: 100, size: 3, flags: 0x02000000, compositionOffset: -50, isSync: true },
          { duration: 200, size: 4, flags: 0x01010000, compositionOffset: 70, isSync: false },
        ],
      },
    ]);
  });

  it("falls back to tfhd defaults, then to trex defaults", () => {
    // tfhd: default-base-is-moof, default duration and flags; size comes from trex.
    const tfhd = fullBox("tfhd", 0, 0x020028, be(4, 3), be(4, 512), be(4, 0x01010000));
    const bytes = withDataOffset((offset) => moofWith(tfhd, fullBox("trun", 0, 0x000005, be(4, 3), be(4, offset), be(4, 0x02000000))), 30);
    expect(() => parseFragment(bytes)).toThrow(/no sample size/);
    const info = parseFragment(bytes, new Map([[3, { defaultSampleSize: 10, defaultSampleDuration: 999 }]]));
    expect(info.tracks[0]!.samples.map((s) => [s.duration, s.size, s.isSync])).toEqual([
      [512, 10, true],
      [512, 10, false],
      [512, 10, false],
    ]);
    // trex fills in what tfhd leaves out, duration included.
    const bare = withDataOffset((offset) => moofWith(fullBox("tfhd", 0, 0x020000, be(4, 3)), fullBox("trun", 0, 0x000001, be(4, 1), be(4, offset))), 10);
    expect(parseFragment(bare, new Map([[3, { defaultSampleSize: 10, defaultSampleDuration: 999, defaultSampleFlags: 0x01010000 }]])).tracks[0]!.samples).toEqual([
      { duration: 999, size: 10, flags: 0x01010000, compositionOffset: 0, isSync: false },
    ]);
    // Audio tracks are all sync whatever the flags say.
    const audio = parseFragment(bytes, new Map([[3, { defaultSampleSize: 10, handler: "soun" }]]));
    expect(audio.tracks[0]!.samples.every((s) => s.isSync)).toBe(true);
  });

  it("continues a trun without data-offset where the previous one ended", () => {
    const tfhd = fullBox("tfhd", 0, 0x020018, be(4, 1), be(4, 10), be(4, 5));
    const second = fullBox("trun", 0, 0, be(4, 2));
    const build = (offset: number) => moofWith(tfhd, fullBox("trun", 0, 0x000001, be(4, 2), be(4, offset)), second);
    expect(parseFragment(withDataOffset(build, 20)).tracks[0]!.samples).toHaveLength(4);
    expect(() => parseFragment(withDataOffset(build, 19))).toThrow(/outside mdat/);
  });

  it("refuses a sample_count its trun cannot hold", () => {
    const tfhd = fullBox("tfhd", 0, 0x020018, be(4, 1), be(4, 10), be(4, 5));
    const trun = fullBox("trun", 0, 0x000100, be(4, 0xffffffff));
    expect(() => parseFragment(concat(moofWith(tfhd, trun), mdat(0)))).toThrow(Mp4FormatError);
  });

  it("classifies sample flags per ISO 14496-12", () => {
    expect(isSyncSampleFlags(0x02000000)).toBe(true); // depends on no other sample
    expect(isSyncSampleFlags(0x01010000)).toBe(false); // depends on others, non-sync
    expect(isSyncSampleFlags(0x00010000)).toBe(false); // unknown dependency, non-sync
    expect(isSyncSampleFlags(0x00000000)).toBe(true); // nothing said: sync
  });
});
