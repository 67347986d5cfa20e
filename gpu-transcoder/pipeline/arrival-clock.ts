/**
 * Remembers when input timestamps reached the node, so PROGRAM-DATE-TIME can be the wall clock at
 * which a segment's first frame arrived (capture-to-display latency is then `now - playingDate`).
 */
export class ArrivalClock {
  private readonly ts: number[] = [];
  private readonly wall: number[] = [];

  constructor(private readonly capacity = 4096) {}

  record(timestampMs: number, arrivalMs: number): void {
    const last = this.ts.at(-1);
    if (last !== undefined && timestampMs < last) {
      // The publisher restarted its clock (reconnect): the old mapping no longer applies.
      this.ts.length = 0;
      this.wall.length = 0;
    }
    this.ts.push(timestampMs);
    this.wall.push(arrivalMs);
    if (this.ts.length > this.capacity) {
      this.ts.splice(0, this.ts.length - this.capacity);
      this.wall.splice(0, this.wall.length - this.capacity);
    }
  }

  /** Wall clock of the newest input at or before `timestampMs` (extrapolated at 1× past the ends). */
  wallAt(timestampMs: number): number {
    const n = this.ts.length;
    if (n === 0) return Date.now();
    let lo = 0;
    let hi = n - 1;
    if (timestampMs < this.ts[0]!) return this.wall[0]! - (this.ts[0]! - timestampMs);
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.ts[mid]! <= timestampMs) lo = mid;
      else hi = mid - 1;
    }
    return this.wall[lo]! + (timestampMs - this.ts[lo]!);
  }
}
