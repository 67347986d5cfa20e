import { describe, expect, it } from "vitest";
import { ChunkParser } from "./chunk-parser.ts";
import {
  ChunkWriter,
  encodeChunks,
  setPeerBandwidthMessage,
  streamBeginMessage,
  windowAckSizeMessage,
  pingResponseMessage,
} from "./chunk-writer.ts";

describe("chunk writer", () => {
  it("writes fmt 0 then fmt 3 continuations that the parser reassembles", () => {
    const payload = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const encoded = encodeChunks({ chunkStreamId: 6, typeId: 9, streamId: 1, timestamp: 1234, payload }, 300);
    // 12-byte header + 4 chunks of body + 3 one-byte continuation headers
    expect(encoded.length).toBe(12 + 1000 + 3);
    expect(encoded[0]).toBe(0x06);
    expect(encoded[12 + 300]).toBe(0xc6);
    const parser = new ChunkParser();
    parser.push(encodeChunks({ chunkStreamId: 2, typeId: 1, streamId: 0, timestamp: 0, payload: Buffer.from([0, 0, 1, 44]) }, 128));
    const [message] = parser.push(encoded);
    expect(message).toMatchObject({ typeId: 9, streamId: 1, timestamp: 1234, chunkStreamId: 6 });
    expect(message?.payload).toEqual(payload);
  });

  it("repeats the extended timestamp on continuation chunks and uses the long csid forms", () => {
    const payload = Buffer.alloc(300, 7);
    for (const csid of [3, 64, 319, 320, 65599]) {
      const encoded = encodeChunks({ chunkStreamId: csid, typeId: 8, streamId: 1, timestamp: 0x12345678, payload }, 128);
      const [message] = new ChunkParser().push(encoded);
      expect(message).toMatchObject({ timestamp: 0x12345678, chunkStreamId: csid });
      expect(message?.payload).toEqual(payload);
    }
    const encoded = encodeChunks({ chunkStreamId: 3, typeId: 8, streamId: 1, timestamp: 0x12345678, payload }, 128);
    expect(encoded.subarray(12 + 4 + 128, 12 + 4 + 128 + 5)).toEqual(Buffer.from([0xc3, 0x12, 0x34, 0x56, 0x78]));
  });

  it("sends Set Chunk Size in the old size and switches afterwards", () => {
    const writer = new ChunkWriter();
    const change = writer.setChunkSize(4096);
    expect(change).toEqual(Buffer.from([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 0, 0x10, 0x00]));
    expect(writer.chunkSize).toBe(4096);
    const big = writer.encode({ chunkStreamId: 3, typeId: 20, streamId: 0, timestamp: 0, payload: Buffer.alloc(4000) });
    expect(big.length).toBe(12 + 4000); // one chunk
    expect(() => writer.setChunkSize(0)).toThrow(RangeError);
  });

  it("builds protocol control messages", () => {
    expect(windowAckSizeMessage(2_500_000).payload).toEqual(Buffer.from([0x00, 0x26, 0x25, 0xa0]));
    expect(setPeerBandwidthMessage(2_500_000).payload).toEqual(Buffer.from([0x00, 0x26, 0x25, 0xa0, 2]));
    expect(streamBeginMessage(1)).toMatchObject({ chunkStreamId: 2, typeId: 4, streamId: 0, payload: Buffer.from([0, 0, 0, 0, 0, 1]) });
    expect(pingResponseMessage(99).payload).toEqual(Buffer.from([0, 7, 0, 0, 0, 99]));
  });

  it("acknowledges each time the peer's window is crossed, never without one", () => {
    const writer = new ChunkWriter();
    expect(writer.acknowledge(10_000_000)).toBeNull();
    writer.setPeerWindow(1000);
    expect(writer.acknowledge(999)).toBeNull();
    const ack = writer.acknowledge(1500);
    const [message] = new ChunkParser().push(ack as Buffer);
    expect(message).toMatchObject({ typeId: 3, payload: Buffer.from([0, 0, 0x05, 0xdc]) });
    expect(writer.acknowledge(2400)).toBeNull();
    expect(writer.acknowledge(2500)).not.toBeNull();
  });
});
