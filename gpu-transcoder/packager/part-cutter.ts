/**
 * Turns the fragments ffmpeg writes for one rendition into LL-HLS parts and segment boundaries.
 * Each fragment is one part (ffmpeg cuts them at the planned part duration). A segment starts at
 * the first fragment at or after each boundary `n × segmentDuration` of the run's output timeline:
 * for video that fragment starts with the forced keyframe, for audio it is the nearest frame after.
 */

export interface Chunk {
  bytes: Uint8Array;
  /** Fragment start and duration in the track timescale. */
  startTicks: number;
  durationTicks: number;
  timescale: number;
  startsWithSync: boolean;
}

export type CutterOutput =
  | {
      kind: "part";
      msn: number;
      part: number;
      duration: number;
      independent: boolean;
      bytes: Uint8Array;
      /** Output-timeline seconds of the start of this part's segment (for PROGRAM-DATE-TIME). */
      segmentStartSeconds: number;
      /** Set on the first part of the first segment of a new run (after a reconnect or restart). */
      discontinuity: boolean;
    }
  | { kind: "segment"; msn: number; duration: number; bytes: number };

export interface CutterOptions {
  type: "video" | "audio";
  segmentDuration: number;
  /** First MSN to use. */
  startMsn?: number;
}

export class PartCutter {
  private nextMsn: number;
  private open: { msn: number; parts: number; duration: number; bytes: number; startSeconds: number } | null = null;
  private boundaryIndex = 0;
  private newRun = false;
  /** Set by continueAt: the next segment jumps to this MSN. */
  private jumpTo = 0;

  constructor(private readonly options: CutterOptions) {
    this.nextMsn = options.startMsn ?? 0;
  }

  get upcomingMsn(): number {
    return this.open ? this.open.msn + 1 : this.nextMsn;
  }

  /** The next fragments come from a fresh ffmpeg run whose timeline restarts; close the open segment. */
  startNewRun(): CutterOutput[] {
    const out = this.flush();
    this.boundaryIndex = 0;
    this.newRun = true;
    return out;
  }

  /** Continue numbering at `msn` (used to keep renditions in step across runs). */
  setNextMsn(msn: number): void {
    if (this.open) throw new Error("cannot renumber while a segment is open");
    this.nextMsn = Math.max(this.nextMsn, msn);
  }

  /**
   * The origin already holds MSNs below `msn` from another run (the node this stream ran on before
   * a failover, or this node before a restart): the next segment starts there, as a discontinuity,
   * while the open one (which the origin refuses) finishes under its own number.
   */
  continueAt(msn: number): void {
    this.jumpTo = Math.max(this.jumpTo, msn);
  }

  push(chunk: Chunk): CutterOutput[] {
    const out: CutterOutput[] = [];
    const start = chunk.startTicks / chunk.timescale;
    const duration = chunk.durationTicks / chunk.timescale;
    const tolerance = Math.min(duration / 2, 0.02);
    const boundary = this.boundaryIndex * this.options.segmentDuration;
    const atBoundary = start >= boundary - tolerance;
    let startSegment = this.open === null;
    // Video segments need the keyframe; if an encoder ever missed one the GOP simply runs on.
    if (this.open && atBoundary && (this.options.type === "audio" || chunk.startsWithSync)) startSegment = true;
    if (startSegment) {
      out.push(...this.flush());
      // Catch up the boundary index past this chunk so a late start does not cut every fragment.
      while (this.boundaryIndex * this.options.segmentDuration <= start + tolerance) this.boundaryIndex++;
      const jump = this.jumpTo > this.nextMsn;
      this.open = { msn: Math.max(this.nextMsn, this.jumpTo), parts: 0, duration: 0, bytes: 0, startSeconds: start };
      if (jump) this.newRun = true;
    }
    const seg = this.open!;
    out.push({
      kind: "part",
      msn: seg.msn,
      part: seg.parts,
      duration,
      independent: this.options.type === "audio" || chunk.startsWithSync,
      bytes: chunk.bytes,
      segmentStartSeconds: seg.startSeconds,
      discontinuity: this.newRun && seg.parts === 0,
    });
    if (seg.parts === 0) this.newRun = false;
    seg.parts++;
    seg.duration += duration;
    seg.bytes += chunk.bytes.byteLength;
    return out;
  }

  /** Closes the open segment (end of a run or of the stream). */
  flush(): CutterOutput[] {
    if (!this.open) return [];
    const seg = this.open;
    this.open = null;
    this.nextMsn = seg.msn + 1;
    return [{ kind: "segment", msn: seg.msn, duration: seg.duration, bytes: seg.bytes }];
  }
}
