import pino from "pino";
import { PushClient } from "../../gpu-transcoder/push/push-client.ts";
import type { ManifestRendition, StreamManifest } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { monoMs, sleepUntil } from "./clock.ts";
import type { Part } from "./fmp4.ts";

/** One rendition's media, looped forever: the segments are replayed with ever-increasing MSNs. */
export interface RenditionFeed {
  rendition: ManifestRendition;
  init: Uint8Array;
  segments: Part[][];
}

export interface StreamTiming {
  targetDuration: number;
  partTarget: number;
  segmentDuration: number;
}

export interface PushedPart {
  msn: number;
  part: number;
  /** Monotonic ms when the packager "finished" the part and handed it to the push client (latency zero point). */
  startMs: number;
}

export const partKey = (msn: number, part: number): string => `${msn}.${part}`;
const PART_PATH = /\/renditions\/([^/]+)\/parts\/(\d+)\/(\d+)$/;

/**
 * Plays the packager of a transcoder node against a server: the parts are handed to the node's
 * real push client (gpu-transcoder/push/push-client.ts: per-rendition ordered queues, concurrent
 * across renditions, sequence numbers, retries), in the order the part cutter emits them — a
 * segment boundary right before part 0 of the next segment, which is when the packager learns that
 * the segment ended.
 */
export class StreamPusher {
  private readonly client: PushClient;
  private msn = 0;
  private part = 0;
  private segmentCursor = 0;
  private stopped = false;
  private readonly peak = new Map<string, number>();
  private readonly average = new Map<string, number>();
  readonly partsPerSegment: number;
  /** Monotonic ms at which the watched rendition's PUT of each part was acknowledged (key `msn.part`). */
  readonly acks = new Map<string, number>();
  /** Warnings and errors the push client logged (retries, rejected pushes): a clean run has none. */
  readonly problems: string[] = [];
  /** Parts for which the push client reported a full queue (the server did not keep up). */
  backpressured = 0;

  private constructor(
    baseUrl: string,
    streamId: string,
    token: string,
    private readonly feeds: RenditionFeed[],
    private readonly timing: StreamTiming,
    private readonly watched: string | null,
  ) {
    const counts = new Set(feeds.flatMap((f) => f.segments.map((s) => s.length)));
    if (counts.size !== 1) throw new Error("every rendition must have the same number of parts per segment");
    this.partsPerSegment = [...counts][0]!;
    for (const f of feeds) {
      const rates = f.segments.map((s) => (s.reduce((n, p) => n + p.bytes.byteLength, 0) * 8) / s.reduce((n, p) => n + p.duration, 0));
      this.peak.set(f.rendition.name, Math.max(...rates));
      this.average.set(f.rendition.name, rates.reduce((a, r) => a + r, 0) / rates.length);
    }
    const logger = pino({ level: "warn", base: null }, { write: (line: string) => void this.problems.push(line.trim().slice(0, 500)) });
    this.client = new PushClient({
      streamId,
      origins: [baseUrl],
      token,
      logger,
      onPushed: (item) => {
        if (item.kind !== "part") return;
        const m = PART_PATH.exec(item.path);
        if (m && m[1] === this.watched) this.acks.set(partKey(Number(m[2]), Number(m[3])), monoMs());
      },
    });
  }

  static async create(o: { baseUrl: string; streamId: string; nodeSecret: string; feeds: RenditionFeed[]; timing: StreamTiming; watched?: string }): Promise<StreamPusher> {
    const token = await signNodeToken(o.nodeSecret, "bench-node");
    return new StreamPusher(o.baseUrl, o.streamId, token, o.feeds, o.timing, o.watched ?? null);
  }

  /** Manifest and init segments; resolves once the server has taken them. */
  async announce(): Promise<void> {
    const manifest: StreamManifest = { ...this.timing, renditions: this.feeds.map((f) => f.rendition) };
    await this.client.setManifest(manifest);
    for (const f of this.feeds) this.client.pushInit(f.rendition.name, 0, f.init);
    if (!(await this.client.flush(10_000)) || this.problems.length > 0) {
      throw new Error(`announcing the stream failed: ${this.problems.join("; ") || "push queue did not drain"}`);
    }
  }

  /** Hands the next part of every rendition to the push client (which pushes renditions in parallel). */
  pushNextPart(): PushedPart {
    const { msn, part } = this;
    const startMs = monoMs();
    const wallMs = Date.now();
    for (const f of this.feeds) {
      const name = f.rendition.name;
      const count = f.segments.length;
      const p = f.segments[this.segmentCursor % count]![part]!;
      if (part === 0 && msn > 0) {
        const previous = f.segments[(this.segmentCursor - 1 + count) % count]!;
        this.client.pushSegment(name, {
          msn: msn - 1,
          duration: previous.reduce((a, x) => a + x.duration, 0),
          peakBitrate: this.peak.get(name)!,
          averageBitrate: this.average.get(name)!,
        });
      }
      const accepted = this.client.pushPart(name, {
        msn,
        part,
        duration: p.duration,
        independent: p.independent || f.rendition.type === "audio",
        bytes: p.bytes,
        ...(part === 0 ? { programDateTimeMs: wallMs, initVersion: 0 } : {}),
      });
      if (!accepted) this.backpressured++;
    }
    this.part++;
    if (this.part === this.partsPerSegment) {
      this.part = 0;
      this.msn++;
      this.segmentCursor++;
    }
    return { msn, part, startMs };
  }

  /**
   * Hands over one part per PART-TARGET on a fixed schedule (t0 + k·interval, so the time spent
   * pushing never accumulates into drift) until stop() is called. Resolves when the loop has ended.
   */
  async runRealtime(onPart: (p: PushedPart) => void): Promise<void> {
    const intervalMs = this.timing.partTarget * 1000;
    const t0 = monoMs();
    for (let k = 0; !this.stopped; k++) {
      await sleepUntil(t0 + k * intervalMs);
      if (this.stopped) break;
      onPart(this.pushNextPart());
    }
  }

  stop(): void {
    this.stopped = true;
  }

  /** Flushes the queues and ends the stream (ENDLIST); never throws. */
  async end(): Promise<void> {
    this.stop();
    await this.client.endStream().catch(() => undefined);
    this.client.close();
  }
}
