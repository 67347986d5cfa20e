/** The LL-HLS playlist model the origin renders and tests parse back. Times are in seconds unless named *Ms. */

export interface Part {
  uri: string;
  duration: number;
  independent: boolean;
}

export interface Segment {
  msn: number;
  /** Absent while the segment is still being written (only its parts are listed). */
  uri?: string;
  duration?: number;
  /** Wall clock of the segment's first frame at the transcoder (epoch ms). */
  programDateTimeMs: number;
  discontinuity: boolean;
  /** An unavailable segment (EXT-X-GAP): keeps renditions on the same MSNs when one had no media for it. */
  gap?: boolean;
  /** URI of the init segment (EXT-X-MAP) this segment depends on. */
  mapUri: string;
  /** Parts listed for this segment; null once its EXT-X-PART tags were dropped (> 3 × TD from the end). */
  parts: Part[] | null;
}

export interface ServerControl {
  canBlockReload: boolean;
  partHoldBack: number;
  holdBack?: number;
  canSkipUntil?: number;
}

export interface RenditionReport {
  uri: string;
  lastMsn: number;
  lastPart?: number;
}

export interface MediaPlaylist {
  targetDuration: number;
  partTarget: number;
  mediaSequence: number;
  discontinuitySequence: number;
  serverControl: ServerControl;
  /** Oldest first; the last may be incomplete (uri/duration absent). */
  segments: Segment[];
  preloadHint?: { uri: string };
  renditionReports: RenditionReport[];
  endList: boolean;
}

export type SkipDirective = "YES" | "v2";

export interface VariantStream {
  uri: string;
  bandwidth: number;
  averageBandwidth: number;
  codecs: string;
  width: number;
  height: number;
  frameRate: number;
  audioGroup?: string;
}

export interface AudioRendition {
  groupId: string;
  name: string;
  language: string;
  channels: number;
  uri: string;
  isDefault: boolean;
}

export interface MultivariantPlaylist {
  independentSegments: boolean;
  audio: AudioRendition[];
  variants: VariantStream[];
}
