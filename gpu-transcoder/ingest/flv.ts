/**
 * FLV helpers. RTMP audio/video/data message payloads are byte-for-byte FLV tag bodies, so the
 * ingest hands tags downstream and anything that wants a file or a pipe into ffmpeg wraps them
 * with these. Pure functions, no I/O.
 */
import { Amf0Error, decodeAmf0, isAmf0Object, type Amf0Value } from "./amf0.ts";

export const FLV_TAG_AUDIO = 8;
export const FLV_TAG_VIDEO = 9;
export const FLV_TAG_SCRIPT = 18;

export interface FlvTagInput {
  type: number;
  /** Milliseconds; FLV stores 32 bits (24 + an 8-bit extension), so larger values wrap. */
  timestamp: number;
  data: Buffer;
}

/** The 9-byte FLV header followed by PreviousTagSize0 (always 0). */
export const encodeFlvHeader = (streams: { audio: boolean; video: boolean }): Buffer => {
  const out = Buffer.alloc(13);
  out.write("FLV", 0, "ascii");
  out[3] = 1;
  out[4] = (streams.audio ? 0x04 : 0) | (streams.video ? 0x01 : 0);
  out.writeUInt32BE(9, 5);
  out.writeUInt32BE(0, 9);
  return out;
};

/** One tag: 11-byte header, the body, then PreviousTagSize (11 + body length). */
export const encodeFlvTag = (tag: FlvTagInput): Buffer => {
  if (tag.data.length > 0xffffff) throw new RangeError("FLV tag body longer than 16 MiB");
  const header = Buffer.alloc(11);
  header[0] = tag.type & 0x1f;
  header.writeUIntBE(tag.data.length, 1, 3);
  const timestamp = tag.timestamp >>> 0;
  header.writeUIntBE(timestamp & 0xffffff, 4, 3);
  header[7] = timestamp >>> 24;
  header.writeUIntBE(0, 8, 3); // stream id: always 0
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(11 + tag.data.length, 0);
  return Buffer.concat([header, tag.data, trailer]);
};

const VIDEO_FRAME_KEY = 1;
const VIDEO_CODEC_AVC = 7;
const AUDIO_FORMAT_AAC = 10;
/** Enhanced RTMP (HEVC/AV1 over FLV) sets the top bit and moves the packet type into the low nibble. */
const VIDEO_EX_HEADER = 0x80;
const EX_PACKET_SEQUENCE_START = 0;

/** True when a video tag body is a keyframe (including an AVC sequence header, which is flagged as one). */
export const isVideoKeyframe = (data: Buffer): boolean => {
  const first = data[0];
  if (first === undefined) return false;
  return ((first >> 4) & 0x07) === VIDEO_FRAME_KEY;
};

/**
 * True for codec configuration tags: an AVC sequence header (codec 7, AVCPacketType 0), an AAC
 * sequence header (sound format 10, AACPacketType 0) or an Enhanced RTMP SequenceStart. Decoders
 * need these before any frame, so consumers cache them to replay on (re)start.
 */
export const isSequenceHeader = (type: number, data: Buffer): boolean => {
  const first = data[0];
  if (first === undefined) return false;
  if (type === FLV_TAG_VIDEO) {
    if ((first & VIDEO_EX_HEADER) !== 0) return (first & 0x0f) === EX_PACKET_SEQUENCE_START;
    return (first & 0x0f) === VIDEO_CODEC_AVC && data[1] === 0;
  }
  if (type === FLV_TAG_AUDIO) return first >> 4 === AUDIO_FORMAT_AAC && data[1] === 0;
  return false;
};

export interface StreamMetadata {
  width?: number;
  height?: number;
  framerate?: number;
}

const positive = (value: Amf0Value, max: number): number | undefined =>
  typeof value === "number" && Number.isFinite(value) && value > 0 && value <= max ? value : undefined;

/**
 * Reads width/height/framerate from an `onMetaData` data message payload, with or without the
 * `@setDataFrame` wrapper publishers put in front. Returns null when the payload is not
 * `onMetaData` or cannot be decoded; fields that are missing or nonsensical are left out, since
 * encoders differ in what they fill in and the values are advisory (the bitstream is the truth).
 */
export const parseOnMetaData = (payload: Buffer): StreamMetadata | null => {
  try {
    let item = decodeAmf0(payload, 0);
    if (item.value === "@setDataFrame") item = decodeAmf0(payload, item.offset);
    if (item.value !== "onMetaData") return null;
    const body = decodeAmf0(payload, item.offset).value;
    if (!isAmf0Object(body)) return null;
    const result: StreamMetadata = {};
    const width = positive(body.width, 65535);
    const height = positive(body.height, 65535);
    const framerate = positive(body.framerate ?? body.fps, 1000);
    if (width !== undefined) result.width = width;
    if (height !== undefined) result.height = height;
    if (framerate !== undefined) result.framerate = framerate;
    return result;
  } catch (error) {
    if (error instanceof Amf0Error) return null;
    throw error;
  }
};

/**
 * Splits an RTMP aggregate message (type 22: FLV tags back to back, each with its trailing
 * PreviousTagSize) into tags. Sub-tag timestamps are re-based so the first one lands on the
 * aggregate's own timestamp. Throws RangeError on a malformed aggregate.
 */
export const splitAggregate = (payload: Buffer, timestamp: number): FlvTagInput[] => {
  const tags: FlvTagInput[] = [];
  let offset = 0;
  let base: number | null = null;
  while (offset < payload.length) {
    if (payload.length - offset < 11) throw new RangeError("truncated aggregate sub-tag header");
    const type = (payload[offset] as number) & 0x1f;
    const size = payload.readUIntBE(offset + 1, 3);
    const subTimestamp = (payload.readUIntBE(offset + 4, 3) | ((payload[offset + 7] as number) << 24)) >>> 0;
    const start = offset + 11;
    if (payload.length - start < size) throw new RangeError("truncated aggregate sub-tag body");
    base ??= subTimestamp;
    tags.push({
      type,
      timestamp: (timestamp + subTimestamp - base) >>> 0,
      data: payload.subarray(start, start + size),
    });
    // The PreviousTagSize after each sub-tag is optional at the very end.
    offset = Math.min(payload.length, start + size + 4);
  }
  return tags;
};
