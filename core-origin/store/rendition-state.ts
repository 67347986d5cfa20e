import type { StorageDriver } from "./storage-driver.ts";
import { concatBytes } from "../../shared/bytes.ts";

export interface PartRecord {
  duration: number;
  independent: boolean;
  offset: number;
  size: number;
  /** Null once the segment left the in-memory window; read back from storage by offset. */
  bytes: Uint8Array | null;
  producedAtMs: number | null;
}

export interface SegmentRecord {
  msn: number;
  programDateTimeMs: number;
  discontinuity: boolean;
  initVersion: number;
  parts: PartRecord[];
  complete: boolean;
  gap: boolean;
  duration: number;
  size: number;
  persisted: Promise<void> | null;
  persistedOk: boolean;
  /**
   * Its part records were dropped (it is older than the live window, stored, and only ever fetched
   * whole from the DVR part of the playlist): `parts` is empty, the bytes are in storage.
   */
  compacted?: boolean;
}

export interface RenditionWindow {
  targetDuration: number;
  partTarget: number;
  /** Nominal segment duration (keyframe interval), used to predict when the next part starts a new segment. */
  segmentDuration: number;
  memorySegments: number;
  /** Complete segments listed at least (the live window). */
  playlistSegments: number;
  /**
   * DVR window in seconds: every complete segment whose end is within this much of the live edge
   * stays listed (never fewer than `playlistSegments`). 0 or absent: the live window only.
   */
  dvrSeconds?: number;
  /**
   * Delete a segment from storage once it has left the playlist and its availability period
   * (RFC §6.2.2, RFC 8216bis §6.2.2) is over. Absent/false: storage keeps every segment (recording).
   */
  deleteExpired?: boolean;
}

export interface PartPush {
  seq: number;
  msn: number;
  part: number;
  duration: number;
  independent: boolean;
  resync: boolean;
  programDateTimeMs: number | null;
  discontinuity: boolean;
  initVersion: number | null;
  producedAtMs: number | null;
  bytes: Uint8Array;
}

export interface SegmentPush {
  seq: number;
  msn: number;
  duration: number;
  /** A gap segment: no parts were pushed for it; needs its PROGRAM-DATE-TIME. */
  gap?: { programDateTimeMs: number };
  peakBitrate: number | null;
  averageBitrate: number | null;
}

export type ApplyResult =
  | { ok: true; duplicate: boolean }
  | { ok: false; status: 400 | 409; error: string; nextMsn?: number };

const DURATION_TOLERANCE = 0.0015;

/**
 * One rendition's live window: the segments listed in its playlist (bytes of the newest few in
 * memory, older ones in storage), the segment being written, sequence tracking for idempotent
 * pushes, and the waiters that blocking requests park on.
 */
export class RenditionState {
  readonly inits = new Map<number, Uint8Array>();
  readonly segments: SegmentRecord[] = [];
  discontinuitySequence = 0;
  lastSeq = 0;
  ended = false;
  /** Bumped on every visible change; keys the rendered-playlist cache. */
  version = 0;
  lastModifiedMs = Date.now();
  /** When the newest part arrived (creation time before the first): the live-edge age metric. */
  lastPartAtMs = Date.now();
  peakBitrate = 0;
  averageBitrate = 0;
  private readonly waiters = new Set<() => void>();
  /** Sum of the durations of the complete segments listed. */
  private listedDuration = 0;
  /** Longest listed duration so far (RFC 8216bis §6.2.2's "longest playlist distributed"). */
  private longestListed = 0;
  /** Media time of the live edge: the sum of all complete segment durations so far. */
  private edgeTime = 0;
  /** Complete segments that may still hold part bytes, oldest first (bounded: trim releases them). */
  private readonly withBytes: SegmentRecord[] = [];
  /** Segments below this index of `segments` are compacted (their part records dropped). */
  private compactedCount = 0;
  /** Segments that left the playlist, waiting for their availability period to end before deletion. */
  private readonly expired: { msn: number; endTime: number }[] = [];

  constructor(
    readonly name: string,
    readonly type: "video" | "audio",
    readonly window: RenditionWindow,
    private readonly storage: StorageDriver,
    private readonly storagePrefix: string,
    private readonly onError: (err: unknown) => void,
  ) {}

  get mediaSequence(): number {
    return this.segments[0]?.msn ?? 0;
  }

  get openSegment(): SegmentRecord | null {
    const last = this.segments.at(-1);
    return last && !last.complete ? last : null;
  }

