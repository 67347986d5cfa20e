import type { StreamManifest } from "../../shared/push-protocol.ts";

/** One CMAF part as the packager cut it. */
export interface SinkPart {
  msn: number;
  part: number;
  duration: number;
  independent: boolean;
  bytes: Uint8Array;
  programDateTimeMs?: number;
  discontinuity?: boolean;
  initVersion?: number;
}

/** A segment boundary: every part of `msn` has been handed over (or, with a gap time, none exist). */
export interface SinkSegment {
  msn: number;
  duration: number;
  peakBitrate: number;
  averageBitrate: number;
  gapProgramDateTimeMs?: number;
}

/**
 * Where the pipeline hands what it packaged: the push client in a node (push/push-client.ts), a
 * counter in the benchmarks. The `push*` calls never wait; `false` asks the producer to hold back
 * until `drained` resolves.
 */
export interface PartSink {
  /** Sets (or replaces) the stream manifest; rejects when it could not be delivered. */
  setManifest(manifest: StreamManifest): Promise<void>;
  pushInit(rendition: string, version: number, bytes: Uint8Array): boolean;
  pushPart(rendition: string, part: SinkPart): boolean;
  pushSegment(rendition: string, segment: SinkSegment): boolean;
  /** The latest thumbnail (JPEG); a newer one may replace it before it is delivered. */
  pushThumbnail(bytes: Uint8Array): void;
  /** Resolves once the rendition's backlog is below the point where `push*` returned false. */
  drained(rendition: string): Promise<void>;
  /** Delivers what is queued, then ends one rendition (a dropped rung). */
  endRendition(rendition: string): Promise<void>;
  /** Delivers what is queued, then ends the stream; the sink is closed afterwards. */
  endStream(): Promise<void>;
  /** Stops delivering; anything still queued is dropped. */
  close(): void;
}
