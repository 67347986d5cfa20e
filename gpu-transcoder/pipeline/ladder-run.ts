import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import type { Logger } from "pino";
import { Mp4StreamReader, type InitInfo } from "../../shared/mp4/index.ts";
import { JpegSplitter } from "../../shared/thumbnail.ts";
import { buildTranscodeArgs, outputFds, thumbnailFd, type TranscodeJob } from "../ffmpeg/build-args.ts";
import type { Chunk } from "../packager/part-cutter.ts";

export interface RunOutputHandlers {
  onInit(rendition: string, bytes: Uint8Array, info: InitInfo): void;
  /** Returns false to ask for backpressure; `resume` is called when the consumer drained. */
  onChunk(rendition: string, chunk: Chunk): Promise<void> | void;
  onProgress(text: string): void;
  /** A whole JPEG from the thumbnail output; must not block (the pipe is always drained). */
  onThumbnail?(jpeg: Uint8Array): void;
  onExit(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): void;
}

/**
 * One ffmpeg process encoding the whole ladder for one stream: FLV in on stdin, one fragmented
 * MP4 per rendition out on fds 3…, then the thumbnail JPEGs (if any), progress on stdout.
 */
export class LadderRun {
  readonly child: ChildProcess;
  readonly renditions: string[];
  private stderrTail = "";
  private exited = false;
  readonly exitPromise: Promise<void>;

  constructor(
    ffmpegPath: string,
    readonly job: TranscodeJob,
    private readonly handlers: RunOutputHandlers,
    private readonly log: Logger,
  ) {
    const args = buildTranscodeArgs(job);
    this.renditions = job.video.map((v) => v.rung.name).concat(job.audio ? [job.audio.rung.name] : []);
    const fds = outputFds(job);
    const thumbFd = thumbnailFd(job);
    const stdio = ["pipe", "pipe", "pipe", ...fds.map(() => "pipe" as const), ...(thumbFd !== null ? ["pipe" as const] : [])] as const;
    this.child = spawn(ffmpegPath, args, { stdio: [...stdio] });
    this.log.info({ event: "ffmpeg_started", pid: this.child.pid, encoder: job.encoder, renditions: this.renditions, args: args.join(" ") }, "ffmpeg ladder started");
    this.child.stdout!.setEncoding("utf8");
    this.child.stdout!.on("data", (t: string) => handlers.onProgress(t));
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (t: string) => {
      this.stderrTail = (this.stderrTail + t).slice(-4000);
      for (const line of t.split("\n").filter((l) => l.trim())) this.log.warn({ event: "ffmpeg_log", line: line.slice(0, 500) }, "ffmpeg");
    });
    this.stdin.on("error", () => {
      // ffmpeg exited while we were writing: the exit handler reports it.
    });
    const outputsDone = fds.map((fd, i) => this.readOutput(this.child.stdio[fd] as Readable, this.renditions[i]!));
    if (thumbFd !== null) outputsDone.push(this.readThumbnails(this.child.stdio[thumbFd] as Readable));
    this.exitPromise = new Promise<void>((resolve) => {
      this.child.on("close", (code, signal) => {
        this.exited = true;
        void Promise.allSettled(outputsDone).then(() => {
          handlers.onExit(code, signal, this.stderrTail);
          resolve();
        });
      });
      this.child.on("error", (err) => this.log.error({ event: "ffmpeg_spawn_failed", err }, "ffmpeg failed to start"));
    });
  }

  get stdin(): Writable {
    return this.child.stdin!;
  }

  get running(): boolean {
    return !this.exited;
  }

  private async readOutput(stream: Readable, rendition: string): Promise<void> {
    const reader = new Mp4StreamReader();
    let init: InitInfo | null = null;
    for await (const chunk of stream) {
      for (const ev of reader.push(new Uint8Array(chunk as Buffer))) {
        if (ev.kind === "init") {
          init = ev.info;
          this.handlers.onInit(rendition, ev.bytes, init);
          continue;
        }
        const track = ev.info.tracks[0];
        const timescale = init?.tracks.find((t) => t.trackId === track?.trackId)?.timescale;
        if (!track || !timescale) continue;
        const pending = this.handlers.onChunk(rendition, {
          bytes: ev.bytes,
          startTicks: track.baseMediaDecodeTime,
          durationTicks: track.duration,
          timescale,
          startsWithSync: track.samples[0]?.isSync ?? false,
        });
        // Backpressure: stop reading this pipe (ffmpeg then blocks on it) until the pusher drains.
        if (pending) await pending;
      }
    }
  }

  /**
   * Thumbnails are read as fast as ffmpeg writes them and handed on without waiting: an unread
   * pipe would block ffmpeg and with it every rendition. The consumer keeps only the latest.
   */
  private async readThumbnails(stream: Readable): Promise<void> {
    const splitter = new JpegSplitter();
    for await (const chunk of stream) {
      for (const jpeg of splitter.push(new Uint8Array(chunk as Buffer))) {
        try {
          this.handlers.onThumbnail?.(jpeg);
        } catch (err) {
          this.log.error({ event: "thumbnail_handler_failed", err }, "thumbnail handler failed");
        }
      }
    }
    if (splitter.dropped > 0) this.log.warn({ event: "thumbnail_dropped", count: splitter.dropped }, "malformed thumbnail output skipped");
  }

  /** Closes stdin so ffmpeg drains and writes its last fragments; kills it if it lingers. */
  async finish(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    this.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGKILL");
    await this.exitPromise;
  }
}
