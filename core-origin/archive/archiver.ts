import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import {
  ARCHIVE_HEADERS as AH,
  MANIFEST_FILE,
  POSTER_FILE,
  archivePath,
  initFile,
  segmentFile,
  type ArchiveManifest,
  type ArchiveStatus,
} from "../../shared/archive-protocol.ts";
import type { ManifestRendition } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import type { OriginMetrics } from "../metrics.ts";
import type { RenditionState, SegmentRecord } from "../store/rendition-state.ts";
import type { LiveStream, StreamRegistry } from "../store/stream-registry.ts";
import type { ThumbnailStore } from "../store/thumbnail-store.ts";
import { ArchiveJournal, type JournalEntry, type JournalItem } from "./journal.ts";
import { ArchiveUploader, type SendResult, type UploadOutcome } from "./uploader.ts";

export interface ArchiverOptions {
  /** The edge's base URL (`CASCADE_ARCHIVE_URL`); null: archiving is off. */
  baseUrl: string | null;
  nodeSecret: string;
  /** Node id in the origin's node token (default `origin`). */
  nodeId?: string;
  /** Where the journal lives (`<storage dir>/_archive`); created only when archiving is on. */
  dir: string;
  registry: StreamRegistry;
  thumbnails: ThumbnailStore;
  log: Logger;
  metrics: OriginMetrics;
  /** Uploads in flight at once (default 2). */
  concurrency?: number;
  /** How uploads are sent (tests); `fetch` unless given. */
  fetch?: typeof fetch;
  /** Per-upload timeout (default 30 s). */
  timeoutMs?: number;
  /** Least time between two poster uploads of a recording while it runs (default 60 s). */
  posterIntervalMs?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** fsync journal entries (default true). */
  syncJournal?: boolean;
}

export type ConvertResult = { ok: true; queued: number } | { ok: false; status: 404 | 409 | 503; error: string };

/** Uploads per recording key (`<rendition>/<file>`): being journaled, journaled and pending, uploaded, or not available. */
type KeyState = "journaling" | "pending" | "done" | "missing";

interface RecordingState {
  id: string;
  streamId: string;
  mode: "record" | "dvr";
  /** Archived while live: mode `record`, or converted from `dvr`. */
  active: boolean;
  keys: Map<string, KeyState>;
  /** The last manifest.json journaled (renditions accumulate across rung drops and restarts). */
  manifest: ArchiveManifest | null;
  lastPosterAt: number;
  lastPosterEtag: string | null;
  uploaded: number;
  rejected: number;
  lagMs: number[];
  uploadMs: number[];
  /** Journal writes in flight (counted as pending). */
  journaling: number;
  /** Segment boundaries since the keys of segments that left the window were last forgotten. */
  sincePrune: number;
  /** What the origin held when archiving began is not journaled yet. */
  backfill: boolean;
}

const LAG_SAMPLES = 2000;
/** After a segment completes, how far back a sweep looks for complete segments nobody archived yet. */
const SWEEP_BACK = 16;
/** Segment boundaries between two prunings of a recording's keys. */
const PRUNE_EVERY = 512;

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * Archives recorded streams to R2 through the edge. The push routes call it when a manifest, an
 * init or a segment boundary arrives and before they acknowledge it; each item is written to the
 * journal first (so a kill or crash after the acknowledgement loses nothing) and then uploaded,
 * idempotently, with retries. On start the journal is replayed.
 */
export class Archiver {
  private readonly journal: ArchiveJournal | null;
  private readonly uploader: ArchiveUploader | null;
  private readonly recordings = new Map<string, RecordingState>();
  /** Stream id → its current (latest) recording id. */
  private readonly streamRecordings = new Map<string, string>();
  private readonly warned = new Set<string>();
  private token: Promise<string> | null = null;
  private started: Promise<void> | null = null;
  private replayed = 0;
  private readonly manifestsDir: string;

