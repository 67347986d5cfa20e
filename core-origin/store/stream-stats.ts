import type { LiveStream } from "./stream-registry.ts";

export interface RenditionStats {
  name: string;
  /**
   * Seconds since the rendition's newest part arrived (since the rendition was announced, before
   * its first part); null once it has ended, when a stalled live edge no longer means anything.
   */
  liveEdgeAgeS: number | null;
}

export interface StreamStats {
  id: string;
  ended: boolean;
  partTargetS: number;
  /** Complete segments listed over every rendition (the DVR window included). */
  segmentsHeld: number;
  /** Part records kept (the live window; older segments are compacted to a single record). */
  partsHeld: number;
  /** Media bytes held in memory: init segments plus the parts of the newest segments. */
  memoryBytes: number;
  renditions: RenditionStats[];
}

/**
 * What the origin holds per stream, read at scrape time from the live state rather than kept as
 * running totals, so a value can never drift from what the stores really hold. O(segments held).
 */
export const streamStats = (streams: Iterable<LiveStream>, nowMs: number): StreamStats[] => {
  const out: StreamStats[] = [];
  for (const s of streams) {
    let segmentsHeld = 0;
    let partsHeld = 0;
    let memoryBytes = 0;
    const renditions: RenditionStats[] = [];
    for (const r of s.renditions.values()) {
      for (const init of r.inits.values()) memoryBytes += init.byteLength;
      for (const seg of r.segments) {
        if (seg.complete) segmentsHeld++;
        partsHeld += seg.parts.length;
        for (const p of seg.parts) if (p.bytes) memoryBytes += p.bytes.byteLength;
      }
      const live = !r.ended && !s.ended;
      renditions.push({ name: r.name, liveEdgeAgeS: live ? Math.max(0, nowMs - r.lastPartAtMs) / 1000 : null });
    }
    out.push({ id: s.id, ended: s.ended, partTargetS: s.manifest.partTarget, segmentsHeld, partsHeld, memoryBytes, renditions });
  }
  return out;
};