  get lastComplete(): SegmentRecord | null {
    for (let i = this.segments.length - 1; i >= 0; i--) if (this.segments[i]!.complete) return this.segments[i]!;
    return null;
  }

  /** The first MSN a new run (another node, or a restarted pipeline) may start at. */
  get nextRunMsn(): number {
    const last = this.segments.at(-1);
    return last ? last.msn + 1 : 0;
  }

  /** (msn, part index) of the newest part, or null before the first part. */
  lastPart(): { msn: number; part: number } | null {
    const last = this.segments.at(-1);
    if (!last || last.parts.length === 0) return null;
    return { msn: last.msn, part: last.parts.length - 1 };
  }

  /** The part the next PRELOAD-HINT names: predicted from the nominal segment duration. */
  nextPart(): { msn: number; part: number } | null {
    if (this.ended) return null;
    const open = this.openSegment;
    if (open) {
      const sum = open.parts.reduce((a, p) => a + p.duration, 0);
      return sum >= this.window.segmentDuration - DURATION_TOLERANCE ? { msn: open.msn + 1, part: 0 } : { msn: open.msn, part: open.parts.length };
    }
    const last = this.lastComplete;
    return last ? { msn: last.msn + 1, part: 0 } : null;
  }

  findSegment(msn: number): SegmentRecord | undefined {
    const first = this.segments[0];
    if (!first) return undefined;
    const seg = this.segments[msn - first.msn];
    return seg && seg.msn === msn ? seg : undefined;
  }

  hasInit(version: number): boolean {
    return this.inits.has(version);
  }

  putInit(version: number, bytes: Uint8Array): ApplyResult {
    const existing = this.inits.get(version);
    if (existing) {
      return equalBytes(existing, bytes)
        ? { ok: true, duplicate: true }
        : { ok: false, status: 409, error: `init version ${version} already exists with different bytes` };
    }
    this.inits.set(version, bytes);
    this.storage.put(`${this.storagePrefix}/init${version}.mp4`, bytes).catch(this.onError);
    return { ok: true, duplicate: false };
  }

  private partExists(msn: number, part: number): boolean {
    const seg = this.findSegment(msn);
    if (seg) return part < seg.parts.length || seg.compacted === true;
    return this.segments.length > 0 && msn < this.mediaSequence;
  }

  addPart(p: PartPush): ApplyResult {
    if (this.ended) return { ok: false, status: 409, error: "rendition has ended" };
    if (this.partExists(p.msn, p.part)) {
      // A retry or a resync replay repeats part 0 with the same PROGRAM-DATE-TIME. Part 0 of an
      // MSN we hold with another date (or already dropped from the window) comes from a run that
      // started over at a low MSN, e.g. the node that took over after a failover: taking it as a
      // duplicate would silently drop that node's media, so tell it where to continue instead.
      if (p.part === 0 && p.programDateTimeMs !== null) {
        const seg = this.findSegment(p.msn);
        if (!seg || Math.abs(seg.programDateTimeMs - p.programDateTimeMs) > 1) {
          const next = this.nextRunMsn;
          return { ok: false, status: 400, error: `msn ${p.msn} belongs to an earlier run; continue at msn ${next}`, nextMsn: next };
        }
      }
      this.lastSeq = Math.max(this.lastSeq, p.seq);
      return { ok: true, duplicate: true };
    }
    if (p.duration <= 0 || p.duration > this.window.partTarget + DURATION_TOLERANCE) {
      return { ok: false, status: 400, error: `part duration ${p.duration} outside (0, PART-TARGET ${this.window.partTarget}]` };
    }
    const open = this.openSegment;
    const last = this.lastComplete;
    if (p.resync || this.segments.length === 0) {
      if (p.part !== 0) return { ok: false, status: 400, error: "a new run must start at part 0 of a segment" };
      if (last && p.msn <= last.msn) return { ok: false, status: 400, error: `msn ${p.msn} is not after the last segment ${last.msn}`, nextMsn: this.nextRunMsn };
      // A push that openNew would refuse must not change anything (the open segment included).
      const refused = this.startProblem(p);
      if (refused) return refused;
      if (open) {
        // The run the open segment belonged to broke off: close it with what arrived so the
        // playlist only ever grows, and mark the new run discontinuous.
        this.closeSegment(open, open.parts.reduce((a, x) => a + x.duration, 0));
      }
      const gap = this.segments.length > 0 && (open ? open.msn + 1 : (last?.msn ?? -1) + 1) !== p.msn;
      if (gap) this.fillGap(p.msn);
      return this.openNew(p, gap || Boolean(open));
    }
    if (p.seq !== this.lastSeq + 1) {
      return { ok: false, status: 400, error: `out-of-order sequence number ${p.seq}, expected ${this.lastSeq + 1}` };
    }
    if (open) {
      if (p.msn !== open.msn || p.part !== open.parts.length) {
        return { ok: false, status: 400, error: `part ${p.msn}.${p.part} out of order, expected ${open.msn}.${open.parts.length}` };
      }
      this.appendPart(open, p);
      return { ok: true, duplicate: false };
    }
    const expected = (last?.msn ?? -1) + 1;
    if (p.part !== 0 || p.msn !== expected) {
      return { ok: false, status: 400, error: `part ${p.msn}.${p.part} out of order, expected ${expected}.0` };
    }
    return this.openNew(p, false);
  }