  constructor(private readonly o: ArchiverOptions) {
    this.manifestsDir = path.join(o.dir, "manifests");
    this.journal = o.baseUrl ? new ArchiveJournal(path.join(o.dir, "journal"), o.syncJournal ?? true) : null;
    this.uploader = o.baseUrl
      ? new ArchiveUploader({
          concurrency: o.concurrency ?? 2,
          send: (entry) => this.send(entry),
          settled: (entry, outcome) => this.settled(entry, outcome),
          failed: (entry, attempt, problem, retryInMs) => {
            o.metrics.archiveFailures.inc({ outcome: "retry" });
            o.log.warn(
              { event: "archive_upload_failed", recording: entry.recordingId, stream: entry.streamId, rendition: entry.rendition, file: entry.file, attempt, problem, retryInMs },
              "archive upload failed; will retry",
            );
          },
          ...(o.backoff ? { backoff: o.backoff } : {}),
        })
      : null;
  }

  get enabled(): boolean {
    return this.journal !== null;
  }

  /** Opens the journal and queues what it holds (uploads a previous process had not finished). */
  start(): Promise<void> {
    this.started ??= this.open();
    return this.started;
  }

  private async open(): Promise<void> {
    if (!this.journal || !this.uploader) return;
    const entries = await this.journal.open((file, problem) =>
      this.o.log.error({ event: "archive_journal_corrupt", file, problem }, "archive journal entry unreadable; set aside"),
    );
    for (const e of entries) {
      const rec = await this.recording(e.recordingId, e.streamId, "record");
      rec.active = true;
      rec.keys.set(keyOf(e.rendition, e.file), "pending");
      if (!this.streamRecordings.has(e.streamId)) this.streamRecordings.set(e.streamId, e.recordingId);
      this.uploader.add(e);
    }
    this.replayed = entries.length;
    this.o.metrics.archiveReplayed.inc(entries.length);
    this.updateDepth();
    if (entries.length > 0) this.o.log.info({ event: "archive_journal_replayed", entries: entries.length }, "archive journal replayed");
    await this.pruneManifests();
  }

  /** Resolves when every journaled upload is settled (tests, benchmarks, shutdown). */
  async idle(): Promise<void> {
    await this.start();
    await this.uploader?.idle();
  }

  close(): void {
    this.uploader?.close();
  }

  // ---- hooks from the push routes (each resolves once what it archives is journaled) ----

  /** A manifest was applied: a recording starts (or is converted) here, or its renditions changed. */
  async onManifest(streamId: string): Promise<void> {
    const stream = this.o.registry.get(streamId);
    const rec = stream?.manifest.recording;
    if (!stream || !rec) return;
    this.streamRecordings.delete(streamId);
    this.streamRecordings.set(streamId, rec.id);
    if (this.streamRecordings.size > 10_000) this.streamRecordings.delete(this.streamRecordings.keys().next().value!);
    if (!this.journal) {
      if (rec.mode === "record" && !this.warned.has(rec.id)) {
        this.warned.add(rec.id);
        if (this.warned.size > 1000) this.warned.clear();
        this.o.log.warn({ event: "archive_disabled", stream: streamId, recording: rec.id }, "stream asks to be recorded but CASCADE_ARCHIVE_URL is not set: not archiving");
      }
      return;
    }
    try {
      await this.start();
    } catch (err) {
      // A journal that cannot be opened must not keep the stream off the air: it goes unrecorded, loudly.
      if (!this.warned.has(rec.id)) {
        this.warned.add(rec.id);
        this.o.metrics.archiveFailures.inc({ outcome: "journal" });
        this.o.log.error({ event: "archive_unavailable", stream: streamId, recording: rec.id, err }, "the archive journal could not be opened: not archiving this stream");
      }
      return;
    }
    const state = await this.recording(rec.id, streamId, rec.mode);
    if (rec.mode === "record" && !state.active) {
      state.mode = "record";
      state.active = true;
      state.backfill = true;
    }
    if (state.backfill) {
      // configure_encoders usually reaches the node after the stream started: archive from the
      // start. Until this has gone through once (a failed journal write answers 503, and the node
      // retries the manifest), every manifest push tries again.
      await this.archiveHeld(stream, state);
      state.backfill = false;
      return;
    }
    if (state.active) await this.journalManifest(stream, state);
  }

