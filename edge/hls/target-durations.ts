const TD_RE = /^#EXT-X-TARGETDURATION:(\d{1,3})\s*$/m;

/** Reads EXT-X-TARGETDURATION from a media playlist body; null when absent. */
export const targetDurationOf = (playlist: string): number | null => {
  const m = TD_RE.exec(playlist);
  const td = m ? Number(m[1]) : NaN;
  return td >= 1 ? td : null;
};

/**
 * Target duration per stream as last seen in one of its media playlists. It sets the edge's
 * blocking bound (3 × TD) and cache lifetimes; TD is constant for a stream (RFC 8216bis §6.2.1).
 * Bounded so a flood of stream ids cannot grow the isolate's memory.
 */
export class TargetDurations {
  private readonly byStream = new Map<string, number>();

  constructor(
    private readonly fallback: number,
    private readonly limit = 10_000,
  ) {}

  get(streamId: string): number {
    return this.byStream.get(streamId) ?? this.fallback;
  }

  learn(streamId: string, td: number): void {
    if (this.byStream.get(streamId) === td) return;
    this.byStream.delete(streamId);
    if (this.byStream.size >= this.limit) this.byStream.delete(this.byStream.keys().next().value!);
    this.byStream.set(streamId, td);
  }
}
