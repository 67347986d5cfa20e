import { afterAll, describe, expect, it } from "vitest";
import {
  childBoxes,
  findPath,
  iterateBoxes,
  listBoxes,
  readBoxHeader,
  validateInitSegment,
  validateMediaFragment,
} from "./boxes.ts";
import { Mp4FormatError } from "./errors.ts";
import { Fixtures, be, box, concat, topLevel } from "../../test/support/ffmpeg-fixtures.ts";

const fixtures = new Fixtures();
afterAll(() => fixtures.cleanup());

/** Splits a fixture into its init segment and its moof+mdat pairs (prelude boxes included). */
const split = (bytes: Uint8Array) => {
  const boxes = topLevel(bytes);
  const moov = boxes.find((b) => b.type === "moov")!;
  const init = bytes.subarray(0, moov.end);
  const fragments: Uint8Array[] = [];
  let start = moov.end;
  for (const b of boxes) {
    if (b.type === "mdat") {
      fragments.push(bytes.subarray(start, b.end));
      start = b.end;
    }
  }
  return { init, fragments };
};

describe("box walking", () => {
  it("walks the top level of real ffmpeg output", () => {
    const types = listBoxes(fixtures.bytes("video")).map((b) => b.type);
    expect(types.slice(0, 4)).toEqual(["ftyp", "moov", "moof", "mdat"]);
    expect(types.at(-1)).toBe("mfra");
  });

  it("descends into containers and sample entries", () => {
    const bytes = fixtures.bytes("av");
    const stsd = findPath(bytes, null, "moov", "trak", "mdia", "minf", "stbl", "stsd")!;
    const [avc1] = childBoxes(bytes, stsd);
    expect(avc1?.type).toBe("avc1");
    expect(childBoxes(bytes, avc1!).map((b) => b.type)).toContain("avcC");
    const moov = findPath(bytes, null, "moov")!;
    const soun = childBoxes(bytes, moov).filter((b) => b.type === "trak")[1]!;
    const mp4a = childBoxes(bytes, findPath(bytes, soun, "mdia", "minf", "stbl", "stsd")!)[0]!;
    expect(mp4a.type).toBe("mp4a");
    expect(childBoxes(bytes, mp4a).map((b) => b.type)).toContain("esds");
  });

  it("reads largesize, size 0 (to end) and uuid headers", () => {
    const large = concat(be(4, 1), new TextEncoder().encode("free"), be(8, 20), new Uint8Array(4));
    const uuid = box("uuid", new Uint8Array(16).fill(0xab), new Uint8Array([1, 2]));
    const toEnd = concat(be(4, 0), new TextEncoder().encode("mdat"), new Uint8Array(5));
    const boxes = listBoxes(concat(large, uuid, toEnd));
    expect(boxes.map((b) => [b.type, b.size, b.headerSize])).toEqual([
      ["free", 20, 16],
      ["uuid", 26, 24],
      ["mdat", 13, 8],
    ]);
    expect(boxes[1]!.usertype).toEqual(new Uint8Array(16).fill(0xab));
    expect(boxes[1]!.payloadOffset).toBe(20 + 24);
  });

  it("throws Mp4FormatError on truncation and garbage", () => {
    const bytes = fixtures.bytes("video");
    const truncated = bytes.subarray(0, 500);
    expect(() => listBoxes(truncated)).toThrow(Mp4FormatError);
    expect(() => listBoxes(new Uint8Array([0, 0, 0]))).toThrow(/truncated box header/);
    expect(() => readBoxHeader(new Uint8Array([0, 0, 0, 4, 0x66, 0x72, 0x65, 0x65]), 0)).toThrow(/smaller than/);
    const garbage = new TextEncoder().encode("this is definitely not an mp4 file, just text");
    expect(() => [...iterateBoxes(garbage)]).toThrow(Mp4FormatError);
    // A child claiming more than its parent holds.
    const lying = box("moov", be(4, 100), new TextEncoder().encode("trak"));
    expect(() => childBoxes(lying, readBoxHeader(lying, 0))).toThrow(/overruns/);
  });
});