  /** An init segment arrived (new or repeated after a restart). */
  async onInit(streamId: string, rendition: string, version: number): Promise<void> {
    const found = this.activeFor(streamId);
    if (!found) return;
    const r = found.stream.renditions.get(rendition);
    if (r) await this.journalInit(found.stream, found.state, r, version);
  }

  /** A segment boundary arrived: the segment is complete (a retry of one included). */
  async onSegment(streamId: string, rendition: string, msn: number): Promise<void> {
    const found = this.activeFor(streamId);
    if (!found) return;
    const r = found.stream.renditions.get(rendition);
    const seg = r?.findSegment(msn);
    if (!r || !seg) return;
    await this.journalSegment(found.stream, found.state, r, seg);
    // Segments closed without a boundary push (a resync broke a run off) are picked up here.
    await this.sweep(found.stream, found.state, r, SWEEP_BACK);
    if (++found.state.sincePrune >= PRUNE_EVERY) this.prune(found.stream, found.state);
  }

  /** Forgets settled segment keys below each rendition's window (they can never be journaled again), so a 24/7 stream stays bounded. */
  private prune(stream: LiveStream, state: RecordingState): void {
    state.sincePrune = 0;
    for (const [key, value] of state.keys) {
      if (value !== "done" && value !== "missing") continue;
      const m = /^([^/]+)\/seg-(\d+)\.m4s$/.exec(key);
      const r = m ? stream.renditions.get(m[1]!) : undefined;
      if (r && r.segments.length > 0 && Number(m![2]) < r.mediaSequence) state.keys.delete(key);
    }
  }

  /** A new thumbnail: the recording's poster, at most every posterIntervalMs while live. */
  onThumbnail(streamId: string): void {
    const found = this.activeFor(streamId);
    if (!found || Date.now() - found.state.lastPosterAt < (this.o.posterIntervalMs ?? 60_000)) return;
    void this.journalPoster(found.stream, found.state).catch((err) => this.journalFailed(found.state, POSTER_FILE, err));
  }

  /** The stream ended: archive segments closed by the end itself, and the last poster. */
  async onEnd(streamId: string): Promise<void> {
    const found = this.activeFor(streamId);
    if (!found) return;
    await this.archiveHeld(found.stream, found.state);
  }

  /**
   * Convert (DVR-only recording → archive): queues what the origin still holds of the stream and
   * archives it like a recorded stream from now on.
   */
  async convert(streamId: string, recordingId: string): Promise<ConvertResult> {
    if (!this.journal) return { ok: false, status: 503, error: "archiving is disabled on this origin (CASCADE_ARCHIVE_URL is not set)" };
    try {
      await this.start();
    } catch (err) {
      return { ok: false, status: 503, error: `the archive journal could not be opened: ${(err as Error).message}` };
    }
    const stream = this.o.registry.get(streamId);
    if (!stream) return { ok: false, status: 404, error: "stream is not on this origin" };
    const rec = stream.manifest.recording;
    if (!rec) return { ok: false, status: 409, error: "stream has no recording" };
    if (rec.id !== recordingId) return { ok: false, status: 409, error: `stream's recording is ${rec.id}, not ${recordingId}` };
    this.o.registry.keepStorage(streamId);
    const state = await this.recording(rec.id, streamId, rec.mode);
    state.active = true;
    const queued = await this.archiveHeld(stream, state);
    this.o.log.info({ event: "archive_converted", stream: streamId, recording: rec.id, queued }, "DVR recording queued for archiving");
    return { ok: true, queued };
  }

  /** What is pending for a stream's recording (the given one, else its latest). */
  status(streamId: string, recordingId?: string): ArchiveStatus {
    const id = recordingId ?? this.o.registry.get(streamId)?.manifest.recording?.id ?? this.streamRecordings.get(streamId) ?? null;
    const state = id ? this.recordings.get(id) : undefined;
    const stream = this.o.registry.get(streamId);
    return {
      enabled: this.enabled,
      stream_id: streamId,
      recording_id: id,
      mode: state?.mode ?? (stream && stream.manifest.recording?.id === id ? stream.manifest.recording.mode : null),
      // Ended from this origin's point of view: the stream is gone, over, or broadcasting under a newer recording.
      ended: !stream || stream.ended || stream.manifest.recording?.id !== id,
      pending: id ? (this.uploader?.pending(id) ?? 0) + (state?.journaling ?? 0) : 0,
      uploaded: state?.uploaded ?? 0,
      rejected: state?.rejected ?? 0,
      lag_ms: state ? [...state.lagMs] : [],
      upload_ms: state ? [...state.uploadMs] : [],
    };
  }

