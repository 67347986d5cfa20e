import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { validateInitSegment, validateMediaFragment } from "./boxes.ts";
import { Mp4FormatError } from "./errors.ts";
import { FIXTURES, Fixtures, be, box, concat, probeStream, seededRandom, topLevel, type FixtureName } from "../../test/support/ffmpeg-fixtures.ts";
import type { TrackFragment } from "./fragment-info.ts";
import { Mp4StreamReader, type Mp4Event } from "./stream-reader.ts";

const fixtures = new Fixtures();
afterAll(() => fixtures.cleanup());

const readAll = (chunks: Iterable<Uint8Array>): Mp4Event[] => {
  const reader = new Mp4StreamReader();
  const events: Mp4Event[] = [];
  for (const chunk of chunks) events.push(...reader.push(chunk));
  events.push(...reader.end());
  return events;
};

/** Slices `bytes` into chunks of random sizes in 1..maxChunk (seeded, so failures reproduce). */
function* randomChunks(bytes: Uint8Array, seed: number, maxChunk: number): Generator<Uint8Array> {
  const random = seededRandom(seed);
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + Math.floor(random() * maxChunk);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

const fragmentTrack = (event: Mp4Event | undefined): TrackFragment => {
  if (event?.kind !== "fragment") throw new Error(`expected a fragment event, got ${event?.kind}`);
  return event.info.tracks[0]!;
};

/** Everything but the bytes' identity: what a consumer would act on. */
const summary = (events: Mp4Event[]) => events.map((e) => ({ kind: e.kind, info: e.info, bytes: [...e.bytes] }));

describe("Mp4StreamReader on ffmpeg output", () => {
  it.each(["video", "audio", "av"] as const)("%s: random chunkings give the same events as one push", (name: FixtureName) => {
    const bytes = fixtures.bytes(name);
    const whole = readAll([bytes]);
    expect(whole[0]!.kind).toBe("init");
    expect(whole.slice(1).every((e) => e.kind === "fragment")).toBe(true);
    for (const [seed, maxChunk] of [
      [1, 7],
      [2, 300],
      [3, 70_000],
    ] as const) {
      expect(summary(readAll(randomChunks(bytes, seed, maxChunk)))).toEqual(summary(whole));
    }
  });

  it("reads ffmpeg's stdout as it arrives, with the chunking the pipe gives", async () => {
    const events = await readFfmpegStdout(FIXTURES.video);
    expect(summary(events)).toEqual(summary(readAll([fixtures.bytes("video")])));
  });

  it("survives being fed one byte at a time", () => {
    const bytes = fixtures.bytes("video");
    const ones = function* () {
      for (let i = 0; i < bytes.length; i++) yield bytes.subarray(i, i + 1);
    };
    expect(summary(readAll(ones()))).toEqual(summary(readAll([bytes])));
  });

  it("emits the file's boxes in order, minus mfra, each passing validation", () => {
    const bytes = fixtures.bytes("av");
    const events = readAll(randomChunks(bytes, 9, 5000));
    const mfra = topLevel(bytes).find((b) => b.type === "mfra")!;
    expect(concat(...events.map((e) => e.bytes))).toEqual(bytes.subarray(0, mfra.start));
    const [init, ...fragments] = events;
    expect(validateInitSegment(init!.bytes)).toBeNull();
    for (const f of fragments) {
      expect(validateMediaFragment(f.bytes)).toBeNull();
      // ffmpeg -write_prft puts a prft ahead of each moof; it travels with its fragment.
      expect(topLevel(f.bytes).map((b) => b.type)).toEqual(["prft", "moof", "mdat"]);
    }
  });

  it("produces fragments whose samples and durations add up to the stream, with contiguous tfdt", () => {
    const events = readAll(randomChunks(fixtures.bytes("video"), 4, 4096));
    const probe = probeStream(fixtures.path("video"), "v:0");
    const tracks = events.flatMap((e) => (e.kind === "fragment" ? e.info.tracks : []));
    expect(tracks.reduce((n, t) => n + t.samples.length, 0)).toBe(probe.frames);
    expect(tracks.reduce((n, t) => n + t.duration, 0)).toBe(probe.durationTs);
    expect(tracks[0]!.samples[0]!.isSync).toBe(true);
    for (let i = 1; i < tracks.length; i++) {
      expect(tracks[i]!.baseMediaDecodeTime).toBe(tracks[i - 1]!.baseMediaDecodeTime + tracks[i - 1]!.duration);
    }
    const init = events[0]!;
    expect(init.kind === "init" && init.info.tracks[0]!.timescale).toBe(15360);
  });

  it("attaches styp/emsg to the next fragment and skips free/sidx/unknown boxes", () => {
    const bytes = fixtures.bytes("video");
    const [ftyp, moov, moof, mdat] = topLevel(bytes);
    const part = (b: { start: number; end: number }) => bytes.subarray(b.start, b.end);
    const styp = box("styp", new TextEncoder().encode("msdh"), be(4, 0));
    const emsg = box("emsg", new Uint8Array(12));
    const sidx = box("sidx", new Uint8Array(24));
    const free = box("free", new Uint8Array(1000));
    const stream = concat(part(ftyp!), free, part(moov!), styp, sidx, emsg, part(moof!), part(mdat!), box("wxyz"), free);
    const events = readAll(randomChunks(stream, 5, 13));
    expect(events.map((e) => e.kind)).toEqual(["init", "fragment"]);
    expect(events[0]!.bytes).toEqual(concat(part(ftyp!), part(moov!)));
    expect(events[1]!.bytes).toEqual(concat(styp, emsg, part(moof!), part(mdat!)));
    expect(fragmentTrack(events[1]).samples).toHaveLength(14);
  });

  it("handles a last box of size 0 (to end of stream) and a 64-bit mdat size", () => {
    const bytes = fixtures.bytes("video");
    const [ftyp, moov, moof, mdat] = topLevel(bytes);
    const part = (b: { start: number; end: number }) => bytes.subarray(b.start, b.end);
    const payload = bytes.subarray(mdat!.start + 8, mdat!.end);
    const largeMdat = concat(be(4, 1), new TextEncoder().encode("mdat"), be(8, payload.length + 16), payload);
    const openMdat = concat(be(4, 0), new TextEncoder().encode("mdat"), payload);
    const init = concat(part(ftyp!), part(moov!));
    // A 16-byte mdat header moves the samples 8 bytes on: unless the trun data_offset follows,
    // the reader must fail loudly rather than hand out misaddressed samples.
    expect(() => readAll([init, part(moof!), largeMdat])).toThrow(/outside mdat/);
    const shifted = part(moof!).slice();
    const trun = findType(shifted, "trun");
    const view = new DataView(shifted.buffer);
    view.setInt32(trun + 12, view.getInt32(trun + 12) + 8); // after type, version/flags, sample_count
    const [, large] = readAll([init, shifted, largeMdat]);
    expect(fragmentTrack(large).samples).toHaveLength(14);
    expect(large?.bytes.length).toBe(shifted.length + largeMdat.length);
    const reader = new Mp4StreamReader();
    expect(reader.push(concat(init, part(moof!), openMdat)).map((e) => e.kind)).toEqual(["init"]);
    const [fragment] = reader.end();
    expect(fragment?.kind).toBe("fragment");
    expect(fragmentTrack(fragment).samples).toHaveLength(14);
  });

  it("throws on a trailing partial box at end()", () => {
    const bytes = fixtures.bytes("video");
    const mfra = topLevel(bytes).find((b) => b.type === "mfra")!;
    for (const cut of [mfra.start - 1, mfra.start - 30_000, 3, 100]) {
      const reader = new Mp4StreamReader();
      reader.push(bytes.subarray(0, cut));
      expect(() => reader.end(), `cut at ${cut}`).toThrow(Mp4FormatError);
    }
    const reader = new Mp4StreamReader();
    expect(reader.push(bytes.subarray(0, mfra.start)).length).toBeGreaterThan(1);
    expect(reader.end()).toEqual([]);
    expect(reader.bufferedBytes).toBe(0);
  });

  it("rejects garbage, a moof before the init, an mdat without moof, and oversized boxes", () => {
    const bytes = fixtures.bytes("video");
    const [ftyp, moov, moof, mdat] = topLevel(bytes);
    const part = (b: { start: number; end: number }) => bytes.subarray(b.start, b.end);
    expect(() => readAll([new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n")])).toThrow(/not an MP4 stream/);
    expect(() => readAll([new Uint8Array([0, 0, 0, 9, 0xff, 0xfe, 0, 1, 2])])).toThrow(/not an MP4 stream/);
    const init = concat(part(ftyp!), part(moov!));
    expect(() => readAll([init, new Uint8Array([0, 0, 0, 9, 0xff, 0xfe, 0, 1, 2])])).toThrow(/box type bytes/);
    expect(() => readAll([part(ftyp!), part(moof!), part(mdat!)])).toThrow(/before any init/);
    expect(() => readAll([part(ftyp!), part(moov!), part(mdat!)])).toThrow(/mdat without a preceding moof/);
    expect(() => readAll([part(ftyp!), part(moov!), part(moof!), part(moof!)])).toThrow(/not mdat/);
    expect(() => readAll([part(moov!)])).toThrow(/expected ftyp/);
    expect(() => readAll([part(ftyp!), box("free"), part(moov!), part(ftyp!), box("free"), part(moov!)])).not.toThrow();
    const small = new Mp4StreamReader({ maxBoxSize: 1000 });
    expect(() => small.push(bytes)).toThrow(/exceeds the 1000-byte limit/);
    // A failed reader stays failed.
    expect(() => small.push(new Uint8Array(1))).toThrow(/exceeds/);
  });

  it("emits a second init when ffmpeg restarts mid-stream", () => {
    const bytes = fixtures.bytes("audio");
    const mfra = topLevel(bytes).find((b) => b.type === "mfra")!;
    const body = bytes.subarray(0, mfra.start);
    const events = readAll(randomChunks(concat(body, body), 6, 3000));
    expect(events.filter((e) => e.kind === "init")).toHaveLength(2);
    expect(events.filter((e) => e.kind === "fragment")).toHaveLength(2 * (readAll([body]).length - 1));
  });
});

const findType = (bytes: Uint8Array, type: string): number => {
  const t = new TextEncoder().encode(type);
  for (let i = 0; i + 4 <= bytes.length; i++) {
    if (bytes[i] === t[0] && bytes[i + 1] === t[1] && bytes[i + 2] === t[2] && bytes[i + 3] === t[3]) return i;
  }
  throw new Error(`${type} not found`);
};

/** Runs ffmpeg with its output on a pipe and feeds every stdout chunk to a reader. */
const readFfmpegStdout = (args: string[]): Promise<Mp4Event[]> =>
  new Promise((resolve, reject) => {
    const ffmpeg = spawn("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", ...args, "pipe:1"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const reader = new Mp4StreamReader();
    const events: Mp4Event[] = [];
    let stderr = "";
    ffmpeg.stderr.on("data", (chunk: Uint8Array) => (stderr += new TextDecoder().decode(chunk)));
    ffmpeg.stdout.on("data", (chunk: Uint8Array) => {
      try {
        events.push(...reader.push(chunk));
      } catch (err) {
        ffmpeg.kill();
        reject(err);
      }
    });
    ffmpeg.on("error", reject);
    ffmpeg.on("close", (code) => {
      if (code !== 0) return reject(new Error(`ffmpeg exited ${code}: ${stderr}`));
      try {
        events.push(...reader.end());
        resolve(events);
      } catch (err) {
        reject(err);
      }
    });
  });