describe("validateInitSegment / validateMediaFragment", () => {
  it("accepts ffmpeg's init and every fragment", () => {
    for (const name of ["video", "audio", "av"] as const) {
      const { init, fragments } = split(fixtures.bytes(name));
      expect(validateInitSegment(init)).toBeNull();
      expect(fragments.length).toBeGreaterThan(1);
      for (const fragment of fragments) expect(validateMediaFragment(fragment)).toBeNull();
    }
  });

  it("accepts styp/prft prefixes and several moof+mdat pairs in one buffer", () => {
    const { fragments } = split(fixtures.bytes("av"));
    expect(topLevel(fragments[0]!)[0]!.type).toBe("prft");
    const styp = box("styp", new TextEncoder().encode("msdh"), be(4, 0), new TextEncoder().encode("msdhmsix"));
    expect(validateMediaFragment(concat(styp, fragments[0]!, fragments[1]!))).toBeNull();
  });

  it("rejects garbage and truncated bytes", () => {
    const { init, fragments } = split(fixtures.bytes("video"));
    const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) & 0xff);
    expect(validateInitSegment(garbage)).toMatch(/./);
    expect(validateMediaFragment(garbage)).toMatch(/./);
    expect(validateInitSegment(new Uint8Array())).toBe("empty init segment");
    expect(validateMediaFragment(new Uint8Array())).toMatch(/no moof/);
    expect(validateInitSegment(init.subarray(0, init.length - 1))).toMatch(/overruns/);
    const fragment = fragments[0]!;
    expect(validateMediaFragment(fragment.subarray(0, fragment.length - 1))).toMatch(/overruns/);
    expect(validateMediaFragment(concat(fragment, new Uint8Array([0, 0, 0])))).toMatch(/truncated/);
    // Corrupt a size inside moof: the deep walk must notice even though the top level tiles.
    const corrupt = fragment.slice();
    const moof = topLevel(corrupt).find((b) => b.type === "moof")!;
    new DataView(corrupt.buffer).setUint32(moof.start + 8, 0xffff);
    expect(validateMediaFragment(corrupt)).toMatch(/overruns/);
  });

  it("rejects a moof without mdat, a lone mdat, and a traf without tfdt", () => {
    const { fragments } = split(fixtures.bytes("video"));
    const [moof, mdat] = topLevel(fragments[0]!);
    const moofBytes = fragments[0]!.subarray(moof!.start, moof!.end);
    const mdatBytes = fragments[0]!.subarray(mdat!.start, mdat!.end);
    expect(validateMediaFragment(moofBytes)).toMatch(/has no mdat/);
    expect(validateMediaFragment(concat(moofBytes, moofBytes, mdatBytes))).toMatch(/not mdat/);
    expect(validateMediaFragment(mdatBytes)).toMatch(/without a preceding moof/);
    const noTfdt = moofBytes.slice();
    const at = indexOf(noTfdt, "tfdt");
    noTfdt.set(new TextEncoder().encode("free"), at);
    expect(validateMediaFragment(concat(noTfdt, mdatBytes))).toBe("traf without tfdt");
  });

  it("rejects an init passed as fragment and vice versa", () => {
    const bytes = fixtures.bytes("video");
    const { init, fragments } = split(bytes);
    expect(validateMediaFragment(init)).toMatch(/init segment/);
    expect(validateInitSegment(fragments[1]!)).toMatch(/expected an init segment/);
    // The whole file is an init with media glued on: not acceptable as either.
    expect(validateInitSegment(bytes)).toMatch(/must not carry media/);
    expect(validateMediaFragment(bytes)).toMatch(/init segment/);
    const styp = box("styp", new TextEncoder().encode("msdh"), be(4, 0));
    expect(validateInitSegment(concat(styp, init))).toMatch(/styp/);
  });

  it("rejects a moov without trak and a progressive MP4", () => {
    const ftyp = box("ftyp", new TextEncoder().encode("isom"), be(4, 0));
    expect(validateInitSegment(concat(ftyp, box("moov", box("mvhd", new Uint8Array(100)))))).toBe("moov has no trak");
    expect(validateInitSegment(ftyp)).toBe("init segment has no moov");
    const progressive = fixtures.bytes("progressive");
    expect(validateInitSegment(progressive)).toMatch(/must not carry media|no mvex/);
    const boxes = topLevel(progressive);
    const moov = boxes.find((b) => b.type === "moov")!;
    const ftypBox = boxes[0]!;
    expect(validateInitSegment(concat(progressive.subarray(ftypBox.start, ftypBox.end), progressive.subarray(moov.start, moov.end)))).toMatch(
      /no mvex/,
    );
  });
});

const indexOf = (bytes: Uint8Array, type: string): number => {
  const t = new TextEncoder().encode(type);
  for (let i = 0; i + 4 <= bytes.length; i++) {
    if (bytes[i] === t[0] && bytes[i + 1] === t[1] && bytes[i + 2] === t[2] && bytes[i + 3] === t[3]) return i;
  }
  throw new Error(`${type} not found`);
};
