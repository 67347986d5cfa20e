import { describe, expect, it } from "vitest";
import { ChunkParser, ChunkParserError, type RtmpMessage } from "./chunk-parser.ts";

// Hand-built chunks, independent of chunk-writer.ts, so the two cannot share a misreading.
const basic = (fmt: number, csid: number): Buffer => {
  if (csid < 64) return Buffer.from([(fmt << 6) | csid]);
  if (csid < 320) return Buffer.from([fmt << 6, csid - 64]);
  return Buffer.from([(fmt << 6) | 1, (csid - 64) & 0xff, (csid - 64) >> 8]);
};
const u24 = (n: number): Buffer => Buffer.from([(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff]);
const u32be = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
const u32le = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const fmt0 = (csid: number, ts: number, len: number, type: number, sid: number): Buffer =>
  Buffer.concat([basic(0, csid), u24(Math.min(ts, 0xffffff)), u24(len), Buffer.from([type]), u32le(sid), ts >= 0xffffff ? u32be(ts) : Buffer.alloc(0)]);
const fmt1 = (csid: number, delta: number, len: number, type: number): Buffer =>
  Buffer.concat([basic(1, csid), u24(Math.min(delta, 0xffffff)), u24(len), Buffer.from([type]), delta >= 0xffffff ? u32be(delta) : Buffer.alloc(0)]);
const fmt2 = (csid: number, delta: number): Buffer =>
  Buffer.concat([basic(2, csid), u24(Math.min(delta, 0xffffff)), delta >= 0xffffff ? u32be(delta) : Buffer.alloc(0)]);
const fmt3 = (csid: number, extended?: number): Buffer =>
  Buffer.concat([basic(3, csid), extended === undefined ? Buffer.alloc(0) : u32be(extended)]);

const payload = (length: number, seed: number): Buffer => Buffer.from(Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff));

const summary = (messages: RtmpMessage[]) =>
  messages.map((m) => ({ typeId: m.typeId, streamId: m.streamId, timestamp: m.timestamp, csid: m.chunkStreamId, payload: m.payload.toString("hex") }));

const parseAll = (data: Buffer, parser = new ChunkParser()): RtmpMessage[] => parser.push(data);

