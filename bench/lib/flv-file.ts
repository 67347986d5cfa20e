import { readFileSync } from "node:fs";
import { FLV_TAG_AUDIO, FLV_TAG_SCRIPT, FLV_TAG_VIDEO, isSequenceHeader, parseOnMetaData, type StreamMetadata } from "../../gpu-transcoder/ingest/flv.ts";

export interface FlvFileTag {
  type: 8 | 9 | 18;
  /** Milliseconds (DTS), as an RTMP publisher would send it. */
  timestamp: number;
  data: Buffer;
}

export interface FlvFile {
  tags: FlvFileTag[];
  metadata: StreamMetadata;
  hasAudio: boolean;
  /** Media duration in seconds: video frames / frame rate (else the last video timestamp). */
  durationSeconds: number;
  bytes: number;
}

/**
 * Reads an FLV file into the tags an RTMP publisher would send for it (RTMP audio/video/data
 * message payloads are FLV tag bodies byte for byte).
 */
export const readFlvFile = (file: string): FlvFile => {
  const buf = readFileSync(file);
  if (buf.toString("ascii", 0, 3) !== "FLV") throw new Error(`${file} is not an FLV file`);
  let offset = buf.readUInt32BE(5) + 4; // header, then PreviousTagSize0
  const tags: FlvFileTag[] = [];
  let metadata: StreamMetadata = {};
  while (offset + 11 <= buf.length) {
    const type = buf[offset]! & 0x1f;
    const size = buf.readUIntBE(offset + 1, 3);
    const timestamp = (buf.readUIntBE(offset + 4, 3) | (buf[offset + 7]! << 24)) >>> 0;
    const start = offset + 11;
    if (start + size > buf.length) break; // truncated last tag
    const data = buf.subarray(start, start + size);
    offset = start + size + 4;
    if (type === FLV_TAG_SCRIPT) metadata = parseOnMetaData(data) ?? metadata;
    if (type === FLV_TAG_AUDIO || type === FLV_TAG_VIDEO || type === FLV_TAG_SCRIPT) tags.push({ type, timestamp, data });
  }
  const frames = tags.filter((t) => t.type === FLV_TAG_VIDEO && !isSequenceHeader(t.type, t.data));
  return {
    tags,
    metadata,
    hasAudio: tags.some((t) => t.type === FLV_TAG_AUDIO),
    durationSeconds: metadata.framerate ? frames.length / metadata.framerate : (frames.at(-1)?.timestamp ?? 0) / 1000,
    bytes: buf.length,
  };
};
