import { describe, expect, it } from "vitest";
import { parseMultivariantPlaylist } from "./parse.ts";
import { renderMultivariantPlaylist } from "./render-multivariant.ts";
import type { MultivariantPlaylist, VariantStream } from "./types.ts";


const variant = (o: Partial<VariantStream> = {}): VariantStream => ({
  uri: "720p/index.m3u8",
  bandwidth: 3_128_000,
  averageBandwidth: 2_900_000,
  codecs: "avc1.64001f,mp4a.40.2",
  width: 1280,
  height: 720,
  frameRate: 30,
  audioGroup: "audio",
  ...o,
});

const ladder = (o: Partial<MultivariantPlaylist> = {}): MultivariantPlaylist => ({
  independentSegments: true,
  audio: [
    { groupId: "audio", name: "English", language: "en", channels: 2, uri: "audio/index.m3u8", isDefault: true },
    { groupId: "audio", name: "Deutsch", language: "de", channels: 6, uri: "audio-de/index.m3u8", isDefault: false },
  ],
  variants: [
    variant(),
    variant({ uri: "360p/index.m3u8", bandwidth: 928_000, averageBandwidth: 850_000, codecs: "avc1.4d401e,mp4a.40.2", width: 640, height: 360 }),
  ],
  ...o,
});

const lines = (text: string): string[] => text.trimEnd().split("\n");

describe("renderMultivariantPlaylist (RFC 8216bis §4.4.6)", () => {
  it("starts with #EXTM3U and VERSION 6, ends with a newline, one URI line after each STREAM-INF", () => {
    const text = renderMultivariantPlaylist(ladder());
    expect(text.endsWith("\n")).toBe(true);
    const l = lines(text);
    expect(l.slice(0, 2)).toEqual(["#EXTM3U", "#EXT-X-VERSION:6"]);
    l.forEach((line, i) => {
      if (line.startsWith("#EXT-X-STREAM-INF:")) expect(l[i + 1]).toMatch(/^[a-z0-9-]+\/index\.m3u8$/);
    });
    expect(l.filter((x) => x.startsWith("#EXT-X-VERSION"))).toHaveLength(1);
  });

  it("Apple HLS authoring spec 9.11–9.12: EXT-X-INDEPENDENT-SEGMENTS when segments start with an IDR, and only then", () => {
    expect(lines(renderMultivariantPlaylist(ladder()))).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    expect(lines(renderMultivariantPlaylist(ladder({ independentSegments: false })))).not.toContain("#EXT-X-INDEPENDENT-SEGMENTS");
  });

  it("RFC 8216bis §4.4.6.2: BANDWIDTH is present on every variant as an integer (bit/s)", () => {
    const mv = parseMultivariantPlaylist(renderMultivariantPlaylist(ladder({ variants: [variant({ bandwidth: 3_128_000.6 })] })));
    expect(mv.variants[0]!.attributes.BANDWIDTH).toBe("3128001");
  });

  it("Apple HLS authoring spec 9.14, 1.28–1.29: AVERAGE-BANDWIDTH is present on every variant", () => {
    const mv = parseMultivariantPlaylist(renderMultivariantPlaylist(ladder()));
    expect(mv.variants.map((v) => v.attributes["AVERAGE-BANDWIDTH"])).toEqual(["2900000", "850000"]);
  });

  it("RFC 8216bis §4.4.6.2, §6.2.4, §4.4.6.1.1: CODECS is a quoted list with the video and the audio codec", () => {
    const text = renderMultivariantPlaylist(ladder());
    expect(text).toContain('CODECS="avc1.64001f,mp4a.40.2"');
    const mv = parseMultivariantPlaylist(text);
    expect(mv.variants.map((v) => v.attributes.CODECS)).toEqual(["avc1.64001f,mp4a.40.2", "avc1.4d401e,mp4a.40.2"]);
  });

  it("Apple HLS authoring spec 9.2, 9.15, 9.16: RESOLUTION=WxH and FRAME-RATE with three decimals", () => {
    const mv = parseMultivariantPlaylist(
      renderMultivariantPlaylist(ladder({ variants: [variant(), variant({ frameRate: 30000 / 1001 }), variant({ frameRate: 59.94, width: 1920, height: 1080 })] })),
    );
    expect(mv.variants.map((v) => [v.attributes.RESOLUTION, v.attributes["FRAME-RATE"]])).toEqual([
      ["1280x720", "30.000"],
      ["1280x720", "29.970"],
      ["1920x1080", "59.940"],
    ]);
  });

  it("RFC 8216bis §4.4.6.1(.1): EXT-X-MEDIA TYPE=AUDIO with GROUP-ID, unique NAMEs, LANGUAGE, one DEFAULT=YES with AUTOSELECT=YES", () => {
    const mv = parseMultivariantPlaylist(renderMultivariantPlaylist(ladder()));
    expect(mv.media).toEqual([
      { TYPE: "AUDIO", "GROUP-ID": "audio", NAME: "English", LANGUAGE: "en", DEFAULT: "YES", AUTOSELECT: "YES", CHANNELS: "2", URI: "audio/index.m3u8" },
      { TYPE: "AUDIO", "GROUP-ID": "audio", NAME: "Deutsch", LANGUAGE: "de", DEFAULT: "NO", AUTOSELECT: "YES", CHANNELS: "6", URI: "audio-de/index.m3u8" },
    ]);
    expect(new Set(mv.media.map((m) => m.NAME)).size).toBe(mv.media.length);
    expect(mv.media.filter((m) => m.DEFAULT === "YES")).toHaveLength(1);
  });

  it("RFC 8216bis §4.4.6.1(.1): variants reference the audio group with AUDIO=, and the EXT-X-MEDIA tags come before them", () => {
    const text = renderMultivariantPlaylist(ladder());
    const l = lines(text);
    const lastMedia = l.map((x) => x.startsWith("#EXT-X-MEDIA:")).lastIndexOf(true);
    const firstInf = l.findIndex((x) => x.startsWith("#EXT-X-STREAM-INF:"));
    expect(lastMedia).toBeLessThan(firstInf);
    for (const v of parseMultivariantPlaylist(text).variants) expect(v.attributes.AUDIO).toBe("audio");
  });

  it("a variant without an audio group has no AUDIO attribute, and no EXT-X-MEDIA is written without audio", () => {
    const text = renderMultivariantPlaylist(ladder({ audio: [], variants: [variant({ audioGroup: undefined, codecs: "avc1.64001f" })] }));
    expect(text).not.toContain("AUDIO=");
    expect(text).not.toContain("#EXT-X-MEDIA");
    expect(lines(text)).toEqual([
      "#EXTM3U",
      "#EXT-X-VERSION:6",
      "#EXT-X-INDEPENDENT-SEGMENTS",
      '#EXT-X-STREAM-INF:BANDWIDTH=3128000,AVERAGE-BANDWIDTH=2900000,CODECS="avc1.64001f",RESOLUTION=1280x720,FRAME-RATE=30.000',
      "720p/index.m3u8",
    ]);
  });

  it("variants keep the order given (the origin sorts them by bandwidth, highest first)", () => {
    const mv = parseMultivariantPlaylist(renderMultivariantPlaylist(ladder()));
    expect(mv.variants.map((v) => v.uri)).toEqual(["720p/index.m3u8", "360p/index.m3u8"]);
  });
});
