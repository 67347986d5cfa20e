import { afterAll, describe, expect, it } from "vitest";
import { mp4aCodecString } from "./codec-string.ts";
import { parseAudioSpecificConfig } from "./esds.ts";
import { Mp4FormatError } from "./errors.ts";
import { Fixtures, be, concat, hasEncoder, probeStream, topLevel } from "../../test/support/ffmpeg-fixtures.ts";
import { parseInitSegment, trackDefaults } from "./init-info.ts";

const fixtures = new Fixtures();
afterAll(() => fixtures.cleanup());

const initOf = (bytes: Uint8Array): Uint8Array => bytes.subarray(0, topLevel(bytes).find((b) => b.type === "moov")!.end);

/** What the avcC profile byte must be for the profile name ffprobe reads from the SPS. */
const PROFILE_IDC: Record<string, number> = { "Constrained Baseline": 0x42, Baseline: 0x42, Main: 0x4d, High: 0x64 };

describe("parseInitSegment on ffmpeg output", () => {
  it.each(["baseline", "main", "high"] as const)("derives avc1 CODECS for -profile:v %s matching ffprobe", (name) => {
    const info = parseInitSegment(initOf(fixtures.bytes(name)));
    const probe = probeStream(fixtures.path(name), "v:0");
    const [track] = info.tracks;
    const expectedPrefix = { baseline: "avc1.42", main: "avc1.4d", high: "avc1.64" }[name];
    expect(track!.codec).toMatch(new RegExp(`^${expectedPrefix}[0-9a-f]{4}$`));
    expect(track!.codec.slice(5, 7)).toBe(PROFILE_IDC[probe.profile]!.toString(16));
    expect(parseInt(track!.codec.slice(9, 11), 16)).toBe(probe.level);
    expect(track).toMatchObject({ trackId: 1, handler: "vide", sampleEntry: "avc1", width: probe.width, height: probe.height });
    expect(`1/${track!.timescale}`).toBe(probe.timeBase);
  });

  it("reports Constrained Baseline for -profile:v main with -preset ultrafast, as x264 does", () => {
    const [track] = parseInitSegment(initOf(fixtures.bytes("video"))).tracks;
    expect(probeStream(fixtures.path("video"), "v:0").profile).toBe("Constrained Baseline");
    expect(track!.codec).toBe("avc1.42c00d");
  });

  it("derives mp4a.40.2 and the audio parameters for AAC-LC", () => {
    const info = parseInitSegment(initOf(fixtures.bytes("audio")));
    const probe = probeStream(fixtures.path("audio"), "a:0");
    expect(info.tracks).toHaveLength(1);
    expect(info.tracks[0]).toMatchObject({
      trackId: 1,
      handler: "soun",
      codec: "mp4a.40.2",
      sampleEntry: "mp4a",
      sampleRate: probe.sampleRate,
      channels: probe.channels,
      timescale: 48000,
      // ffmpeg leaves trex empty and puts its defaults in each tfhd.
      defaultSampleDuration: 0,
      defaultSampleSize: 0,
      defaultSampleFlags: 0,
    });
    expect(info.tracks[0]!.width).toBeUndefined();
  });

  it("lists both tracks of a muxed init, and trackDefaults keys them by id", () => {
    const info = parseInitSegment(initOf(fixtures.bytes("av")));
    expect(info.movieTimescale).toBe(1000);
    expect(info.tracks.map((t) => [t.trackId, t.handler, t.codec])).toEqual([
      [1, "vide", "avc1.42c00d"],
      [2, "soun", "mp4a.40.2"],
    ]);
    expect([...trackDefaults(info).keys()]).toEqual([1, 2]);
  });

  it.skipIf(!hasEncoder("libx265"))("derives the ISO 14496-15 string for HEVC", () => {
    const [track] = parseInitSegment(initOf(fixtures.bytes("hevc"))).tracks;
    const probe = probeStream(fixtures.path("hevc"), "v:0");
    expect(probe.profile).toBe("Main");
    // Main profile (1), compatibility flags 1 and 2 set (bit-reversed: 0x6), Main tier at ffprobe's level.
    expect(track!.codec).toMatch(new RegExp(`^hvc1\\.1\\.6\\.L${probe.level}(\\.[0-9A-F]{2})*$`));
    expect(track).toMatchObject({ width: 320, height: 180 });
  });

  it("throws Mp4FormatError without a moov or with a truncated one", () => {
    const init = initOf(fixtures.bytes("video"));
    expect(() => parseInitSegment(init.subarray(0, 28))).toThrow(/no moov/);
    expect(() => parseInitSegment(init.subarray(0, init.length - 10))).toThrow(Mp4FormatError);
  });
});

