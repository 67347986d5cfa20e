import { isPrintableFourcc, validateInitSegment } from "./boxes.ts";
import { fourccAt } from "./byte-reader.ts";
import { ChunkQueue } from "./chunk-queue.ts";
import { Mp4FormatError } from "./errors.ts";
import { parseFragment, type FragmentInfo } from "./fragment-info.ts";
import { parseInitSegment, trackDefaults, type InitInfo, type TrackInfo } from "./init-info.ts";

export type Mp4Event =
  | { kind: "init"; bytes: Uint8Array; info: InitInfo }
  | { kind: "fragment"; bytes: Uint8Array; info: FragmentInfo };

export interface Mp4StreamReaderOptions {
  /**
   * Largest top-level box accepted. Garbage decodes to sizes of gigabytes, and without a cap the
   * reader would buffer forever waiting for the box to complete. Default 256 MiB.
   */
  maxBoxSize?: number;
}

interface BoxHeader {
  type: string;
  /** Total size; 0 means "to the end of the stream". */
  size: number;
}

/** Boxes carried along with the next moof (CMAF chunk headers and in-band metadata). */
const PRELUDE = new Set(["styp", "prft", "emsg"]);

/**
 * Splits an fMP4 byte stream (ffmpeg's stdout) into an init event (ftyp + moov) and one
 * fragment event per moof + mdat, whatever the chunking. Boxes are parsed only once complete;
 * free/skip/sidx/mfra and unknown top-level boxes are dropped as they stream past.
 *
 * A throw leaves the reader failed: later calls rethrow the same error.
 */
export class Mp4StreamReader {
  private readonly queue = new ChunkQueue();
  private readonly maxBoxSize: number;
  /** Header of the box at the front of the queue, once known. */
  private head: BoxHeader | null = null;
  /** Header of the mdat after a moof at the front, once known. */
  private mdat: BoxHeader | null = null;
  /** Bytes of a skipped box still to come. */
  private skipRemaining = 0;
  private ftyp: Uint8Array | null = null;
  private prelude: Uint8Array[] = [];
  private defaults: Map<number, TrackInfo> | null = null;
  private ending = false;
  private ended = false;
  private failure: unknown = null;
  private consumed = 0;
  private init: InitInfo | null = null;

  constructor(options: Mp4StreamReaderOptions = {}) {
    this.maxBoxSize = options.maxBoxSize ?? 256 * 1024 * 1024;
  }

  /** The most recent init segment's info, once seen. */
  get initInfo(): InitInfo | null {
    return this.init;
  }

  /** Bytes held waiting for a box to complete. */
  get bufferedBytes(): number {
    return this.queue.length + this.prelude.reduce((n, b) => n + b.length, 0) + (this.ftyp?.length ?? 0);
  }

  push(chunk: Uint8Array): Mp4Event[] {
    if (this.ended) throw new Error("Mp4StreamReader: push() after end()");
    this.queue.push(chunk);
    return this.guarded(() => this.drain());
  }

  /** Flushes a final box whose size was 0 ("to end of stream"); throws if a box was left incomplete. */
  end(): Mp4Event[] {
    if (this.failure) throw this.failure;
    if (this.ended) return [];
    this.ending = true;
    const events = this.guarded(() => this.drain());
    this.ended = true;
    const left = this.queue.length;
    const skipping = Number.isFinite(this.skipRemaining) && this.skipRemaining > 0;
    if (left > 0 || skipping) {
      const what = this.head ? `'${this.head.type}' box` : "box header";
      this.fail(new Mp4FormatError(`stream ended inside a ${what}: trailing partial box (${left} bytes buffered)`, this.consumed));
    }
    if (this.prelude.length > 0) this.fail(new Mp4FormatError("stream ended after styp/prft/emsg without a moof", this.consumed));
    if (this.ftyp) this.fail(new Mp4FormatError("stream ended after ftyp without a moov", this.consumed));
    return events;
  }

  private guarded(work: () => Mp4Event[]): Mp4Event[] {
    if (this.failure) throw this.failure;
    try {
      return work();
    } catch (err) {
      this.failure = err;
      throw err;
    }
  }

  private fail(err: Error): never {
    this.failure = err;
    throw err;
  }

