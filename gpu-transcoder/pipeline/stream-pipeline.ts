import type { Logger } from "pino";
import { streamEvent, type Severity, type StreamEvent, type StreamEventType } from "../../shared/events.ts";
import { fitLadderToSource, type Ladder } from "../../shared/ladder.ts";
import type { InitInfo } from "../../shared/mp4/index.ts";
import { DEFAULT_THUMBNAIL_INTERVAL, THUMBNAIL_WIDTH } from "../../shared/thumbnail.ts";
import type { ManifestRendition, StreamManifest } from "../../shared/push-protocol.ts";
import { manifestOptionFields, type NodeStreamOptions } from "../control-plane/stream-options.ts";
import { binaryJobOptions, type TranscodeJob } from "../ffmpeg/build-args.ts";
import { planParts, type PartPlan } from "../ffmpeg/part-plan.ts";
import type { FfmpegCapabilities } from "../ffmpeg/probe.ts";
import { encodeFlvHeader, encodeFlvTag, isSequenceHeader, isVideoKeyframe, parseOnMetaData } from "../ingest/flv.ts";
import type { FlvTag, PublishSession } from "../ingest/types.ts";
import { PartCutter, type Chunk } from "../packager/part-cutter.ts";
import { ArrivalClock } from "./arrival-clock.ts";
import { LadderRun } from "./ladder-run.ts";
import type { PartSink } from "./part-sink.ts";
import { ProgressMonitor } from "./progress-monitor.ts";
import { RestartPolicy, stderrSummary, type RestartPolicyOptions } from "./restart-policy.ts";

export interface PipelineOptions {
  streamId: string;
  caps: FfmpegCapabilities;
  ladder: Ladder;
  partTarget: number;
  segmentDuration: number;
  /** Where parts, segment boundaries, inits and thumbnails go (the push client in a node). */
  push: PartSink;
  log: Logger;
  /** Publisher reconnect grace period. */
  graceMs: number;
  realtime: { minSpeed: number; slowPeriodMs: number };
  onEvent: (e: StreamEvent) => void;
  onEnded: () => void;
  onPartProduced?: (rendition: string) => void;
  /** Seconds between thumbnails (the first comes with the first frame); 0 = none. Default 10. */
  thumbnailInterval?: number;
  /** DVR window and recording from the control plane (configure_encoders), when it already spoke. */
  streamOptions?: NodeStreamOptions | null;
  /** Encoder restart backoff and give-up rule; restart-policy.ts has the defaults. */
  restartPolicy?: Partial<RestartPolicyOptions>;
}

/** `ended` and `failed` are final: `failed` when the encoder kept exiting (a `stream_failed` event says why). */
export type PipelineState = "starting" | "live" | "reconnecting" | "ended" | "failed";

interface RenditionRuntime {
  name: string;
  type: "video" | "audio";
  cutter: PartCutter;
  initBytes: Uint8Array | null;
  initVersion: number;
  info: ManifestRendition | null;
  peakBitrate: number;
  totalBytes: number;
  totalSeconds: number;
}

/** Max bytes queued into ffmpeg's stdin before the input is thinned to keyframes (the encoder fell behind). */
const STDIN_HIGH_WATER = 8 * 1024 * 1024;

/**
 * The life of one stream on this node: feeds the publisher's FLV into a ladder run, packages its
 * outputs into parts and segments, pushes them, degrades when encoding falls behind real time,
 * and keeps the playlists going across a publisher reconnect within the grace period.
 */
