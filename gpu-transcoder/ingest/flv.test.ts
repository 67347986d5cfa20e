import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Amf0EcmaArray, encodeAmf0Values } from "./amf0.ts";
import { encodeFlvHeader, encodeFlvTag, isSequenceHeader, isVideoKeyframe, parseOnMetaData, splitAggregate } from "./flv.ts";
import { decodeAll, killAll, probeFlv, readFlv, spawnFfmpeg, testSourceArgs } from "../../test/support/ffmpeg-media.ts";

describe("flv encoding", () => {
  it("writes the 9-byte header and PreviousTagSize0", () => {
    expect(encodeFlvHeader({ audio: true, video: true })).toEqual(Buffer.from("464c5601050000000900000000", "hex"));
    expect(encodeFlvHeader({ audio: false, video: true })[4]).toBe(0x01);
    expect(encodeFlvHeader({ audio: true, video: false })[4]).toBe(0x04);
  });

  it("writes tag header, body and PreviousTagSize, with the timestamp extension byte", () => {
    const tag = encodeFlvTag({ type: 9, timestamp: 0x12345678, data: Buffer.from([1, 2, 3]) });
    expect(tag).toEqual(Buffer.from("09000003345678120000000102030000000e", "hex"));
  });
});

describe("flv detection helpers", () => {
  it("recognises keyframes and sequence headers", () => {
    expect(isVideoKeyframe(Buffer.from([0x17, 0x01]))).toBe(true);
    expect(isVideoKeyframe(Buffer.from([0x27, 0x01]))).toBe(false);
    expect(isVideoKeyframe(Buffer.alloc(0))).toBe(false);
    expect(isSequenceHeader(9, Buffer.from([0x17, 0x00, 0, 0, 0]))).toBe(true);
    expect(isSequenceHeader(9, Buffer.from([0x17, 0x01, 0, 0, 0]))).toBe(false);
    expect(isSequenceHeader(9, Buffer.from([0x12, 0x00]))).toBe(false); // H.263 has no sequence header
    expect(isSequenceHeader(9, Buffer.from([0x90, 0x68, 0x76, 0x63, 0x31]))).toBe(true); // Enhanced RTMP SequenceStart
    expect(isSequenceHeader(8, Buffer.from([0xaf, 0x00, 0x11, 0x90]))).toBe(true);
    expect(isSequenceHeader(8, Buffer.from([0xaf, 0x01, 0x21]))).toBe(false);
    expect(isSequenceHeader(8, Buffer.from([0x2f, 0x00]))).toBe(false); // MP3
    expect(isSequenceHeader(18, Buffer.from([0x02]))).toBe(false);
  });

  it("parses onMetaData with or without @setDataFrame, as ECMA array or object", () => {
    const meta = { width: 1280, height: 720, framerate: 29.97, videocodecid: 7 };
    expect(parseOnMetaData(encodeAmf0Values(["@setDataFrame", "onMetaData", new Amf0EcmaArray(meta)]))).toEqual({
      width: 1280,
      height: 720,
      framerate: 29.97,
    });
    expect(parseOnMetaData(encodeAmf0Values(["onMetaData", meta]))).toEqual({ width: 1280, height: 720, framerate: 29.97 });
    expect(parseOnMetaData(encodeAmf0Values(["onMetaData", { fps: 25 }]))).toEqual({ framerate: 25 });
    expect(parseOnMetaData(encodeAmf0Values(["onMetaData", { width: -1, height: "x", framerate: Infinity }]))).toEqual({});
    expect(parseOnMetaData(encodeAmf0Values(["onCuePoint", meta]))).toBeNull();
    expect(parseOnMetaData(Buffer.from([0x02, 0x00]))).toBeNull();
  });

  it("splits aggregate messages and re-bases their timestamps", () => {
    const sub = (type: number, ts: number, data: number[]) => encodeFlvTag({ type, timestamp: ts, data: Buffer.from(data) });
    const aggregate = Buffer.concat([sub(9, 5000, [0x17, 1]), sub(8, 5020, [0xaf, 1]), sub(9, 5033, [0x27, 1])]);
    expect(splitAggregate(aggregate, 100).map((t) => [t.type, t.timestamp, [...t.data]])).toEqual([
      [9, 100, [0x17, 1]],
      [8, 120, [0xaf, 1]],
      [9, 133, [0x27, 1]],
    ]);
    expect(() => splitAggregate(aggregate.subarray(0, 12), 0)).toThrow(RangeError);
  });
});

describe("flv output accepted by ffprobe", () => {
  const running = new Set<ChildProcess>();
  let dir = "";
  let source: Buffer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "ingest-flv-"));
    const file = join(dir, "source.flv");
    const run = spawnFfmpeg([...testSourceArgs(1, false), "-f", "flv", file], running);
    expect(await run.exited, run.stderr()).toBe(0);
    source = await readFile(file);
  });
  afterEach(() => killAll(running));
  afterAll(async () => {
    killAll(running);
    await rm(dir, { recursive: true, force: true });
  });

  it("re-encodes ffmpeg's own FLV byte for byte and ffprobe decodes the result", async () => {
    const { tags } = readFlv(source);
    expect(tags.length).toBeGreaterThan(30);
    const rebuilt = Buffer.concat([encodeFlvHeader({ audio: true, video: true }), ...tags.map((tag) => encodeFlvTag(tag))]);
    expect(rebuilt.equals(source)).toBe(true);

    const file = join(dir, "rebuilt.flv");
    await writeFile(file, rebuilt);
    const streams = await probeFlv(file);
    expect(streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "h264", width: 320, height: 180 });
    expect(streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac", sample_rate: "48000" });
    expect(await decodeAll(file)).toBe(30);
  });

  it("writes a video-only file from tags whose sequence header comes first", async () => {
    const video = readFlv(source).tags.filter((tag) => tag.type === 9);
    expect(isSequenceHeader(9, video[0]!.data)).toBe(true);
    expect(isVideoKeyframe(video[1]!.data)).toBe(true);
    const file = join(dir, "video-only.flv");
    await writeFile(file, Buffer.concat([encodeFlvHeader({ audio: false, video: true }), ...video.map((tag) => encodeFlvTag(tag))]));
    const streams = await probeFlv(file);
    expect(streams.map((s) => s.codec_type)).toEqual(["video"]);
    expect(await decodeAll(file)).toBe(30);
  });
});