  private drain(): Mp4Event[] {
    const events: Mp4Event[] = [];
    for (;;) {
      if (this.skipRemaining > 0) {
        const dropped = this.queue.discard(this.skipRemaining);
        this.skipRemaining -= dropped;
        this.consumed += dropped;
        if (this.skipRemaining > 0) return events;
      }
      this.head ??= this.peekHeader(0);
      if (!this.head) return events;
      const { type } = this.head;
      const handled = type === "moof" || type === "ftyp" || type === "moov" || type === "mdat" || PRELUDE.has(type);
      if (!handled && this.head.size === 0) {
        // A skippable box running to the end of the stream: drop everything from here on.
        this.head = null;
        this.skipRemaining = Infinity;
        continue;
      }
      const size = this.resolveSize(this.head, 0);
      if (size === null) return events;

      if (type === "moof") {
        const event = this.takeFragment(size);
        if (!event) return events;
        events.push(event);
      } else if (type === "ftyp" || type === "moov" || PRELUDE.has(type)) {
        if (this.queue.length < size) return events;
        const bytes = this.take(size);
        if (type === "ftyp") {
          this.ftyp = bytes;
          this.prelude = [];
        } else if (type === "moov") {
          events.push(this.initEvent(bytes));
        } else {
          this.prelude.push(bytes);
        }
      } else if (type === "mdat") {
        throw new Mp4FormatError("mdat without a preceding moof", this.consumed);
      } else {
        // free, skip, sidx, mfra/mfro at the end, vendor boxes: nothing the packager needs.
        this.head = null;
        this.skipRemaining = size;
      }
    }
  }

  /** Both moof and mdat must be buffered, so the fragment is assembled with a single copy. */
  private takeFragment(moofSize: number): Mp4Event | null {
    if (!this.defaults) throw new Mp4FormatError("moof before any init segment (ftyp + moov)", this.consumed);
    this.mdat ??= this.peekHeader(moofSize);
    if (!this.mdat) return null;
    if (this.mdat.type !== "mdat") {
      throw new Mp4FormatError(`moof followed by '${this.mdat.type}', not mdat`, this.consumed + moofSize);
    }
    const mdatSize = this.resolveSize(this.mdat, moofSize);
    if (mdatSize === null) return null;
    const total = moofSize + mdatSize;
    if (this.queue.length < total) return null;

    const preludeSize = this.prelude.reduce((n, b) => n + b.length, 0);
    const bytes = new Uint8Array(preludeSize + total);
    let at = 0;
    for (const part of this.prelude) {
      bytes.set(part, at);
      at += part.length;
    }
    this.queue.readInto(bytes, at, total);
    this.consumed += total;
    this.prelude = [];
    this.head = null;
    this.mdat = null;
    return { kind: "fragment", bytes, info: parseFragment(bytes, this.defaults) };
  }

  private initEvent(moov: Uint8Array): Mp4Event {
    const ftyp = this.ftyp;
    if (!ftyp) throw new Mp4FormatError("moov without a preceding ftyp", this.consumed - moov.length);
    const bytes = new Uint8Array(ftyp.length + moov.length);
    bytes.set(ftyp, 0);
    bytes.set(moov, ftyp.length);
    this.ftyp = null;
    const problem = validateInitSegment(bytes);
    if (problem) throw new Mp4FormatError(`bad init segment: ${problem}`, this.consumed - bytes.length);
    const info = parseInitSegment(bytes);
    this.init = info;
    this.defaults = trackDefaults(info);
    return { kind: "init", bytes, info };
  }

  private take(size: number): Uint8Array {
    const bytes = this.queue.read(size);
    this.consumed += size;
    this.head = null;
    return bytes;
  }

  /** A size-0 box runs to the end of the stream, so its size is only known once end() is called. */
  private resolveSize(header: BoxHeader, at: number): number | null {
    if (header.size !== 0) return header.size;
    return this.ending ? this.queue.length - at : null;
  }

  private peekHeader(at: number): BoxHeader | null {
    const head = this.queue.peek(at, 8);
    if (!head) return null;
    const view = new DataView(head.buffer);
    let size = view.getUint32(0);
    const type = fourccAt(head, 4);
    const where = this.consumed + at;
    if (!isPrintableFourcc(type)) {
      throw new Mp4FormatError(`not an MP4 stream: box type bytes ${[...head.subarray(4, 8)].join(",")}`, where);
    }
    // ffmpeg's stdout always opens with ftyp: checking it catches text (error pages, logs) whose
    // first bytes happen to look like a printable 4cc.
    if (where === 0 && type !== "ftyp") {
      throw new Mp4FormatError(`not an MP4 stream: starts with '${type}', expected ftyp`, 0);
    }
    let headerSize = 8;
    if (size === 1) {
      const large = this.queue.peek(at + 8, 8);
      if (!large) return null;
      const value = new DataView(large.buffer).getBigUint64(0);
      size = value > BigInt(this.maxBoxSize) ? Infinity : Number(value);
      headerSize = 16;
    }
    if (type === "uuid") headerSize += 16;
    if (size !== 0 && size < headerSize) {
      throw new Mp4FormatError(`box '${type}' size ${size} smaller than its header`, where);
    }
    if (size > this.maxBoxSize) {
      throw new Mp4FormatError(`box '${type}' of ${size} bytes exceeds the ${this.maxBoxSize}-byte limit`, where);
    }
    return { type, size };
  }
}