export class StreamPipeline {
  state: PipelineState = "starting";
  private session: PublishSession | null = null;
  private run: LadderRun | null = null;
  private plan: PartPlan | null = null;
  private ladder: Ladder | null = null;
  private hasAudio = false;
  private readonly renditions = new Map<string, RenditionRuntime>();
  private readonly clock = new ArrivalClock();
  private headers: { meta: FlvTag | null; video: FlvTag | null; audio: FlvTag | null } = { meta: null, video: null, audio: null };
  private runInputStartTs: number | null = null;
  private waitingForKeyframe = true;
  private pendingStart: FlvTag[] = [];
  private graceTimer: NodeJS.Timeout | null = null;
  private restarting = false;
  private restarts = 0;
  private readonly restartPolicy: RestartPolicy;
  /** Set while waiting out the backoff before the next run: keyframes do not start one until then. */
  private restartTimer: NodeJS.Timeout | null = null;
  private runStartedAt = 0;
  private manifestPushed = false;
  /** The lowest MSN new segments may use (the origin's playlists of an earlier run end below it). */
  private continueFrom = 0;
  private monitor: ProgressMonitor | null = null;
  /** Duration and PROGRAM-DATE-TIME of recent segments by MSN, to fill a lagging rendition with gaps. */
  private readonly recentSegments = new Map<number, { duration: number; pdtMs: number }>();
  private startDeadline: NodeJS.Timeout | null = null;
  readonly startedAt = Date.now();
  private streamOptions: NodeStreamOptions | null;
  /** Frames dropped by earlier ffmpeg runs of this stream (each run counts from zero). */
  private droppedBefore = 0;

  constructor(private readonly o: PipelineOptions) {
    this.streamOptions = o.streamOptions ?? null;
    this.restartPolicy = new RestartPolicy(o.restartPolicy);
  }

  /** Ended or failed: this pipeline takes no publisher any more. */
  get finished(): boolean {
    return this.state === "ended" || this.state === "failed";
  }

  /**
   * The control plane's DVR window and recording for this stream (configure_encoders usually
   * arrives after the publisher, so the manifest may already be out): the origin gets an updated
   * manifest at once, and archives from the start of the stream what it still holds.
   */
  setStreamOptions(options: NodeStreamOptions): void {
    this.streamOptions = options;
    // Before the first manifest (or between runs) the next manifest push carries the options.
    if (!this.manifestPushed || !this.run || !this.plan) return;
    const manifest = this.manifest();
    if (!manifest || manifest.renditions.length === 0) return;
    this.o.push.setManifest(manifest).catch((err) => this.o.log.error({ event: "manifest_push_failed", stream: this.o.streamId, err }, "manifest push failed"));
  }

  get speed(): number {
    return this.monitor?.speed ?? 0;
  }

  /** Media seconds the current ffmpeg run has encoded (restarts at 0 with every run). */
  get encodedSeconds(): number {
    return this.monitor?.outTimeSeconds ?? 0;
  }

  /** Frames ffmpeg dropped over the whole stream, every run included. */
  get droppedFrames(): number {
    return this.droppedBefore + (this.monitor?.droppedFrames ?? 0);
  }

  get activeRenditions(): string[] {
    return this.run?.renditions ?? [];
  }

  get currentLadder(): Ladder | null {
    return this.ladder;
  }

  private emit(type: StreamEventType, severity: Severity, data: Record<string, unknown> = {}): void {
    this.o.onEvent(streamEvent(type, this.o.streamId, severity, data));
  }

  /** A publisher (the first, or a reconnect within the grace period) starts sending. */
  attach(session: PublishSession): void {
    if (this.finished) throw new Error(`pipeline has ${this.state}`);
    if (this.graceTimer) {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
      this.emit("connection_restored", "info", { remoteAddress: session.remoteAddress });
    }
    this.session = session;
    this.waitingForKeyframe = true;
    this.pendingStart = [];
    this.headers = { meta: null, video: null, audio: null };
    session.on("tag", (tag) => this.onTag(session, tag));
    session.on("close", (reason) => void this.onPublisherClosed(session, reason));
  }

  private onTag(session: PublishSession, tag: FlvTag): void {
    if (session !== this.session) return;
    if (tag.type === 18) {
      if (parseOnMetaData(tag.data)) this.headers.meta = tag;
      return;
    }
    if (tag.type === 9) this.clock.record(tag.timestamp, tag.arrivalMs);
    if (isSequenceHeader(tag.type, tag.data)) {
      if (tag.type === 9) this.headers.video = tag;
      else this.headers.audio = tag;
      if (this.run && !this.waitingForKeyframe) this.write(tag);
      return;
    }
    if (this.waitingForKeyframe) {
      if (tag.type === 9 && isVideoKeyframe(tag.data) && !this.restartTimer) {
        this.waitingForKeyframe = false;
        this.pendingStart = [tag];
        // Give audio up to a second to show up before deciding the stream has none.
        if (!this.run) this.startDeadline ??= setTimeout(() => this.startRun(), this.headers.audio ? 0 : 1000);
      }
      return;
    }
    if (!this.run) {
      this.pendingStart.push(tag);
      if (this.headers.audio && this.startDeadline) {
        clearTimeout(this.startDeadline);
        this.startDeadline = null;
        this.startRun();
      }
      return;
    }
    this.write(tag);
  }