describe("esds parsing", () => {
  /** Descriptor with its length in `lengthBytes` bytes of the 0x80-continuation encoding. */
  const descriptor = (tag: number, body: Uint8Array, lengthBytes = 1): Uint8Array => {
    const len: number[] = [];
    for (let i = lengthBytes - 1; i >= 0; i--) len.push(((body.length >> (7 * i)) & 0x7f) | (i > 0 ? 0x80 : 0));
    return concat(new Uint8Array([tag, ...len]), body);
  };
  const esds = (asc: Uint8Array, lengthBytes: number, objectType = 0x40, esFlags = 0): Uint8Array => {
    const dsi = descriptor(0x05, asc, lengthBytes);
    const dcd = descriptor(0x04, concat(new Uint8Array([objectType, 0x15]), be(3, 0), be(4, 128000), be(4, 128000), dsi), lengthBytes);
    const optional = concat(esFlags & 0x80 ? be(2, 7) : new Uint8Array(), esFlags & 0x40 ? new Uint8Array([3, 0x61, 0x62, 0x63]) : new Uint8Array());
    const sl = descriptor(0x06, new Uint8Array([2]), lengthBytes);
    const es = descriptor(0x03, concat(be(2, 1), new Uint8Array([esFlags]), optional, dcd, sl), lengthBytes);
    return concat(be(4, 0), es);
  };

  it("accepts 1- to 4-byte descriptor lengths (ffmpeg writes 4, others 1)", () => {
    const aacLc = new Uint8Array([0x11, 0x90]); // AOT 2, 48 kHz, stereo
    for (const n of [1, 2, 3, 4]) expect(mp4aCodecString(esds(aacLc, n))).toBe("mp4a.40.2");
  });

  it("skips optional ES_Descriptor fields", () => {
    expect(mp4aCodecString(esds(new Uint8Array([0x11, 0x90]), 4, 0x40, 0xc0))).toBe("mp4a.40.2");
  });

  it("decodes AudioSpecificConfig, escaped object types included", () => {
    expect(parseAudioSpecificConfig(new Uint8Array([0x11, 0x90]))).toEqual({
      audioObjectType: 2,
      samplingFrequency: 48000,
      channelConfiguration: 2,
    });
    expect(parseAudioSpecificConfig(new Uint8Array([0x2b, 0x11, 0x88])).audioObjectType).toBe(5); // SBR, 24 kHz core
    // 31 escape + 6 bits 000001 = 33; then index 3 (48 kHz), config 1.
    expect(parseAudioSpecificConfig(new Uint8Array([0xf8, 0x26, 0x20]))).toEqual({
      audioObjectType: 33,
      samplingFrequency: 48000,
      channelConfiguration: 1,
    });
    expect(parseAudioSpecificConfig(new Uint8Array([0xf9, 0x40, 0x60])).audioObjectType).toBe(42);
    expect(() => parseAudioSpecificConfig(new Uint8Array([0x11]))).toThrow(Mp4FormatError);
  });

  it("maps object types to CODECS", () => {
    expect(mp4aCodecString(esds(new Uint8Array([0xf9, 0x40, 0x60]), 1))).toBe("mp4a.40.42");
    expect(mp4aCodecString(esds(new Uint8Array(), 1, 0x6b))).toBe("mp4a.6b");
    expect(mp4aCodecString(esds(new Uint8Array(), 1))).toBe("mp4a.40");
  });

  it("throws on a descriptor longer than its parent", () => {
    const bad = esds(new Uint8Array([0x11, 0x90]), 1);
    expect(() => mp4aCodecString(bad.subarray(0, bad.length - 3))).toThrow(Mp4FormatError);
  });
});