describe("ChunkParser", () => {
  it("parses a single fmt 0 chunk", () => {
    const body = payload(20, 1);
    const [message, ...rest] = parseAll(Buffer.concat([fmt0(3, 1000, 20, 20, 0), body]));
    expect(rest).toEqual([]);
    expect(message).toEqual({ typeId: 20, streamId: 0, timestamp: 1000, payload: body, chunkStreamId: 3 });
  });

  it("reassembles a message split into fmt 3 continuation chunks at the default 128-byte size", () => {
    const body = payload(300, 2);
    const data = Buffer.concat([fmt0(4, 40, 300, 9, 1), body.subarray(0, 128), fmt3(4), body.subarray(128, 256), fmt3(4), body.subarray(256)]);
    const messages = parseAll(data);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.payload).toEqual(body);
    expect(messages[0]?.timestamp).toBe(40);
    expect(messages[0]?.streamId).toBe(1);
  });

  it("applies fmt 1 and fmt 2 deltas and reuses the delta for a fmt 3 new message", () => {
    const a = payload(10, 1);
    const b = payload(12, 2);
    const c = payload(12, 3);
    const d = payload(12, 4);
    const data = Buffer.concat([
      fmt0(6, 100, 10, 8, 1), a,
      fmt1(6, 23, 12, 8), b, // 123
      fmt2(6, 21), c, // 144
      fmt3(6), d, // 165: fmt 3 starting a message repeats the last delta
    ]);
    const messages = parseAll(data);
    expect(messages.map((m) => m.timestamp)).toEqual([100, 123, 144, 165]);
    expect(messages.map((m) => m.payload)).toEqual([a, b, c, d]);
    expect(messages.every((m) => m.typeId === 8 && m.streamId === 1)).toBe(true);
  });

  it("treats a fmt 3 message after fmt 0 as repeating the fmt 0 timestamp field as its delta", () => {
    const data = Buffer.concat([fmt0(6, 40, 1, 8, 1), Buffer.from([1]), fmt3(6), Buffer.from([2])]);
    expect(parseAll(data).map((m) => m.timestamp)).toEqual([40, 80]);
  });

  it("reads extended timestamps on fmt 0 and on its fmt 3 continuation chunks", () => {
    const ts = 0x01234567;
    const body = payload(200, 5);
    const data = Buffer.concat([fmt0(4, ts, 200, 9, 1), body.subarray(0, 128), fmt3(4, ts), body.subarray(128)]);
    const [message] = parseAll(data);
    expect(message?.timestamp).toBe(ts);
    expect(message?.payload).toEqual(body);
  });

  it("tolerates continuation chunks that omit the extended timestamp", () => {
    const ts = 0x01000000;
    const body = payload(200, 6);
    const data = Buffer.concat([fmt0(4, ts, 200, 9, 1), body.subarray(0, 128), fmt3(4), body.subarray(128)]);
    const [message] = parseAll(data);
    expect(message?.payload).toEqual(body);
  });

  it("reads extended deltas and the extended field of a fmt 3 new message", () => {
    const data = Buffer.concat([
      fmt0(5, 10, 1, 8, 1), Buffer.from([1]),
      fmt1(5, 0x01000000, 1, 8), Buffer.from([2]),
      fmt3(5, 0x01000000), Buffer.from([3]),
      fmt2(5, 5), Buffer.from([4]),
    ]);
    expect(parseAll(data).map((m) => m.timestamp)).toEqual([10, 10 + 0x01000000, 10 + 2 * 0x01000000, 15 + 2 * 0x01000000]);
  });

  it("wraps timestamps at 2^32", () => {
    const data = Buffer.concat([fmt0(4, 0xfffffff0, 1, 9, 1), Buffer.from([1]), fmt2(4, 0x20), Buffer.from([2])]);
    expect(parseAll(data).map((m) => m.timestamp)).toEqual([0xfffffff0, 0x10]);
  });

  it("applies Set Chunk Size to the very next bytes of the same read", () => {
    const body = payload(1000, 7);
    const data = Buffer.concat([fmt0(2, 0, 4, 1, 0), u32be(4096), fmt0(3, 0, 1000, 20, 0), body]);
    const parser = new ChunkParser();
    const messages = parser.push(data);
    expect(messages.map((m) => m.typeId)).toEqual([1, 20]);
    expect(messages[1]?.payload).toEqual(body);
    expect(parser.chunkSize).toBe(4096);
  });

  it("reassembles interleaved chunk streams", () => {
    const video = payload(300, 8);
    const audio = payload(200, 9);
    const data = Buffer.concat([
      fmt0(6, 0, 300, 9, 1), video.subarray(0, 128),
      fmt0(4, 0, 200, 8, 1), audio.subarray(0, 128),
      fmt3(6), video.subarray(128, 256),
      fmt3(4), audio.subarray(128),
      fmt3(6), video.subarray(256),
    ]);
    const messages = parseAll(data);
    expect(messages.map((m) => [m.typeId, m.chunkStreamId])).toEqual([[8, 4], [9, 6]]);
    expect(messages[0]?.payload).toEqual(audio);
    expect(messages[1]?.payload).toEqual(video);
  });

  it("decodes the two- and three-byte chunk stream id forms", () => {
    const data = Buffer.concat([fmt0(100, 1, 1, 8, 1), Buffer.from([1]), fmt0(1000, 2, 1, 9, 1), Buffer.from([2]), fmt0(65599, 3, 1, 9, 1), Buffer.from([3])]);
    expect(parseAll(data).map((m) => m.chunkStreamId)).toEqual([100, 1000, 65599]);
  });

  it("drops a partial message on Abort", () => {
    const body = payload(300, 10);
    const data = Buffer.concat([
      fmt0(4, 0, 300, 9, 1), body.subarray(0, 128),
      fmt0(2, 0, 4, 2, 0), u32be(4),
      fmt0(4, 50, 3, 9, 1), Buffer.from([7, 8, 9]), // a fresh message on the aborted stream
    ]);
    const messages = parseAll(data);
    expect(messages.map((m) => m.typeId)).toEqual([2, 9]);
    expect(messages[1]?.payload).toEqual(Buffer.from([7, 8, 9]));
  });

  it("emits zero-length messages", () => {
    const messages = parseAll(Buffer.concat([fmt0(4, 5, 0, 8, 1), fmt0(4, 6, 1, 8, 1), Buffer.from([1])]));
    expect(messages.map((m) => m.payload.length)).toEqual([0, 1]);
  });

  it("gives the same result for any split of the input, down to single bytes", () => {
    const big = payload(5000, 11);
    const stream = Buffer.concat([
      fmt0(3, 0, 30, 20, 0), payload(30, 1),
      fmt0(6, 0x00fffffe, 300, 9, 1), big.subarray(0, 128),
      fmt0(4, 0x01000000, 10, 8, 1), payload(10, 2),
      fmt3(6), big.subarray(128, 256),
      fmt3(4, 0x01000000), payload(10, 3),
      fmt3(6), big.subarray(256, 300),
      fmt0(2, 0, 4, 1, 0), u32be(1000),
      fmt1(6, 33, 5000, 9), big.subarray(0, 1000),
      fmt2(4, 0xffffff), payload(10, 4),
      fmt3(6), big.subarray(1000, 2000),
      fmt3(6), big.subarray(2000, 3000),
      fmt3(6), big.subarray(3000, 4000),
      fmt3(6), big.subarray(4000),
      fmt0(1000, 7, 3, 18, 1), Buffer.from([1, 2, 3]),
    ]);
    const expected = summary(parseAll(stream));
    expect(expected.map((m) => [m.csid, m.timestamp])).toEqual([
      [3, 0],
      [4, 0x01000000],
      [4, 0x02000000],
      [6, 0x00fffffe],
      [2, 0],
      [4, 0x02000000 + 0xffffff],
      [6, 0x00fffffe + 33],
      [1000, 7],
    ]);

    const byteByByte = new ChunkParser();
    const collected: RtmpMessage[] = [];
    for (let i = 0; i < stream.length; i++) collected.push(...byteByByte.push(stream.subarray(i, i + 1)));
    expect(summary(collected)).toEqual(expected);

    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 20; round++) {
      const parser = new ChunkParser();
      const out: RtmpMessage[] = [];
      for (let pos = 0; pos < stream.length; ) {
        const size = 1 + (random() % 700);
        out.push(...parser.push(stream.subarray(pos, pos + size)));
        pos += size;
      }
      expect(summary(out)).toEqual(expected);
    }
  });

  describe("rejects garbage", () => {
    const fails = (data: Buffer, pattern: RegExp, parser = new ChunkParser()) => {
      expect(() => parser.push(data)).toThrow(ChunkParserError);
      expect(() => parser.push(Buffer.from([0]))).toThrow(/already failed/);
      expect(() => new ChunkParser().push(data)).toThrow(pattern);
    };

    it("a chunk stream that starts without a fmt 0 header", () => {
      fails(Buffer.concat([fmt1(4, 0, 1, 8), Buffer.from([1])]), /starts with a type 1 header/);
      fails(fmt3(7), /starts with a type 3 header/);
    });

    it("a message above the size limit", () => {
      const parser = new ChunkParser({ maxMessageSize: 1000 });
      expect(() => parser.push(fmt0(4, 0, 1001, 9, 1))).toThrow(/exceeds/);
      const limited = new ChunkParser();
      limited.limitMessageSize(64);
      expect(() => limited.push(fmt0(4, 0, 65, 9, 1))).toThrow(/exceeds the 64 byte limit/);
    });

    it("invalid or excessive chunk sizes", () => {
      fails(Buffer.concat([fmt0(2, 0, 4, 1, 0), u32be(0)]), /invalid chunk size 0/);
      fails(Buffer.concat([fmt0(2, 0, 4, 1, 0), u32be(0x80000000)]), /invalid chunk size/);
      const parser = new ChunkParser({ maxChunkSize: 65536 });
      expect(() => parser.push(Buffer.concat([fmt0(2, 0, 4, 1, 0), u32be(65537)]))).toThrow(/exceeds/);
    });

    it("a new message header on a stream whose message is incomplete", () => {
      fails(Buffer.concat([fmt0(4, 0, 300, 9, 1), payload(128, 1), fmt0(4, 0, 10, 9, 1)]), /while a message is incomplete/);
    });

    it("too many chunk streams or too much pending data", () => {
      const streams = Buffer.concat(Array.from({ length: 5 }, (_, i) => Buffer.concat([fmt0(10 + i, 0, 1, 8, 1), Buffer.from([0])])));
      expect(() => new ChunkParser({ maxChunkStreams: 4 }).push(streams)).toThrow(/too many chunk streams/);
      const partials = Buffer.concat(Array.from({ length: 3 }, (_, i) => Buffer.concat([fmt0(10 + i, 0, 1000, 9, 1), payload(128, i)])));
      expect(() => new ChunkParser({ maxPendingBytes: 300 }).push(partials)).toThrow(/incomplete messages/);
    });
  });
});