  /** Why part 0 of a new segment cannot be taken, or null. */
  private startProblem(p: PartPush): ApplyResult | null {
    if (p.programDateTimeMs === null) return { ok: false, status: 400, error: "part 0 needs cascade-program-date-time" };
    const initVersion = p.initVersion ?? this.segments.at(-1)?.initVersion ?? 0;
    if (!this.inits.has(initVersion)) return { ok: false, status: 409, error: `init version ${initVersion} missing: push it first` };
    return null;
  }

  /**
   * A resync that resumes past the next MSN (pushes were dropped, or the node spent a while on
   * another origin). MSNs are implicit in a playlist (MEDIA-SEQUENCE + position), so the missing
   * ones are listed as EXT-X-GAP segments; a jump beyond the whole window drops the old segments
   * (they would all have left it) and keeps only a window's worth of gaps.
   */
  private fillGap(toMsn: number): void {
    const last = this.segments.at(-1)!;
    const duration = Math.min(this.window.segmentDuration, this.window.targetDuration);
    const missing = toMsn - last.msn - 1;
    const count = Math.min(missing, this.window.playlistSegments);
    const first = toMsn - count;
    const pdt0 = last.programDateTimeMs + last.duration * 1000 + (first - last.msn - 1) * duration * 1000;
    if (count < missing) {
      for (const seg of this.segments) {
        if (seg.discontinuity) this.discontinuitySequence++;
        this.expire(seg, this.edgeTime);
      }
      this.segments.length = 0;
      this.listedDuration = 0;
      this.compactedCount = 0;
    }
    for (let msn = first; msn < toMsn; msn++) {
      this.completed(this.pushSegment(gapRecord(msn, pdt0 + (msn - first) * duration * 1000, duration, last.initVersion)));
    }
    this.trim();
  }

  private openNew(p: PartPush, forcedDiscontinuity: boolean): ApplyResult {
    const refused = this.startProblem(p);
    if (refused) return refused;
    const initVersion = p.initVersion ?? this.segments.at(-1)?.initVersion ?? 0;
    this.segments.push({
      msn: p.msn,
      programDateTimeMs: p.programDateTimeMs!,
      discontinuity: (p.discontinuity || forcedDiscontinuity) && this.segments.length > 0,
      initVersion,
      parts: [],
      complete: false,
      gap: false,
      duration: 0,
      size: 0,
      persisted: null,
      persistedOk: false,
    });
    this.appendPart(this.segments.at(-1)!, p);
    return { ok: true, duplicate: false };
  }

  private appendPart(seg: SegmentRecord, p: PartPush): void {
    seg.parts.push({
      duration: p.duration,
      independent: p.independent,
      offset: seg.size,
      size: p.bytes.byteLength,
      bytes: p.bytes,
      producedAtMs: p.producedAtMs,
    });
    seg.size += p.bytes.byteLength;
    this.lastSeq = p.seq;
    this.lastPartAtMs = Date.now();
    this.changed();
  }

