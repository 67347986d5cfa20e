/**
 * Encodes outgoing RTMP messages into chunks, plus the protocol control messages a server sends.
 *
 * The server only sends a handful of small messages (control messages and command replies), so
 * every message gets a full fmt 0 header and fmt 3 continuations: header compression would save a
 * few bytes and cost per-stream state that could drift out of sync with what the client expects.
 */

export const MSG = {
  setChunkSize: 1,
  abort: 2,
  acknowledgement: 3,
  userControl: 4,
  windowAckSize: 5,
  setPeerBandwidth: 6,
  audio: 8,
  video: 9,
  dataAmf3: 15,
  sharedObjectAmf3: 16,
  commandAmf3: 17,
  dataAmf0: 18,
  sharedObjectAmf0: 19,
  commandAmf0: 20,
  aggregate: 22,
} as const;

/** Chunk stream ids by convention: 2 is reserved for protocol control, commands use 3. */
export const CSID_PROTOCOL = 2;
export const CSID_COMMAND = 3;

export const USER_CONTROL = {
  streamBegin: 0,
  streamEof: 1,
  streamDry: 2,
  setBufferLength: 3,
  streamIsRecorded: 4,
  pingRequest: 6,
  pingResponse: 7,
} as const;

/** Set Peer Bandwidth limit types. */
export const PEER_BANDWIDTH_LIMIT = { hard: 0, soft: 1, dynamic: 2 } as const;

export interface OutgoingMessage {
  chunkStreamId: number;
  typeId: number;
  streamId: number;
  timestamp: number;
  payload: Buffer;
}

const EXTENDED_TIMESTAMP = 0xffffff;

const basicHeader = (fmt: number, csid: number): Buffer => {
  if (csid < 2 || csid > 65599) throw new RangeError(`invalid chunk stream id ${csid}`);
  if (csid < 64) return Buffer.from([(fmt << 6) | csid]);
  if (csid < 320) return Buffer.from([fmt << 6, csid - 64]);
  const rest = csid - 64;
  return Buffer.from([(fmt << 6) | 1, rest & 0xff, rest >> 8]);
};

/** Serialises one message as chunks of at most `chunkSize` payload bytes. Pure. */
export const encodeChunks = (message: OutgoingMessage, chunkSize: number): Buffer => {
  const { payload } = message;
  if (payload.length > 0xffffff) throw new RangeError("RTMP message longer than 16 MiB");
  const timestamp = message.timestamp >>> 0;
  const extended = timestamp >= EXTENDED_TIMESTAMP;

  const header = Buffer.alloc(11);
  header.writeUIntBE(extended ? EXTENDED_TIMESTAMP : timestamp, 0, 3);
  header.writeUIntBE(payload.length, 3, 3);
  header[6] = message.typeId;
  header.writeUInt32LE(message.streamId >>> 0, 7);

  const extendedField = Buffer.alloc(extended ? 4 : 0);
  if (extended) extendedField.writeUInt32BE(timestamp, 0);

  const parts: Buffer[] = [basicHeader(0, message.chunkStreamId), header, extendedField];
  const continuation = Buffer.concat([basicHeader(3, message.chunkStreamId), extendedField]);
  for (let offset = 0; offset < payload.length; offset += chunkSize) {
    // Continuation chunks repeat the extended timestamp, as ffmpeg and librtmp expect.
    if (offset > 0) parts.push(continuation);
    parts.push(payload.subarray(offset, Math.min(offset + chunkSize, payload.length)));
  }
  return Buffer.concat(parts);
};

const uint32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
};

const control = (typeId: number, payload: Buffer): OutgoingMessage => ({
  chunkStreamId: CSID_PROTOCOL,
  typeId,
  streamId: 0,
  timestamp: 0,
  payload,
});

export const windowAckSizeMessage = (size: number): OutgoingMessage => control(MSG.windowAckSize, uint32(size));

export const setPeerBandwidthMessage = (
  size: number,
  limitType: number = PEER_BANDWIDTH_LIMIT.dynamic,
): OutgoingMessage => control(MSG.setPeerBandwidth, Buffer.concat([uint32(size), Buffer.from([limitType])]));

export const setChunkSizeMessage = (size: number): OutgoingMessage => control(MSG.setChunkSize, uint32(size & 0x7fffffff));

export const acknowledgementMessage = (sequenceNumber: number): OutgoingMessage =>
  control(MSG.acknowledgement, uint32(sequenceNumber));

const userControl = (event: number, ...values: number[]): OutgoingMessage => {
  const payload = Buffer.alloc(2 + 4 * values.length);
  payload.writeUInt16BE(event, 0);
  values.forEach((value, i) => payload.writeUInt32BE(value >>> 0, 2 + 4 * i));
  return control(MSG.userControl, payload);
};

export const streamBeginMessage = (streamId: number): OutgoingMessage => userControl(USER_CONTROL.streamBegin, streamId);

export const pingResponseMessage = (timestamp: number): OutgoingMessage =>
  userControl(USER_CONTROL.pingResponse, timestamp);

/**
 * Stateful writer for one connection: remembers our outgoing chunk size (a Set Chunk Size must
 * itself go out in the old size, and only then does the new one apply) and the acknowledgement
 * window the client asked for.
 */
export class ChunkWriter {
  private outChunkSize = 128;
  /** Window the peer set with Window Acknowledgement Size; 0 means it never asked for acks. */
  private peerWindow = 0;
  private lastAcked = 0;

  get chunkSize(): number {
    return this.outChunkSize;
  }

  encode(message: OutgoingMessage): Buffer {
    return encodeChunks(message, this.outChunkSize);
  }

  /** Encodes a Set Chunk Size and switches to the new size for everything after it. */
  setChunkSize(size: number): Buffer {
    if (!Number.isInteger(size) || size < 1 || size > 0x7fffffff) throw new RangeError(`invalid chunk size ${size}`);
    const encoded = this.encode(setChunkSizeMessage(size));
    this.outChunkSize = size;
    return encoded;
  }

  /** Records the client's Window Acknowledgement Size. */
  setPeerWindow(size: number): void {
    this.peerWindow = size >>> 0;
  }

  /**
   * Given the running total of bytes received, returns an Acknowledgement to send when another
   * window's worth has arrived since the last one, else null. The sequence number wraps at 2^32.
   */
  acknowledge(totalBytesReceived: number): Buffer | null {
    if (this.peerWindow === 0 || totalBytesReceived - this.lastAcked < this.peerWindow) return null;
    this.lastAcked = totalBytesReceived;
    return this.encode(acknowledgementMessage(totalBytesReceived % 2 ** 32));
  }
}