  private write(tag: FlvTag): void {
    const run = this.run;
    if (!run?.running || this.restarting) return;
    if (run.stdin.writableLength > STDIN_HIGH_WATER) {
      // ffmpeg is not keeping up and the guard has not acted yet: drop until the next keyframe.
      this.waitingForKeyframe = tag.type !== 9 || !isVideoKeyframe(tag.data);
      if (this.waitingForKeyframe) return;
    }
    this.runInputStartTs ??= tag.timestamp;
    run.stdin.write(encodeFlvTag({ type: tag.type, timestamp: tag.timestamp, data: tag.data }));
  }

  /** Starts (or restarts) the ffmpeg ladder with the stored stream headers, from a keyframe. */
  private startRun(): void {
    this.startDeadline = null;
    if (this.run?.running || this.finished || !this.session) return;
    if (!this.headers.video) {
      this.o.log.error({ event: "no_video_header", stream: this.o.streamId }, "publisher sent no AVC sequence header");
      this.session.close("no H.264 sequence header");
      return;
    }
    if (!this.plan || !this.ladder) {
      this.hasAudio = this.headers.audio !== null;
      const meta = this.headers.meta ? parseOnMetaData(this.headers.meta.data) : null;
      const source = meta?.width && meta.height ? { width: meta.width, height: meta.height } : null;
      this.ladder = fitLadderToSource(this.o.ladder, source);
      const sourceFps = meta?.framerate;
      const fpsOf = (fps: number) => (sourceFps && sourceFps < fps - 0.01 ? sourceFps : fps);
      this.plan = planParts({
        partTarget: this.o.partTarget,
        segmentDuration: this.o.segmentDuration,
        videoFps: [...new Set(this.ladder.video.map((r) => fpsOf(r.fps)))],
        audioSampleRate: this.hasAudio ? this.ladder.audio.sampleRate : null,
      });
      this.o.log.info(
        {
          event: "ladder_planned",
          stream: this.o.streamId,
          source,
          sourceFps,
          rungs: this.ladder.video.map((r) => r.name),
          partTarget: this.plan.partTarget,
          targetDuration: this.plan.targetDuration,
          segmentDuration: this.plan.segmentDuration,
          encoder: this.o.caps.h264Encoder,
        },
        "ladder planned",
      );
      for (const r of this.ladder.video) this.ensureRendition(r.name, "video");
      if (this.hasAudio) this.ensureRendition(this.ladder.audio.name, "audio");
    }
    const plan = this.plan;
    const ladder = this.ladder;
    const fpsOf = (fps: number) => [...plan.video.keys()].find((f) => f <= fps + 0.01) ?? fps;
    const thumbnailInterval = this.o.thumbnailInterval ?? DEFAULT_THUMBNAIL_INTERVAL;
    const job: TranscodeJob = {
      encoder: this.o.caps.h264Encoder,
      ...(this.o.caps.vaapiDevice ? { vaapiDevice: this.o.caps.vaapiDevice } : {}),
      video: ladder.video.map((rung) => {
        const fps = fpsOf(rung.fps);
        const vp = plan.video.get(fps)!;
        return { rung, fps, gopFrames: plan.gopFrames.get(fps)!, fragDurationUs: vp.fragDurationUs };
      }),
      audio: this.hasAudio && plan.audio ? { rung: ladder.audio, fragDurationUs: plan.audio.fragDurationUs } : null,
      segmentDuration: plan.segmentDuration,
      ...binaryJobOptions(this.o.caps),
      thumbnail: thumbnailInterval > 0 ? { intervalSeconds: thumbnailInterval, width: THUMBNAIL_WIDTH } : null,
    };
    for (const r of this.renditions.values()) r.cutter.startNewRun().forEach((o) => this.handleCut(r, o));
    // Keep every rendition on the same MSN when a new run starts: a rendition whose media ended
    // before the last boundary of the old run gets EXT-X-GAP segments for the MSNs it lacks.
    const next = Math.max(0, ...[...this.renditions.values()].map((r) => r.cutter.upcomingMsn));
    for (const r of this.renditions.values()) {
      for (let msn = r.cutter.upcomingMsn; msn < next; msn++) {
        const info = this.recentSegments.get(msn) ?? { duration: 0.1, pdtMs: Date.now() };
        this.o.push.pushSegment(r.name, { msn, duration: info.duration, peakBitrate: r.peakBitrate, averageBitrate: 0, gapProgramDateTimeMs: info.pdtMs });
      }
      r.cutter.setNextMsn(next);
    }
    this.runInputStartTs = null;
    this.droppedBefore += this.monitor?.droppedFrames ?? 0;
    this.monitor = new ProgressMonitor(this.o.realtime.minSpeed, this.o.realtime.slowPeriodMs, (speed, forMs) => void this.dropTopRung(speed, forMs));
    const run = new LadderRun(this.o.caps.path, job, {
      onInit: (name, bytes, info) => this.onInit(name, bytes, info),
      onChunk: (name, chunk) => this.onChunk(name, chunk),
      onProgress: (text) => this.monitor?.feed(text),
      // Its own latest-wins slot in the push client: never waits, never holds back parts.
      onThumbnail: (jpeg) => this.o.push.pushThumbnail(jpeg),
      onExit: (code, signal, tail) => this.onRunExit(run, code, signal, tail),
    }, this.o.log.child({ stream: this.o.streamId }));
    this.run = run;
    this.runStartedAt = Date.now();
    run.stdin.write(encodeFlvHeader({ audio: this.hasAudio, video: true }));
    for (const h of [this.headers.meta, this.headers.video, this.headers.audio]) {
      if (h) run.stdin.write(encodeFlvTag({ type: h.type, timestamp: h.timestamp, data: h.data }));
    }
    const backlog = this.pendingStart;
    this.pendingStart = [];
    for (const tag of backlog) this.write(tag);
    if (this.state === "starting" || this.state === "reconnecting") {
      this.state = "live";
    }
  }