  completeSegment(s: SegmentPush): ApplyResult {
    const seg = this.findSegment(s.msn);
    if (seg?.complete || (this.segments.length > 0 && s.msn < this.mediaSequence)) {
      this.lastSeq = Math.max(this.lastSeq, s.seq);
      return { ok: true, duplicate: true };
    }
    if (s.gap) return this.addGap(s, s.gap.programDateTimeMs);
    if (!seg || seg !== this.openSegment) return { ok: false, status: 400, error: `segment ${s.msn} is not the open segment` };
    if (s.seq !== this.lastSeq + 1) {
      return { ok: false, status: 400, error: `out-of-order sequence number ${s.seq}, expected ${this.lastSeq + 1}` };
    }
    const partSum = seg.parts.reduce((a, p) => a + p.duration, 0);
    if (!(s.duration > 0) || Math.abs(s.duration - partSum) > 0.05) {
      return { ok: false, status: 400, error: `segment duration ${s.duration} does not match its parts (${partSum.toFixed(4)})` };
    }
    if (Math.round(s.duration) > this.window.targetDuration) {
      return { ok: false, status: 400, error: `segment duration ${s.duration} exceeds TARGETDURATION ${this.window.targetDuration}` };
    }
    this.lastSeq = s.seq;
    // BANDWIDTH is the peak segment bit rate (RFC §4.4.6.2): the node's figure, else what this segment measured.
    this.peakBitrate = Math.max(this.peakBitrate, s.peakBitrate && s.peakBitrate > 0 ? s.peakBitrate : (seg.size * 8) / s.duration);
    if (s.averageBitrate && s.averageBitrate > 0) this.averageBitrate = s.averageBitrate;
    this.closeSegment(seg, s.duration);
    return { ok: true, duplicate: false };
  }

  private addGap(s: SegmentPush, programDateTimeMs: number): ApplyResult {
    if (this.ended) return { ok: false, status: 409, error: "rendition has ended" };
    const last = this.segments.at(-1);
    if (!last || !last.complete || s.msn !== last.msn + 1) return { ok: false, status: 400, error: `gap segment ${s.msn} must directly follow a complete segment` };
    if (s.seq !== this.lastSeq + 1) return { ok: false, status: 400, error: `out-of-order sequence number ${s.seq}, expected ${this.lastSeq + 1}` };
    if (!(s.duration > 0) || Math.round(s.duration) > this.window.targetDuration) return { ok: false, status: 400, error: `gap duration ${s.duration} is invalid` };
    this.lastSeq = s.seq;
    this.completed(this.pushSegment(gapRecord(s.msn, programDateTimeMs, s.duration, last.initVersion)));
    this.trim();
    this.changed();
    return { ok: true, duplicate: false };
  }

  private closeSegment(seg: SegmentRecord, duration: number): void {
    seg.complete = true;
    seg.duration = duration;
    this.completed(seg);
    if (!this.peakBitrate && duration > 0) this.peakBitrate = (seg.size * 8) / duration;
    const body = concatBytes(seg.parts.map((p) => p.bytes!));
    seg.persisted = this.storage.put(`${this.storagePrefix}/seg${seg.msn}.m4s`, body).then(
      () => {
        seg.persistedOk = true;
        this.trim();
      },
      (err) => this.onError(err),
    );
    this.trim();
    this.changed();
  }

  private pushSegment(seg: SegmentRecord): SegmentRecord {
    this.segments.push(seg);
    return seg;
  }

  /** Bookkeeping for a segment that just became complete (closed, or a gap). */
  private completed(seg: SegmentRecord): void {
    this.listedDuration += seg.duration;
    this.edgeTime += seg.duration;
    this.withBytes.push(seg);
  }

  /** A segment left the playlist at media time `endTime`: queue its stored bytes for deletion. */
  private expire(seg: SegmentRecord, endTime: number): void {
    if (this.window.deleteExpired && seg.complete && !seg.gap) this.expired.push({ msn: seg.msn, endTime });
  }

  /** Changes the DVR window and the storage policy (a manifest update); a smaller window applies at once. */
  setRetention(dvrSeconds: number, deleteExpired: boolean): void {
    this.window.dvrSeconds = dvrSeconds;
    this.window.deleteExpired = deleteExpired;
    this.trim();
  }