  /** Replayed journal entries at start (for tests and the log). */
  get replayedAtStart(): number {
    return this.replayed;
  }

  // ---- internals ----

  private activeFor(streamId: string): { stream: LiveStream; state: RecordingState } | null {
    if (!this.journal) return null;
    const stream = this.o.registry.get(streamId);
    const rec = stream?.manifest.recording;
    const state = rec ? this.recordings.get(rec.id) : undefined;
    return stream && state?.active ? { stream, state } : null;
  }

  private async recording(id: string, streamId: string, mode: "record" | "dvr"): Promise<RecordingState> {
    let state = this.recordings.get(id);
    if (!state) {
      state = {
        id,
        streamId,
        mode,
        active: false,
        keys: new Map(),
        manifest: await this.loadManifest(id),
        lastPosterAt: 0,
        lastPosterEtag: null,
        uploaded: 0,
        rejected: 0,
        lagMs: [],
        uploadMs: [],
        journaling: 0,
        sincePrune: 0,
        backfill: false,
      };
      this.recordings.set(id, state);
      // A long-running origin forgets recordings whose streams are long gone (nothing pending).
      if (this.recordings.size > 500) {
        for (const [rid, s] of this.recordings) {
          if (this.recordings.size <= 400) break;
          if (s.journaling === 0 && (this.uploader?.pending(rid) ?? 0) === 0 && this.o.registry.get(s.streamId)?.manifest.recording?.id !== rid) this.recordings.delete(rid);
        }
      }
    }
    return state;
  }

  /** Everything the origin holds of the stream: manifest, every init, every complete segment, the poster. */
  private async archiveHeld(stream: LiveStream, state: RecordingState): Promise<number> {
    let queued = (await this.journalManifest(stream, state)) ? 1 : 0;
    for (const r of stream.renditions.values()) {
      for (const version of [...r.inits.keys()].sort((a, b) => a - b)) if (await this.journalInit(stream, state, r, version)) queued++;
      queued += await this.sweep(stream, state, r, Infinity);
    }
    const thumb = await this.o.thumbnails.get(stream.id);
    if (thumb && thumb.etag !== state.lastPosterEtag && (await this.journalPoster(stream, state))) queued++;
    return queued;
  }

  /** Journals complete segments not archived yet, newest first, stopping after `limit` known ones. */
  private async sweep(stream: LiveStream, state: RecordingState, r: RenditionState, limit: number): Promise<number> {
    let queued = 0;
    let known = 0;
    // Newest first; the list may change while a journal write is awaited, so walk a snapshot.
    const segs = r.segments.slice();
    for (let i = segs.length - 1; i >= 0 && known < limit; i--) {
      const seg = segs[i]!;
      if (!seg.complete || seg.gap) continue;
      if (state.keys.has(keyOf(r.name, segmentFile(seg.msn)))) known++;
      else if (await this.journalSegment(stream, state, r, seg)) queued++;
    }
    return queued;
  }

  private async journalManifest(stream: LiveStream, state: RecordingState): Promise<boolean> {
    const m = stream.manifest;
    const previous = state.manifest?.renditions ?? [];
    const current = new Map(m.renditions.map((r) => [r.name, r]));
    const renditions: ManifestRendition[] = [...previous.map((r) => current.get(r.name) ?? r), ...m.renditions.filter((r) => !previous.some((p) => p.name === r.name))];
    const next: ArchiveManifest = {
      version: 1,
      recordingId: state.id,
      streamId: stream.id,
      targetDuration: m.targetDuration,
      partTarget: m.partTarget,
      segmentDuration: m.segmentDuration ?? m.targetDuration,
      renditions,
    };
    if (state.manifest && JSON.stringify(state.manifest) === JSON.stringify(next)) return false;
    const bytes = new TextEncoder().encode(JSON.stringify(next));
    await this.journalItem(state, { kind: "manifest", recordingId: state.id, streamId: stream.id, rendition: null, file: MANIFEST_FILE, contentType: "application/json", headers: {}, dueAtMs: Date.now() }, bytes, null);
    state.manifest = next;
    await this.saveManifest(next);
    return true;
  }