  private ensureRendition(name: string, type: "video" | "audio"): RenditionRuntime {
    let r = this.renditions.get(name);
    if (!r) {
      r = {
        name,
        type,
        cutter: new PartCutter({ type, segmentDuration: this.plan!.segmentDuration, startMsn: this.continueFrom }),
        initBytes: null,
        initVersion: -1,
        info: null,
        peakBitrate: 0,
        totalBytes: 0,
        totalSeconds: 0,
      };
      this.renditions.set(name, r);
    }
    return r;
  }

  private onInit(name: string, bytes: Uint8Array, info: InitInfo): void {
    const r = this.renditions.get(name);
    const track = info.tracks[0];
    if (!r || !track) return;
    if (!r.initBytes || !sameBytes(r.initBytes, bytes)) {
      r.initVersion++;
      r.initBytes = bytes;
      this.o.push.pushInit(name, r.initVersion, bytes);
    }
    const ladder = this.ladder!;
    const rung = ladder.video.find((v) => v.name === name);
    r.info = rung
      ? { name, type: "video", codecs: track.codec, bitrate: rung.bitrateKbps * 1000, width: track.width ?? rung.width, height: track.height ?? rung.height, fps: this.run?.job.video.find((v) => v.rung.name === name)?.fps ?? rung.fps }
      : { name, type: "audio", codecs: track.codec, bitrate: ladder.audio.bitrateKbps * 1000, language: ladder.audio.language, channels: track.channels ?? ladder.audio.channels };
    this.maybePushManifest();
  }

  private manifest(): StreamManifest | null {
    const names = this.run?.renditions ?? [];
    const infos = names.map((n) => this.renditions.get(n)?.info ?? null);
    if (infos.some((i) => i === null)) return null;
    return {
      targetDuration: this.plan!.targetDuration,
      partTarget: this.plan!.partTarget,
      segmentDuration: this.plan!.segmentDuration,
      renditions: infos as ManifestRendition[],
      ...manifestOptionFields(this.streamOptions),
    };
  }

  private maybePushManifest(): void {
    const manifest = this.manifest();
    if (!manifest) return;
    if (!this.manifestPushed) this.emit("stream_started", "info", { renditions: manifest.renditions.map((r) => r.name), encoder: this.o.caps.h264Encoder });
    this.manifestPushed = true;
    this.o.push.setManifest(manifest).catch((err) => this.o.log.error({ event: "manifest_push_failed", stream: this.o.streamId, err }, "manifest push failed"));
  }

