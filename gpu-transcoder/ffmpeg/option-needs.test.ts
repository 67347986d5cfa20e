import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseComponentList, parseHelpOptions } from "./help-options.ts";
import { ENCODER_NEEDS, HelpIndex, REQUIRED_NEEDS } from "./option-needs.ts";
import { npmFfmpegPath, probeFfmpeg, readHelp } from "./probe.ts";

// Verbatim excerpts: 4.x indents AVOptions by two spaces with a 9-character flags column; 5.x by
// two or three, with 11 characters and each named value's number.
const SCALE_4 = `Filter scale
  Scale the input video size and/or convert the image format.
scale AVOptions:
  w                 <string>     ..FV..... Output video width
  out_range         <int>        ..FV..... set output color range (from 0 to 2) (default auto)
     auto                         ..FV.....
     full                         ..FV.....
  force_original_aspect_ratio <int>        ..FV..... decrease or increase w/h if necessary to keep the original AR (from 0 to 2) (default disable)
     disable                      ..FV.....
     decrease                     ..FV.....
  param0            <double>     ..FV..... Scaler param 0 (from INT_MIN to INT_MAX) (default 123456)
`;
const SCALE_5 = `Filter scale
scale AVOptions:
   out_range         <int>        ..FV....... set output color range (from 0 to 2) (default auto)
     auto            -1           ..FV.......
     full            2            ..FV.......
   force_original_aspect_ratio <int>        ..FV....... decrease or increase w/h if necessary to keep the original AR (from 0 to 2) (default disable)
     decrease        1            ..FV.......
   force_divisible_by <int>        ..FV....... enforce that the output resolution is divisible by a defined integer when force_original_aspect_ratio is used (from 1 to 256) (default 1)
`;
const FULL_5 = `Main options:
-stats              print progress report during encoding
-progress url       write program-readable progress information
-stats_period time  set the period at which ffmpeg updates stats and -progress output
-fps_mode           set framerate mode for matching video streams; overrides vsync
AVCodecContext AVOptions:
  -strict            <int>        ED.VA...... how strictly to follow the standards (from INT_MIN to INT_MAX) (default normal)
     very            2            ED.VA...... strictly conform to a older more strict version of the spec or reference software
     unofficial      -1           ED.VA...... allow unofficial extensions
`;

describe("parseHelpOptions", () => {
  it("reads options and their named values in the 4.x and 5.x layouts", () => {
    const four = parseHelpOptions(SCALE_4);
    expect([...four.keys()]).toEqual(["w", "out_range", "force_original_aspect_ratio", "param0"]);
    expect([...four.get("force_original_aspect_ratio")!]).toEqual(["disable", "decrease"]);
    expect([...four.get("out_range")!]).toEqual(["auto", "full"]);
    const five = parseHelpOptions(SCALE_5);
    expect([...five.keys()]).toEqual(["out_range", "force_original_aspect_ratio", "force_divisible_by"]);
    expect([...five.get("out_range")!]).toEqual(["auto", "full"]);
  });

  it("reads command-line options at the start of a line next to AVOptions", () => {
    const full = parseHelpOptions(FULL_5);
    expect([...full.keys()]).toEqual(["stats", "progress", "stats_period", "fps_mode", "strict"]);
    expect([...full.get("strict")!]).toEqual(["very", "unofficial"]);
  });

  it("tells what a binary lacks, naming the topic, the option and the values", () => {
    const help = new HelpIndex(new Map([["filter=scale", SCALE_4], ["full", FULL_5], ["filter=nosuch", "Unknown filter 'nosuch'.\n"]]));
    expect(help.has({ topic: "filter=scale", option: "force_original_aspect_ratio", values: ["decrease"] })).toBe(true);
    expect(help.missing([
      { topic: "filter=scale", option: "force_divisible_by" },
      { topic: "filter=scale", option: "out_range", values: ["full", "pc"] },
      { topic: "filter=nosuch", option: "x" },
      { topic: "muxer=mp4", option: "movflags" },
      { topic: "full", option: "strict", values: ["unofficial"] },
    ])).toEqual(["filter=scale: force_divisible_by", "filter=scale: out_range (full, pc)", "filter=nosuch: x", "muxer=mp4: movflags"]);
  });

  it("reads component lists past their legend", () => {
    const filters = ` T.. = Timeline support\n  | = Source or sink filter\n ... abench            A->A       Benchmark part of a filtergraph.\n TSC scale             V->V       Scale the input video size\n`;
    expect([...parseComponentList(filters)]).toEqual(["abench", "scale"]);
    const encoders = `Encoders:\n V..... = Video\n ------\n V....D libx264              libx264 H.264 / AVC\n A....D aac                  AAC (Advanced Audio Coding)\n`;
    expect([...parseComponentList(encoders)]).toEqual(["libx264", "aac"]);
  });
});

