import http from "node:http";
import { PUSH_HEADERS as H, pushPaths, type ManifestRendition, type StreamManifest } from "../../shared/push-protocol.ts";
import { monoMs, sleepUntil } from "./clock.ts";
import type { Part } from "./fmp4.ts";

/** One rendition's media, looped forever: the segments are replayed with ever-increasing MSNs. */
export interface RenditionFeed {
  rendition: ManifestRendition;
  init: Uint8Array;
  segments: Part[][];
}

export interface PushedPart {
  msn: number;
  part: number;
  /** Monotonic ms when the packager "finished" the part and started pushing it (latency zero point). */
  startMs: number;
  /** Monotonic ms when the last rendition's push of this part was acknowledged. */
  ackMs: number;
}

// The transcoder keeps one connection per origin open; a keep-alive agent does the same here so
// the measured push is a request on a warm socket, not a TCP handshake.
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

const request = (url: string, method: string, headers: Record<string, string>, body?: Uint8Array): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent, headers: { ...headers, "content-length": String(body?.byteLength ?? 0) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body ? Buffer.from(body.buffer, body.byteOffset, body.byteLength) : undefined);
  });

/**
 * Plays the transcoder node against an origin, speaking the real push protocol
 * (shared/push-protocol.ts): manifest, init, then parts and segment boundaries with per-rendition
 * sequence numbers, in the same order the node's part cutter emits them (a segment boundary is
 * pushed right before part 0 of the next segment, when the packager learns the segment ended).
 */
export class StreamPusher {
  private readonly seq = new Map<string, number>();
  private msn = 0;
  private part = 0;
  private segmentCursor = 0;
  private stopped = false;
  readonly partsPerSegment: number;

  constructor(
    private readonly baseUrl: string,
    private readonly streamId: string,
    private readonly token: string,
    private readonly feeds: RenditionFeed[],
    private readonly timing: { targetDuration: number; partTarget: number; segmentDuration: number },
  ) {
    const counts = new Set(feeds.flatMap((f) => f.segments.map((s) => s.length)));
    if (counts.size !== 1) throw new Error("every rendition must have the same number of parts per segment");
    this.partsPerSegment = [...counts][0]!;
  }

  private async send(method: string, path: string, headers: Record<string, string>, body?: Uint8Array): Promise<void> {
    const res = await request(`${this.baseUrl}${path}`, method, { authorization: `Bearer ${this.token}`, ...headers }, body);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} → ${res.status} ${res.text.slice(0, 300)}`);
  }

  private nextSeq(rendition: string): string {
    const n = (this.seq.get(rendition) ?? 0) + 1;
    this.seq.set(rendition, n);
    return String(n);
  }

  async announce(): Promise<void> {
    const manifest: StreamManifest = { ...this.timing, renditions: this.feeds.map((f) => f.rendition) };
    await this.send("PUT", pushPaths.manifest(this.streamId), { "content-type": "application/json" }, new TextEncoder().encode(JSON.stringify(manifest)));
    for (const f of this.feeds) await this.send("PUT", pushPaths.init(this.streamId, f.rendition.name, 0), { "content-type": "video/mp4" }, f.init);
  }

  /** Pushes the next part of every rendition (renditions in parallel, as the node's per-rendition queues do). */
  async pushNextPart(): Promise<PushedPart> {
    const { msn, part } = this;
    const startMs = monoMs();
    const wall = new Date();
    await Promise.all(
      this.feeds.map(async (f) => {
        const segment = f.segments[this.segmentCursor % f.segments.length]!;
        const p = segment[part]!;
        const name = f.rendition.name;
        if (part === 0 && msn > 0) {
          const previous = f.segments[(this.segmentCursor - 1 + f.segments.length) % f.segments.length]!;
          const duration = previous.reduce((a, x) => a + x.duration, 0);
          await this.send("POST", pushPaths.segment(this.streamId, name, msn - 1), {
            [H.seq]: this.nextSeq(name),
            [H.segmentDuration]: duration.toFixed(6),
          });
        }
        await this.send(
          "PUT",
          pushPaths.part(this.streamId, name, msn, part),
          {
            "content-type": "video/iso.segment",
            [H.seq]: this.nextSeq(name),
            [H.partDuration]: p.duration.toFixed(6),
            ...(p.independent || f.rendition.type === "audio" ? { [H.independent]: "1" } : {}),
            ...(part === 0 ? { [H.programDateTime]: wall.toISOString(), [H.initVersion]: "0" } : {}),
          },
          p.bytes,
        );
      }),
    );
    const ackMs = monoMs();
    this.part++;
    if (this.part === this.partsPerSegment) {
      this.part = 0;
      this.msn++;
      this.segmentCursor++;
    }
    return { msn, part, startMs, ackMs };
  }

  /**
   * Pushes one part per `partTarget` on a fixed schedule (t0 + k·interval, so push time does not
   * accumulate drift) until stop() is called. Resolves when the loop has ended.
   */
  async runRealtime(onPart: (p: PushedPart) => void, onError: (err: unknown) => void): Promise<void> {
    const intervalMs = this.timing.partTarget * 1000;
    const t0 = monoMs();
    for (let k = 0; !this.stopped; k++) {
      await sleepUntil(t0 + k * intervalMs);
      if (this.stopped) break;
      try {
        onPart(await this.pushNextPart());
      } catch (err) {
        onError(err);
        return;
      }
    }
  }

  stop(): void {
    this.stopped = true;
  }

  async end(): Promise<void> {
    await this.send("POST", pushPaths.end(this.streamId), {}).catch(() => undefined);
  }
}
