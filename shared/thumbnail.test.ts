import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { isJpeg, jpegProblem, jpegSize, JpegSplitter } from "./thumbnail.ts";
import { concat } from "../test/support/ffmpeg-fixtures.ts";

const FFMPEG = process.env.FFMPEG_PATH ?? "/usr/bin/ffmpeg";

/** Real MJPEG from ffmpeg: `n` frames of a test pattern, concatenated (image2pipe). */
const realJpegs = (n: number, extra: string[] = []): Uint8Array =>
  new Uint8Array(
    execFileSync(FFMPEG, [
      "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30", "-frames:v", String(n),
      "-c:v", "mjpeg", "-q:v", "4", "-strict", "unofficial", "-color_range", "pc", "-pix_fmt", "yuv420p", ...extra, "-f", "image2pipe", "pipe:1",
    ]),
  );


/** A tiny structurally valid JPEG: SOI, an APP1 whose payload holds FF D9, SOF0, SOS with stuffed data, EOI. */
const synthetic = (payload: number[]): Uint8Array =>
  new Uint8Array([
    0xff, 0xd8,
    0xff, 0xe1, 0x00, 0x06, 0xff, 0xd9, 0xff, 0xd9, // APP1 (EXIF-like) containing EOI bytes
    0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0xb4, 0x01, 0x40, 0x01, 0x01, 0x11, 0x00, // SOF0 320x180
    0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00, // SOS
    ...payload,
    0xff, 0xd9,
  ]);

describe("JPEG checks", () => {
  it("accepts ffmpeg's JPEGs and reads their size", () => {
    const one = realJpegs(1);
    expect(isJpeg(one)).toBe(true);
    expect(jpegProblem(one)).toBeNull();
    expect(jpegSize(one)).toEqual({ width: 320, height: 180 });
  });

  it("walks segments by length and entropy data by stuffing: EOI bytes inside APP1 or stuffed data do not end it", () => {
    const j = synthetic([0x12, 0xff, 0x00, 0x34, 0xff, 0xd3, 0x56]);
    expect(isJpeg(j)).toBe(true);
    expect(jpegSize(j)).toEqual({ width: 320, height: 180 });
  });

  it("refuses what is not one whole JPEG, saying why", () => {
    const one = realJpegs(1);
    expect(jpegProblem(new TextEncoder().encode("definitely not a JPEG"))).toMatch(/SOI/);
    expect(jpegProblem(one.slice(0, one.length - 10))).toMatch(/EOI/);
    expect(jpegProblem(concat(one, one))).toMatch(/before the end/);
    expect(jpegProblem(new Uint8Array([0xff, 0xd8, 0xff, 0xd9]))).toBeNull();
    expect(jpegProblem(new Uint8Array([0xff, 0xd8, 0x00, 0x00, 0xff, 0xd9]))).toMatch(/malformed/);
    expect(isJpeg(new Uint8Array([0xff, 0xd8]))).toBe(false);
  });
});

describe("JpegSplitter", () => {
  it("splits ffmpeg's image2pipe output into whole JPEGs however the pipe chunks it", () => {
    const stream = realJpegs(3);
    for (const size of [1, 7, 100, 4096, stream.length]) {
      const splitter = new JpegSplitter();
      const images: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) images.push(...splitter.push(stream.subarray(i, i + size)));
      expect(images, `chunks of ${size}`).toHaveLength(3);
      for (const img of images) expect(isJpeg(img)).toBe(true);
      expect(Buffer.from(concat(...images)).equals(Buffer.from(stream))).toBe(true);
    }
  });

  it("skips garbage between images and drops an image that never ends within the limit", () => {
    const j = synthetic([1, 2, 3]);
    const splitter = new JpegSplitter(64);
    const out = splitter.push(concat(new Uint8Array([0, 1, 2, 0xff]), j, new Uint8Array([9, 9]), j));
    expect(out).toHaveLength(2);
    const endless = concat(new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0x00, 0x02]), new Uint8Array(100).fill(7));
    expect(splitter.push(endless)).toEqual([]);
    expect(splitter.dropped).toBe(1);
    expect(splitter.push(j)).toHaveLength(1);
  });
});
