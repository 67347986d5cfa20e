/**
 * Bytes from a stream, kept as the chunks they arrived in. Appending never copies; bytes are
 * copied exactly once, when a caller takes a complete unit out. That keeps a box that trickles in
 * over thousands of small reads linear rather than quadratic.
 *
 * Chunks are kept by reference until consumed, so the producer must not reuse their memory
 * (Node streams hand out fresh Buffers, which is fine).
 */
export class ChunkQueue {
  private chunks: Uint8Array[] = [];
  /** Index of the first live chunk; consumed ones before it are dropped in batches. */
  private head = 0;
  /** Bytes of chunks[head] already consumed. */
  private headOffset = 0;
  private buffered = 0;

  get length(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Copies `n` bytes starting `at` bytes into the queue without consuming; null if not buffered yet. */
  peek(at: number, n: number): Uint8Array | null {
    if (at + n > this.buffered) return null;
    const out = new Uint8Array(n);
    let skip = at + this.headOffset;
    let written = 0;
    for (let i = this.head; written < n; i++) {
      const chunk = this.chunks[i]!;
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      const part = chunk.subarray(skip, Math.min(chunk.length, skip + n - written));
      out.set(part, written);
      written += part.length;
      skip = 0;
    }
    return out;
  }

  /** Consumes `n` bytes into `target` at `offset`. The caller checks `length` first. */
  readInto(target: Uint8Array, offset: number, n: number): void {
    if (n > this.buffered) throw new RangeError(`readInto(${n}) with only ${this.buffered} bytes buffered`);
    let written = 0;
    while (written < n) {
      const chunk = this.chunks[this.head]!;
      const part = chunk.subarray(this.headOffset, Math.min(chunk.length, this.headOffset + n - written));
      target.set(part, offset + written);
      written += part.length;
      this.advance(part.length);
    }
  }

  /** Consumes `n` bytes into a fresh array. */
  read(n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.readInto(out, 0, n);
    return out;
  }

  /** Drops up to `n` bytes without copying; returns how many were dropped. */
  discard(n: number): number {
    const count = Math.min(n, this.buffered);
    let left = count;
    while (left > 0) {
      const chunk = this.chunks[this.head]!;
      const step = Math.min(left, chunk.length - this.headOffset);
      this.advance(step);
      left -= step;
    }
    return count;
  }

  private advance(n: number): void {
    this.buffered -= n;
    this.headOffset += n;
    if (this.headOffset < this.chunks[this.head]!.length) return;
    this.chunks[this.head] = EMPTY; // let the consumed chunk be collected
    this.head++;
    this.headOffset = 0;
    // Compacting only once the dead prefix dominates keeps shifting amortised O(1) per chunk.
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = new Uint8Array(0);
