/**
 * Incremental RTMP chunk stream parser.
 *
 * TCP hands us arbitrary slices, so the parser is a state machine that never needs more than one
 * chunk header (at most 18 bytes) buffered: chunk bodies are appended to their message as they
 * arrive. That keeps memory proportional to what the peer actually sent and makes byte-by-byte
 * input as correct as 64 KiB reads.
 *
 * Set Chunk Size and Abort change how the very next bytes are framed, so they are applied here,
 * the moment they complete, rather than left to the caller (who would see them too late when
 * one read contains both the control message and the chunks after it). They are still emitted.
 */

export interface RtmpMessage {
  typeId: number;
  /** Message stream id (0 for connection-level messages, the createStream id for media). */
  streamId: number;
  /** Absolute timestamp in ms, modulo 2^32 as the protocol defines it. */
  timestamp: number;
  payload: Buffer;
  chunkStreamId: number;
}

export interface ChunkParserOptions {
  /** Largest message accepted; the 24-bit length field allows up to 16 MiB − 1. */
  maxMessageSize?: number;
  /** Largest chunk size a peer may switch to. */
  maxChunkSize?: number;
  /** How many distinct chunk stream ids a peer may use; each one costs state. */
  maxChunkStreams?: number;
  /** Bytes of incomplete messages held across all chunk streams at once. */
  maxPendingBytes?: number;
}

export class ChunkParserError extends Error {
  override readonly name = "ChunkParserError";
}

export const MSG_SET_CHUNK_SIZE = 1;
export const MSG_ABORT = 2;

const DEFAULT_CHUNK_SIZE = 128;
const EXTENDED_TIMESTAMP = 0xffffff;

/** Per chunk stream state: the last header seen (fields are inherited by fmt 1–3) and any partial message. */
interface ChunkStreamState {
  timestamp: number;
  /** fmt 0: the absolute timestamp field; fmt 1/2: the delta. A fmt 3 new message reuses it. */
  delta: number;
  length: number;
  typeId: number;
  streamId: number;
  /** The last fmt 0–2 header used an extended timestamp, so fmt 3 chunks carry one too. */
  extended: boolean;
  /** The 32-bit value that extended timestamp held, to recognise it on continuation chunks. */
  extendedValue: number;
  /** Incomplete message body; null when no message is in progress. */
  pieces: Buffer[] | null;
  received: number;
}

export class ChunkParser {
  private readonly maxMessageSize: number;
  private readonly maxChunkSize: number;
  private readonly maxChunkStreams: number;
  private readonly maxPendingBytes: number;

  private inChunkSize = DEFAULT_CHUNK_SIZE;
  private readonly streams = new Map<number, ChunkStreamState>();
  private pendingBytes = 0;
  /** Header bytes carried over from the previous push (never more than a header's worth). */
  private carry: Buffer = Buffer.alloc(0);
  /** Set while inside a chunk body: which stream it belongs to and how many body bytes remain. */
  private body: { csid: number; remaining: number } | null = null;
  private failed = false;

  private messageSizeLimit: number;

  constructor(options: ChunkParserOptions = {}) {
    this.maxMessageSize = options.maxMessageSize ?? 16 * 1024 * 1024;
    this.maxChunkSize = options.maxChunkSize ?? 16 * 1024 * 1024;
    this.maxChunkStreams = options.maxChunkStreams ?? 64;
    this.maxPendingBytes = options.maxPendingBytes ?? 32 * 1024 * 1024;
    this.messageSizeLimit = this.maxMessageSize;
  }

  /**
   * Tightens (or restores) the message size limit below `maxMessageSize`. The server keeps it low
   * until a publisher is authorised, so strangers cannot make us buffer megabytes.
   */
  limitMessageSize(bytes: number): void {
    this.messageSizeLimit = Math.min(bytes, this.maxMessageSize);
  }

  /** The chunk size the peer currently sends with. */
  get chunkSize(): number {
    return this.inChunkSize;
  }

  /**
   * Consumes bytes and returns the messages they complete. Throws `ChunkParserError` on a
   * protocol violation; the parser is then unusable and the connection should be dropped.
   */
  push(data: Buffer): RtmpMessage[] {
    if (this.failed) throw new ChunkParserError("parser already failed");
    try {
      return this.consume(data);
    } catch (error) {
      this.failed = true;
      throw error;
    }
  }

  private consume(data: Buffer): RtmpMessage[] {
    const out: RtmpMessage[] = [];
    const buf = this.carry.length > 0 ? Buffer.concat([this.carry, data]) : data;
    this.carry = Buffer.alloc(0);
    let pos = 0;
    while (pos < buf.length) {
      if (this.body) {
        const take = Math.min(this.body.remaining, buf.length - pos);
        const state = this.streams.get(this.body.csid) as ChunkStreamState;
        // Copy: the socket's buffer may be pooled and reused once we return.
        state.pieces?.push(Buffer.from(buf.subarray(pos, pos + take)));
        state.received += take;
        this.pendingBytes += take;
        if (this.pendingBytes > this.maxPendingBytes) throw new ChunkParserError("too many bytes in incomplete messages");
        pos += take;
        this.body.remaining -= take;
        if (this.body.remaining > 0) break;
        const csid = this.body.csid;
        this.body = null;
        if (state.received === state.length) this.complete(csid, state, out);
        continue;
      }
      const consumed = this.readHeader(buf, pos, out);
      if (consumed === 0) {
        this.carry = Buffer.from(buf.subarray(pos));
        break;
      }
      pos += consumed;
    }
    return out;
  }