  /**
   * Keeps memory and storage bounded: part bytes only for the newest `memorySegments` (once
   * stored), segments listed only within the live window or the DVR window, and a segment's stored
   * bytes only until its availability period after leaving the playlist is over. Amortised O(1).
   */
  private trim(): void {
    const excess = this.withBytes.length - this.window.memorySegments;
    if (excess > 0) {
      let kept = 0;
      for (let i = 0; i < this.withBytes.length; i++) {
        const seg = this.withBytes[i]!;
        if (i < excess && seg.persistedOk) {
          for (const p of seg.parts) p.bytes = null;
          continue;
        }
        this.withBytes[kept++] = seg;
      }
      this.withBytes.length = kept;
    }
    const dvr = this.window.dvrSeconds ?? 0;
    for (;;) {
      const complete = this.segments.length - (this.openSegment ? 1 : 0);
      const head = this.segments[0];
      if (!head || complete <= this.window.playlistSegments) break;
      // Within the DVR window: the segments after the head still span less than the window.
      if (dvr > 0 && this.listedDuration - head.duration < dvr - DURATION_TOLERANCE) break;
      if (!head.persistedOk) break;
      this.segments.shift();
      if (this.compactedCount > 0) this.compactedCount--;
      this.listedDuration -= head.duration;
      // DISCONTINUITY-SEQUENCE counts the discontinuities that left the playlist (RFC §4.4.3.3).
      if (head.discontinuity) this.discontinuitySequence++;
      this.expire(head, this.edgeTime - this.listedDuration);
      this.changed();
    }
    // Part records only for the live window: parts of older segments are never listed nor fetched
    // (their tags went 3 × TD from the end and the window holds them well over 3 × TD longer).
    const complete = this.segments.length - (this.openSegment ? 1 : 0);
    const compactable = complete - this.window.playlistSegments;
    while (this.compactedCount < compactable) {
      const seg = this.segments[this.compactedCount]!;
      if (!seg.persistedOk) break;
      if (!seg.gap) {
        seg.parts = [];
        seg.compacted = true;
      }
      this.compactedCount++;
    }
    // Measured after trimming: every completion is followed by a trim, so this is what was served.
    this.longestListed = Math.max(this.longestListed, this.listedDuration);
    if (this.window.deleteExpired) {
      // Rule 29: a removed segment stays available for its duration plus the longest playlist
      // duration after it first appeared; it ended `edgeTime - endTime` ago (+ one TD of margin).
      const availability = this.longestListed + this.window.targetDuration;
      while (this.expired.length > 0 && this.edgeTime - this.expired[0]!.endTime > availability) {
        const { msn } = this.expired.shift()!;
        this.storage.deletePrefix(`${this.storagePrefix}/seg${msn}.m4s`).catch(this.onError);
      }
    }
  }

  end(): boolean {
    if (this.ended) return false;
    const open = this.openSegment;
    if (open) this.closeSegment(open, open.parts.reduce((a, p) => a + p.duration, 0));
    this.ended = true;
    this.changed();
    return true;
  }

  async readPart(msn: number, part: number): Promise<Uint8Array | null> {
    const seg = this.findSegment(msn);
    const rec = seg?.parts[part];
    if (!seg || !rec) return null;
    if (rec.bytes) return rec.bytes;
    return this.storage.getRange(`${this.storagePrefix}/seg${msn}.m4s`, rec.offset, rec.size);
  }

  async readSegment(msn: number): Promise<Uint8Array | null> {
    const seg = this.findSegment(msn);
    if (seg && (!seg.complete || seg.gap)) return null;
    if (seg && !seg.compacted && seg.parts.every((p) => p.bytes)) return concatBytes(seg.parts.map((p) => p.bytes!));
    if (!seg && (this.segments.length === 0 || msn >= this.mediaSequence)) return null;
    return this.storage.get(`${this.storagePrefix}/seg${msn}.m4s`);
  }

  async readInit(version: number): Promise<Uint8Array | null> {
    return this.inits.get(version) ?? null;
  }

  /** Resolves true as soon as `ready()` holds after a change, false on timeout or abort. */
  waitFor(ready: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (value: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        signal?.removeEventListener("abort", onAbort);
        resolve(value);
      };
      const check = () => {
        if (ready()) finish(true);
        else if (this.ended) finish(ready());
      };
      const onAbort = () => finish(false);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  get waiterCount(): number {
    return this.waiters.size;
  }

  private changed(): void {
    this.version++;
    this.lastModifiedMs = Date.now();
    for (const check of [...this.waiters]) check();
  }
}

/** An unavailable segment (EXT-X-GAP): no parts, nothing to store. */
const gapRecord = (msn: number, programDateTimeMs: number, duration: number, initVersion: number): SegmentRecord => ({
  msn,
  programDateTimeMs,
  discontinuity: false,
  initVersion,
  parts: [],
  complete: true,
  gap: true,
  duration,
  size: 0,
  persisted: Promise.resolve(),
  persistedOk: true,
});


const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
};