  private async journalInit(stream: LiveStream, state: RecordingState, r: RenditionState, version: number): Promise<boolean> {
    const key = keyOf(r.name, initFile(version));
    if (state.keys.has(key)) return false;
    const bytes = await r.readInit(version);
    if (!bytes) return false;
    await this.journalItem(state, { kind: "init", recordingId: state.id, streamId: stream.id, rendition: r.name, file: initFile(version), contentType: "video/mp4", headers: {}, dueAtMs: Date.now() }, bytes, key);
    return true;
  }

  private async journalSegment(stream: LiveStream, state: RecordingState, r: RenditionState, seg: SegmentRecord): Promise<boolean> {
    if (!seg.complete || seg.gap) return false;
    const key = keyOf(r.name, segmentFile(seg.msn));
    if (state.keys.has(key)) return false;
    const dueAtMs = Date.now();
    state.keys.set(key, "journaling");
    state.journaling++;
    let bytes: Uint8Array | null;
    try {
      bytes = await r.readSegment(seg.msn);
    } catch (err) {
      state.keys.delete(key);
      state.journaling--;
      throw err;
    }
    state.journaling--;
    if (!bytes || bytes.byteLength === 0) {
      // Left memory and storage already (a DVR-only window that expired): nothing to archive.
      state.keys.set(key, "missing");
      return false;
    }
    state.keys.delete(key);
    const headers = {
      [AH.duration]: seg.duration.toFixed(6),
      [AH.programDateTime]: new Date(seg.programDateTimeMs).toISOString(),
      [AH.discontinuity]: seg.discontinuity ? "1" : "0",
      [AH.initVersion]: String(seg.initVersion),
    };
    await this.journalItem(state, { kind: "segment", recordingId: state.id, streamId: stream.id, rendition: r.name, file: segmentFile(seg.msn), contentType: "video/iso.segment", headers, dueAtMs }, bytes, key);
    return true;
  }

  private async journalPoster(stream: LiveStream, state: RecordingState): Promise<boolean> {
    const thumb = await this.o.thumbnails.get(stream.id);
    if (!thumb || thumb.etag === state.lastPosterEtag) return false;
    state.lastPosterAt = Date.now();
    state.lastPosterEtag = thumb.etag;
    await this.journalItem(state, { kind: "poster", recordingId: state.id, streamId: stream.id, rendition: null, file: POSTER_FILE, contentType: "image/jpeg", headers: {}, dueAtMs: Date.now() }, thumb.bytes, null);
    return true;
  }

  /** Writes the journal entry (durably), then queues the upload. `key`: dedup key of immutable files. */
  private async journalItem(state: RecordingState, item: JournalItem, bytes: Uint8Array, key: string | null): Promise<void> {
    if (!this.journal || !this.uploader) return;
    if (key) state.keys.set(key, "journaling");
    state.journaling++;
    const started = performance.now();
    let entry: JournalEntry;
    try {
      entry = await this.journal.append(item, bytes);
    } catch (err) {
      if (key) state.keys.delete(key);
      this.journalFailed(state, item.file, err);
      throw err;
    } finally {
      state.journaling--;
    }
    this.o.metrics.archiveJournalSeconds.observe((performance.now() - started) / 1000);
    if (key) state.keys.set(key, "pending");
    this.uploader.add(entry);
    this.updateDepth();
  }

  private journalFailed(state: RecordingState, file: string, err: unknown): void {
    this.o.metrics.archiveFailures.inc({ outcome: "journal" });
    this.o.log.error({ event: "archive_journal_failed", recording: state.id, stream: state.streamId, file, err }, "could not journal an archive upload");
  }