  private onChunk(name: string, chunk: Chunk): Promise<void> | void {
    const r = this.renditions.get(name);
    if (!r) return;
    let backpressure = false;
    for (const out of r.cutter.push(chunk)) backpressure = this.handleCut(r, out) || backpressure;
    this.o.onPartProduced?.(name);
    return backpressure ? this.o.push.drained(name) : undefined;
  }

  /** Returns true when the push queue asks the producer to wait. */
  private handleCut(r: RenditionRuntime, out: ReturnType<PartCutter["push"]>[number]): boolean {
    if (out.kind === "segment") {
      const seen = this.recentSegments.get(out.msn);
      if (seen) seen.duration = Math.max(seen.duration, out.duration);
      if (out.duration > 0) {
        r.peakBitrate = Math.max(r.peakBitrate, (out.bytes * 8) / out.duration);
        r.totalBytes += out.bytes;
        r.totalSeconds += out.duration;
      }
      return !this.o.push.pushSegment(r.name, {
        msn: out.msn,
        duration: out.duration,
        peakBitrate: r.peakBitrate,
        averageBitrate: r.totalSeconds > 0 ? (r.totalBytes * 8) / r.totalSeconds : 0,
      });
    }
    const pdt = out.part === 0 && this.runInputStartTs !== null ? this.clock.wallAt(this.runInputStartTs + out.segmentStartSeconds * 1000) : undefined;
    if (out.part === 0 && !this.recentSegments.has(out.msn)) {
      this.recentSegments.set(out.msn, { duration: 0, pdtMs: pdt ?? Date.now() });
      this.recentSegments.delete(out.msn - 20);
    }
    return !this.o.push.pushPart(r.name, {
      msn: out.msn,
      part: out.part,
      duration: out.duration,
      independent: out.independent,
      bytes: out.bytes,
      ...(pdt !== undefined ? { programDateTimeMs: pdt } : {}),
      discontinuity: out.discontinuity,
      ...(out.part === 0 ? { initVersion: Math.max(0, r.initVersion) } : {}),
    });
  }

