import { Mp4FormatError } from "./errors.ts";

/**
 * A big-endian cursor over part of a Uint8Array. Every read is bounds-checked against `end`
 * (the enclosing box), so a lying length field surfaces as Mp4FormatError rather than a
 * RangeError from DataView or, worse, a silent read of the neighbouring box.
 */
export class ByteReader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    start = 0,
    readonly end = bytes.length,
    /** Names the structure in error messages. */
    private readonly what = "box",
  ) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new Mp4FormatError(`${what}: range ${start}..${end} outside a ${bytes.length}-byte buffer`, start);
    }
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = start;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  private need(n: number): number {
    if (this.end - this.pos < n) {
      throw new Mp4FormatError(`${this.what} truncated: need ${n} more bytes, ${this.end - this.pos} left`, this.pos);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  skip(n: number): void {
    this.need(n);
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }

  u16(): number {
    return this.view.getUint16(this.need(2));
  }

  u24(): number {
    const at = this.need(3);
    return (this.view.getUint8(at) << 16) | this.view.getUint16(at + 1);
  }

  u32(): number {
    return this.view.getUint32(this.need(4));
  }

  i32(): number {
    return this.view.getInt32(this.need(4));
  }

  /** 64-bit fields become plain numbers; beyond 2^53 they would silently lose precision, so refuse. */
  u64(): number {
    const at = this.need(8);
    const value = this.view.getBigUint64(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Mp4FormatError(`${this.what}: 64-bit value ${value} exceeds 2^53`, at);
    }
    return Number(value);
  }

  fourcc(): string {
    const at = this.need(4);
    return fourccAt(this.bytes, at);
  }

  /** A view (no copy) of the next n bytes. */
  take(n: number): Uint8Array {
    const at = this.need(n);
    return this.bytes.subarray(at, at + n);
  }
}

/** Box types are four raw bytes; latin1 keeps non-ASCII ones like `©nam` intact and one char per byte. */
export const fourccAt = (bytes: Uint8Array, at: number): string =>
  String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);