/** The reason in a skipped case's name. */
const NOT_INSTALLED = " (SKIPPED: the optional dependency @ffmpeg-installer/linux-x64 is not installed)";

/** What the probe found, as one comparable record. */
const capabilitySet = async (bin: string) => {
  const caps = await probeFfmpeg({ PATH: process.env.PATH, FFMPEG_PATH: bin, CASCADE_ENCODER: "libx264" });
  return {
    statsPeriod: caps.statsPeriod,
    fpsMode: caps.fpsMode,
    scaleDivisibleBy: caps.scaleDivisibleBy,
    optionalMovflags: ["cmaf", "skip_sidx", "skip_trailer"].filter((f) => caps.movflags.has(f)),
  };
};

describe("the capability sets of real binaries", () => {
  it("Debian's ffmpeg 5.x has everything, the optional options included", async () => {
    expect(await capabilitySet("ffmpeg")).toEqual({ statsPeriod: true, fpsMode: true, scaleDivisibleBy: true, optionalMovflags: ["cmaf", "skip_sidx", "skip_trailer"] });
  });

  const old = npmFfmpegPath();
  it.skipIf(!old)(`the npm-shipped ffmpeg 4.x has what the ladder requires but none of the optional options except skip_trailer${old ? "" : NOT_INSTALLED}`, async () => {
    expect(await capabilitySet(old!)).toEqual({ statsPeriod: false, fpsMode: false, scaleDivisibleBy: false, optionalMovflags: ["skip_trailer"] });
    const help = new HelpIndex(await readHelp(old!, ["encoders", "filter=scale", "muxer=mp4", "encoder=h264_vaapi"]));
    // Its VAAPI encoder predates rc_mode: never chosen, even with a render node.
    expect(help.missing(ENCODER_NEEDS.h264_vaapi!.filter((n) => n.topic !== "filters"))).toEqual(["encoder=h264_vaapi: rc_mode (CBR)"]);
    expect(help.missing(REQUIRED_NEEDS.filter((n) => ["encoders", "filter=scale", "muxer=mp4"].includes(n.topic)))).toEqual([]);
  });

  it("a binary lacking a required option is refused at probe time with the list", async () => {
    // A shell stand-in that prints 5.x's answers but no -frag_duration and no x264-params.
    const dir = await mkdtemp(path.join(tmpdir(), "cascade-ffmpeg-"));
    const fake = path.join(dir, "ffmpeg");
    await writeFile(fake, `#!/bin/sh\nffmpeg "$@" | grep -v -e '-frag_duration' -e 'x264-params'\n`, { mode: 0o755 });
    await expect(probeFfmpeg({ PATH: process.env.PATH, FFMPEG_PATH: fake, CASCADE_ENCODER: "libx264" })).rejects.toThrow(
      /lacks what the ladder uses: muxer=mp4: frag_duration; encoder=libx264: x264-params/,
    );
    await rm(dir, { recursive: true });
  });
});
