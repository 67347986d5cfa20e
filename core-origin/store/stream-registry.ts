import type { StreamManifest } from "../../shared/push-protocol.ts";
import { RenditionState, type RenditionWindow } from "./rendition-state.ts";
import type { StorageDriver } from "./storage-driver.ts";

export interface WindowConfig {
  memorySegments: number;
  playlistSegments: number;
  /** DVR window (s) for streams whose manifest has no `dvrWindowS`; absent: 0, the live window only. */
  dvrWindowS?: number;
}

/** Longest DVR window the origin keeps whatever a manifest says (s). */
const DVR_WINDOW_LIMIT_S = 24 * 3600;

/** The stream's DVR window in seconds: its manifest's `dvrWindowS`, else the origin's default. */
export const dvrWindowOf = (manifest: StreamManifest, fallback: number): number => {
  const v = manifest.dvrWindowS;
  const s = typeof v === "number" && Number.isFinite(v) && v >= 0 ? v : fallback;
  return Math.min(s, DVR_WINDOW_LIMIT_S);
};

/**
 * Whether segments that left the DVR window are deleted from storage. A stream recorded as it runs
 * (`recording.mode` "record", or a recording without a known mode) keeps every segment for its
 * archiver; a stream without a recording, or whose recording is only its DVR window ("dvr"), keeps
 * the window (plus the availability period of RFC §6.2.2) and no more.
 */
export const deletesExpiredSegments = (manifest: StreamManifest): boolean => {
  const rec = manifest.recording as { mode?: string } | null | undefined;
  return !rec || rec.mode === "dvr";
};

export interface LiveStream {
  id: string;
  /** Distinguishes broadcasts of the same stream id in storage. */
  sessionId: string;
  startedAt: number;
  manifest: StreamManifest;
  renditions: Map<string, RenditionState>;
  ended: boolean;
  /** Bumped when the set of renditions or their measured bitrates change (multivariant cache key). */
  manifestVersion: number;
  /** Set by `keepStorage`: nothing of this broadcast is deleted from storage (an archive needs it). */
  keepStorage?: boolean;
}

/** `nextMsn`: where a new run of an existing stream continues (every rendition on the same MSN). */
export type ManifestResult = { ok: true; created: boolean; nextMsn: number; nextInitVersion: number } | { ok: false; status: 400 | 409; error: string };

/** All live streams on this origin, keyed by stream id. */
export class StreamRegistry {
  private readonly streams = new Map<string, LiveStream>();

  constructor(
    private readonly storage: StorageDriver,
    private readonly windows: WindowConfig,
    private readonly onError: (err: unknown) => void,
  ) {}

  get(id: string): LiveStream | undefined {
    return this.streams.get(id);
  }

  list(): LiveStream[] {
    return [...this.streams.values()];
  }

  /** Applies a manifest push: creates the stream, or updates its rendition set (a dropped rung). */
  applyManifest(id: string, manifest: StreamManifest): ManifestResult {
    const existing = this.streams.get(id);
    if (existing && !existing.ended) {
      const m = existing.manifest;
      if (m.targetDuration !== manifest.targetDuration || Math.abs(m.partTarget - manifest.partTarget) > 1e-6) {
        return { ok: false, status: 409, error: "targetDuration and partTarget cannot change during a stream" };
      }
      for (const r of manifest.renditions) {
        const state = existing.renditions.get(r.name);
        if (state?.ended) return { ok: false, status: 409, error: `rendition ${r.name} has ended` };
        if (!state) existing.renditions.set(r.name, this.newRendition(existing, r.name, r.type));
      }
      for (const [name, state] of existing.renditions) {
        if (!manifest.renditions.some((r) => r.name === name)) state.end();
      }
      const changed = JSON.stringify(m) !== JSON.stringify(manifest);
      existing.manifest = manifest;
      for (const state of existing.renditions.values()) {
        state.setRetention(dvrWindowOf(manifest, this.windows.dvrWindowS ?? 0), deletesExpiredSegments(manifest) && !existing.keepStorage);
      }
      if (changed) existing.manifestVersion++;
      const nextMsn = Math.max(0, ...[...existing.renditions.values()].map((r) => r.nextRunMsn));
      const nextInitVersion = Math.max(0, ...[...existing.renditions.values()].flatMap((r) => [...r.inits.keys()].map((v) => v + 1)));
      return { ok: true, created: false, nextMsn, nextInitVersion };
    }
    const startedAt = Date.now();
    const stream: LiveStream = {
      id,
      sessionId: String(startedAt),
      startedAt,
      manifest,
      renditions: new Map(),
      ended: false,
      manifestVersion: 1,
    };
    for (const r of manifest.renditions) stream.renditions.set(r.name, this.newRendition(stream, r.name, r.type));
    this.streams.set(id, stream);
    return { ok: true, created: true, nextMsn: 0, nextInitVersion: 0 };
  }

  private newRendition(stream: LiveStream, name: string, type: "video" | "audio"): RenditionState {
    const m = stream.manifest;
    const window: RenditionWindow = {
      targetDuration: m.targetDuration,
      partTarget: m.partTarget,
      segmentDuration: m.segmentDuration ?? m.targetDuration,
      // Parts must stay fetchable ≥ 3 × TD after their tags go (which happens 3 × TD from the end).
      memorySegments: Math.max(this.windows.memorySegments, Math.ceil((6 * m.targetDuration) / (m.segmentDuration ?? m.targetDuration)) + 1),
      // A part's tag goes once more than 3 × TD follows it, and the part must stay fetchable 3 × TD
      // longer (RFC §6.2.2); parts are served while their segment is listed, so the list spans
      // more than 6 × TD (+ one part for the tag's last moment).
      playlistSegments: Math.max(this.windows.playlistSegments, 6, Math.ceil((6 * m.targetDuration + m.partTarget) / (m.segmentDuration ?? m.targetDuration) - 1e-9)),
      dvrSeconds: dvrWindowOf(m, this.windows.dvrWindowS ?? 0),
      deleteExpired: deletesExpiredSegments(m) && !stream.keepStorage,
    };
    return new RenditionState(name, type, window, this.storage, `${stream.id}/${stream.sessionId}/${name}`, this.onError);
  }

  /**
   * Stops deleting this broadcast's segments from storage (for an archiver that starts on a stream
   * whose recording was DVR-only); segments already deleted stay deleted.
   */
  keepStorage(id: string): boolean {
    const stream = this.streams.get(id);
    if (!stream) return false;
    stream.keepStorage = true;
    for (const state of stream.renditions.values()) state.setRetention(dvrWindowOf(stream.manifest, this.windows.dvrWindowS ?? 0), false);
    return true;
  }

  end(id: string): boolean {
    const stream = this.streams.get(id);
    if (!stream || stream.ended) return false;
    stream.ended = true;
    for (const r of stream.renditions.values()) r.end();
    stream.manifestVersion++;
    return true;
  }

  /** Renditions that are listed in the multivariant playlist. */
  activeRenditions(stream: LiveStream): RenditionState[] {
    return stream.manifest.renditions
      .map((r) => stream.renditions.get(r.name))
      .filter((r): r is RenditionState => r !== undefined && (!r.ended || stream.ended));
  }
}