  /** Parses one chunk header at `pos`; returns bytes consumed, or 0 when it is not all there yet. */
  private readHeader(buf: Buffer, pos: number, out: RtmpMessage[]): number {
    const avail = buf.length - pos;
    const first = buf[pos] as number;
    const fmt = first >> 6;
    let csid = first & 0x3f;
    let at = pos + 1;
    if (csid === 0) {
      if (avail < 2) return 0;
      csid = 64 + (buf[at] as number);
      at += 1;
    } else if (csid === 1) {
      if (avail < 3) return 0;
      csid = 64 + (buf[at] as number) + (buf[at + 1] as number) * 256;
      at += 2;
    }
    // csid 0 and 1 are escape codes, so 2 is the smallest real id (reserved for control messages).

    const headerSize = fmt === 0 ? 11 : fmt === 1 ? 7 : fmt === 2 ? 3 : 0;
    if (buf.length - at < headerSize) return 0;

    let state = this.streams.get(csid);
    if (!state) {
      if (fmt !== 0) throw new ChunkParserError(`chunk stream ${csid} starts with a type ${fmt} header`);
      if (this.streams.size >= this.maxChunkStreams) throw new ChunkParserError("too many chunk streams");
      state = {
        timestamp: 0,
        delta: 0,
        length: 0,
        typeId: 0,
        streamId: 0,
        extended: false,
        extendedValue: 0,
        pieces: null,
        received: 0,
      };
    }
    const inProgress = state.pieces !== null;
    if (fmt !== 3 && inProgress) {
      throw new ChunkParserError(`type ${fmt} header on chunk stream ${csid} while a message is incomplete`);
    }

    let field = 0;
    let length = state.length;
    let typeId = state.typeId;
    let streamId = state.streamId;
    if (fmt <= 2) {
      field = buf.readUIntBE(at, 3);
      if (fmt <= 1) {
        length = buf.readUIntBE(at + 3, 3);
        typeId = buf[at + 6] as number;
      }
      if (fmt === 0) streamId = buf.readUInt32LE(at + 7);
      at += headerSize;
    }

    // Extended timestamps: present after fmt 0–2 headers whose field is saturated, and on fmt 3
    // chunks of a stream whose last full header was extended.
    let extendedValue: number | null = null;
    if (fmt <= 2 && field === EXTENDED_TIMESTAMP) {
      if (buf.length - at < 4) return 0;
      extendedValue = buf.readUInt32BE(at);
      at += 4;
    } else if (fmt === 3 && state.extended) {
      if (buf.length - at < 4) return 0;
      const candidate = buf.readUInt32BE(at);
      if (!inProgress) {
        // A new message: the spec requires the field and ffmpeg puts the (possibly new) delta in it.
        extendedValue = candidate;
        at += 4;
      } else if (candidate === state.extendedValue) {
        // Continuation: conformant senders repeat the value; a few old ones omit it, in which case
        // these bytes are payload. Matching the exact 32-bit value tells the two apart.
        at += 4;
      }
    }

    if (fmt !== 3) {
      state.extended = extendedValue !== null;
      state.extendedValue = extendedValue ?? 0;
    } else if (extendedValue !== null) {
      state.extendedValue = extendedValue;
    }

    if (!inProgress) {
      // A new message begins: settle its header and timestamp now.
      if (length > this.messageSizeLimit) {
        throw new ChunkParserError(`message of ${length} bytes exceeds the ${this.messageSizeLimit} byte limit`);
      }
      const value = extendedValue ?? field;
      if (fmt === 0) {
        state.timestamp = value;
        state.delta = value;
      } else if (fmt === 3) {
        state.timestamp = (state.timestamp + (extendedValue ?? state.delta)) >>> 0;
        if (extendedValue !== null) state.delta = extendedValue;
      } else {
        state.delta = value;
        state.timestamp = (state.timestamp + value) >>> 0;
      }
      state.length = length;
      state.typeId = typeId;
      state.streamId = streamId;
      state.pieces = [];
      state.received = 0;
      this.streams.set(csid, state);
    }

    const remaining = state.length - state.received;
    if (remaining === 0) {
      // Zero-length message: complete with just a header.
      this.complete(csid, state, out);
    } else {
      this.body = { csid, remaining: Math.min(this.inChunkSize, remaining) };
    }
    return at - pos;
  }

  private complete(csid: number, state: ChunkStreamState, out: RtmpMessage[]): void {
    const payload = state.pieces && state.pieces.length === 1 ? (state.pieces[0] as Buffer) : Buffer.concat(state.pieces ?? []);
    this.pendingBytes -= state.received;
    state.pieces = null;
    state.received = 0;
    const message: RtmpMessage = {
      typeId: state.typeId,
      streamId: state.streamId,
      timestamp: state.timestamp,
      payload,
      chunkStreamId: csid,
    };
    if (message.typeId === MSG_SET_CHUNK_SIZE) this.applyChunkSize(payload);
    else if (message.typeId === MSG_ABORT) this.applyAbort(payload);
    out.push(message);
  }

  private applyChunkSize(payload: Buffer): void {
    if (payload.length < 4) throw new ChunkParserError("short Set Chunk Size message");
    // The top bit is reserved and must be zero.
    const size = payload.readUInt32BE(0);
    if (size < 1 || size > 0x7fffffff) throw new ChunkParserError(`invalid chunk size ${size}`);
    if (size > this.maxChunkSize) throw new ChunkParserError(`chunk size ${size} exceeds the ${this.maxChunkSize} limit`);
    this.inChunkSize = size;
  }

  private applyAbort(payload: Buffer): void {
    if (payload.length < 4) throw new ChunkParserError("short Abort message");
    const state = this.streams.get(payload.readUInt32BE(0));
    if (!state || state.pieces === null) return;
    this.pendingBytes -= state.received;
    state.pieces = null;
    state.received = 0;
  }
}