  private onRunExit(run: LadderRun, code: number | null, signal: NodeJS.Signals | null, tail: string): void {
    if (run !== this.run) return;
    for (const r of this.renditions.values()) r.cutter.flush().forEach((o) => this.handleCut(r, o));
    const expected = this.restarting || this.state !== "live" || !this.session;
    this.o.log.info({ event: "ffmpeg_exited", stream: this.o.streamId, code, signal, expected }, "ffmpeg ladder exited");
    if (expected) return;
    this.run = null;
    const decision = this.restartPolicy.onExit(Date.now() - this.runStartedAt);
    if (decision.action === "fail") {
      const quickS = this.restartPolicy.options.quickMs / 1000;
      const reason = `ffmpeg exited ${decision.quickFailures} times in a row within ${quickS} s of starting (last: ${signal ?? `code ${code}`}): ${stderrSummary(tail) || "no output"}`;
      void this.finish("failed", reason, { code, signal, stderr: tail.slice(-500), restarts: this.restarts, quickFailures: decision.quickFailures });
      return;
    }
    // ffmpeg died under a live publisher: after the backoff, restart from the next keyframe with a discontinuity.
    this.restarts++;
    this.emit("error", "error", { reason: "encoder exited", code, signal, stderr: tail.slice(-500), restarts: this.restarts, restartInMs: decision.delayMs });
    this.waitingForKeyframe = true;
    this.pendingStart = [];
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.resumeAtKeyframe();
    }, decision.delayMs);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
  }

  /** The next video keyframe starts a new run (after an encoder restart or a rung drop). */
  private resumeAtKeyframe(): void {
    this.waitingForKeyframe = true;
    this.pendingStart = [];
    this.startDeadline = null;
  }

  /** The origin holds this stream up to `msn` − 1 from an earlier run (PushClientOptions.onNextMsn). */
  continueAt(msn: number): void {
    // The origin's answer also reflects this pipeline's own pushes (a manifest re-sent after a
    // reconnect): only an MSN beyond everything we numbered ourselves is another run's.
    const own = Math.max(0, ...[...this.renditions.values()].map((r) => r.cutter.upcomingMsn));
    if (msn <= this.continueFrom || msn <= own) return;
    this.continueFrom = msn;
    this.o.log.warn({ event: "msn_continued", stream: this.o.streamId, msn }, "origin holds an earlier run of this stream: continuing its playlists");
    for (const r of this.renditions.values()) r.cutter.continueAt(msn);
  }

  /** Graceful degradation: the ladder runs slower than real time, so the top rung goes. */
  private async dropTopRung(speed: number, forMs: number): Promise<void> {
    const ladder = this.ladder;
    if (!ladder || ladder.video.length <= 1 || this.restarting || !this.run) return;
    const top = [...ladder.video].sort((a, b) => b.height - a.height)[0]!;
    this.restarting = true;
    this.o.log.warn({ event: "rung_dropped", stream: this.o.streamId, rung: top.name, speed, forMs }, "encoding slower than real time: dropping the top rung");
    const old = this.run;
    await old.kill();
    for (const r of this.renditions.values()) r.cutter.flush().forEach((o) => this.handleCut(r, o));
    this.ladder = { ...ladder, video: ladder.video.filter((r) => r !== top) };
    this.renditions.delete(top.name);
    this.emit("quality_changed", "warning", { dropped: top.name, speed: Number(speed.toFixed(3)), renditions: this.ladder.video.map((r) => r.name) });
    await this.o.push.endRendition(top.name).catch((err) => this.o.log.error({ event: "rendition_end_failed", err }, "could not end rendition"));
    this.run = null;
    this.restarting = false;
    this.manifestPushed = true;
    this.resumeAtKeyframe();
  }

  private async onPublisherClosed(session: PublishSession, reason: string): Promise<void> {
    if (session !== this.session) return;
    this.session = null;
    if (this.startDeadline) clearTimeout(this.startDeadline);
    this.startDeadline = null;
    this.clearRestartTimer();
    const run = this.run;
    this.run = null;
    this.state = this.manifestPushed ? "reconnecting" : "ended";
    if (run) {
      await run.finish();
      for (const r of this.renditions.values()) r.cutter.flush().forEach((o) => this.handleCut(r, o));
    }
    if (this.state === "ended") {
      this.o.push.close();
      this.o.onEnded();
      return;
    }
    this.emit("connection_lost", "warning", { reason, graceSeconds: this.o.graceMs / 1000 });
    this.graceTimer = setTimeout(() => void this.end("publisher did not reconnect within the grace period"), this.o.graceMs);
  }

  /** Ends the stream: ENDLIST on every playlist. */
  async end(reason: string): Promise<void> {
    await this.finish("ended", reason);
  }

  /**
   * The stream is over (`ended`), or the encoder cannot run it (`failed`: `stream_failed` with the
   * reason instead of `stream_ended`); either way the publisher is let go and the playlists end.
   */
  private async finish(state: "ended" | "failed", reason: string, failure: Record<string, unknown> = {}): Promise<void> {
    if (this.finished) return;
    this.state = state;
    this.clearRestartTimer();
    if (this.startDeadline) clearTimeout(this.startDeadline);
    this.startDeadline = null;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    // Detach the publisher before closing it: its close event must not start a reconnect grace
    // period (and a second end 30 s later) or push the last parts after the stream's end.
    const session = this.session;
    this.session = null;
    session?.close(state === "failed" ? "encoder failed" : reason);
    const run = this.run;
    this.run = null;
    if (run) await run.finish();
    for (const r of this.renditions.values()) r.cutter.flush().forEach((o) => this.handleCut(r, o));
    try {
      if (this.manifestPushed) await this.o.push.endStream();
    } catch (err) {
      this.o.log.error({ event: "end_push_failed", stream: this.o.streamId, err }, "could not push the stream end");
    } finally {
      this.o.push.close();
    }
    if (state === "failed") {
      this.o.log.error({ event: "stream_failed", stream: this.o.streamId, reason }, "the encoder keeps failing: stream failed");
      this.emit("stream_failed", "error", { reason, ...failure });
    } else this.emit("stream_ended", "info", { reason });
    this.o.onEnded();
  }
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.byteLength === b.byteLength && a.every((v, i) => v === b[i]);