  private async send(entry: JournalEntry): Promise<SendResult> {
    const body = await this.journal!.body(entry);
    this.token ??= signNodeToken(this.o.nodeSecret, this.o.nodeId ?? "origin");
    const url = `${this.o.baseUrl!.replace(/\/+$/, "")}${archivePath(entry.recordingId, entry.rendition, entry.file)}`;
    const res = await (this.o.fetch ?? fetch)(url, {
      method: "PUT",
      headers: { authorization: `Bearer ${await this.token}`, "content-type": entry.contentType, "x-content-sha256": sha256(body), ...entry.headers },
      body: body as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(this.o.timeoutMs ?? 30_000),
    });
    const text = await res.text().catch(() => "");
    return { status: res.status, detail: text.slice(0, 300) };
  }

  private async settled(entry: JournalEntry, outcome: UploadOutcome): Promise<void> {
    await this.journal!.remove(entry);
    const state = this.recordings.get(entry.recordingId);
    const key = keyOf(entry.rendition, entry.file);
    if (outcome.kind === "uploaded") {
      this.o.metrics.archiveUploaded.inc({ kind: entry.kind });
      if (state) {
        state.uploaded++;
        if (entry.kind !== "manifest" && entry.kind !== "poster") state.keys.set(key, "done");
      }
      if (entry.kind === "segment") {
        const lag = Math.max(0, Date.now() - entry.dueAtMs);
        this.o.metrics.archiveLag.observe(lag / 1000);
        if (state) {
          state.lagMs.push(lag);
          state.uploadMs.push(Math.round(outcome.ms));
          if (state.lagMs.length > LAG_SAMPLES) state.lagMs.splice(0, state.lagMs.length - LAG_SAMPLES);
          if (state.uploadMs.length > LAG_SAMPLES) state.uploadMs.splice(0, state.uploadMs.length - LAG_SAMPLES);
        }
      }
    } else {
      this.o.metrics.archiveFailures.inc({ outcome: "rejected" });
      if (state) {
        state.rejected++;
        if (entry.kind !== "manifest" && entry.kind !== "poster") state.keys.set(key, "done");
      }
      this.o.log.error(
        { event: "archive_upload_rejected", recording: entry.recordingId, stream: entry.streamId, rendition: entry.rendition, file: entry.file, status: outcome.status, detail: outcome.detail },
        "the edge refused an archive upload; dropped",
      );
    }
    // Depth after this job leaves the queue (the uploader removes it right after this resolves).
    this.o.metrics.archiveQueueDepth.set(Math.max(0, (this.uploader?.pending() ?? 1) - 1));
  }

  private updateDepth(): void {
    this.o.metrics.archiveQueueDepth.set(this.uploader?.pending() ?? 0);
  }

  // The last manifest.json per recording, kept beside the journal so renditions accumulate across restarts.
  private manifestFile(id: string): string {
    return path.join(this.manifestsDir, `${id}.json`);
  }

  private async loadManifest(id: string): Promise<ArchiveManifest | null> {
    if (!this.journal) return null;
    try {
      const m = JSON.parse(await readFile(this.manifestFile(id), "utf8")) as ArchiveManifest;
      return m && m.recordingId === id && Array.isArray(m.renditions) ? m : null;
    } catch {
      return null;
    }
  }

  private async saveManifest(m: ArchiveManifest): Promise<void> {
    await mkdir(this.manifestsDir, { recursive: true });
    const file = this.manifestFile(m.recordingId);
    await writeFile(`${file}.tmp`, JSON.stringify(m));
    await rename(`${file}.tmp`, file);
  }

  /** Drops remembered manifests of recordings untouched for 30 days. */
  private async pruneManifests(): Promise<void> {
    const names = await readdir(this.manifestsDir).catch(() => [] as string[]);
    const cutoff = Date.now() - 30 * 86_400_000;
    for (const name of names) {
      const file = path.join(this.manifestsDir, name);
      const s = await stat(file).catch(() => null);
      if (s && s.mtimeMs < cutoff) await rm(file, { force: true });
    }
  }
}

const keyOf = (rendition: string | null, file: string): string => `${rendition ?? ""}/${file}`;
