/**
 * Test-only support for the core-origin unit tests (never imported by runtime code): an in-process
 * origin on a throw-away storage directory, a pusher that speaks the push protocol through
 * `app.request`, and tiny but valid fMP4 boxes so no ffmpeg or RTMP is needed.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterEach, beforeEach } from "vitest";
import { parseMediaPlaylist, type ParsedMediaPlaylist } from "../../shared/hls/index.ts";
import { fragment, initSegment, topLevel } from "./mp4-boxes.ts";
export { fragment, initSegment };
import { parseFragment, parseInitSegment, trackDefaults } from "../../shared/mp4/index.ts";
import { PUSH_HEADERS as H, pushPaths, type StreamManifest } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { LocalDirStorage } from "../../core-origin/store/storage-driver.ts";

export const NODE_SECRET = "core-origin-unit-test-secret-0123";

/** Worked numbers from RFC 8216bis §4.4.3.8 and Appendix B.1: TD 2 s, PART-TARGET 0.5 s, four parts per segment. */
export const TD = 2;
export const PT = 0.5;
export const PARTS = 4;
export const PDT0 = Date.UTC(2025, 0, 1, 12, 0, 0, 0);

export const MANIFEST: StreamManifest = {
  targetDuration: TD,
  partTarget: PT,
  segmentDuration: TD,
  renditions: [
    { name: "720p", type: "video", codecs: "avc1.64001f", bitrate: 3_000_000, width: 1280, height: 720, fps: 30 },
    { name: "360p", type: "video", codecs: "avc1.4d401e", bitrate: 800_000, width: 640, height: 360, fps: 30 },
    { name: "audio", type: "audio", codecs: "mp4a.40.2", bitrate: 128_000, language: "en", channels: 2 },
  ],
};

/** One video rendition only: the cheapest stream for tests about a single playlist. */
export const SINGLE: StreamManifest = { ...MANIFEST, renditions: [MANIFEST.renditions[1]!] };

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

/** A request body from bytes (fetch's types want an ArrayBuffer-backed view). */
export const asBody = (b: Uint8Array): Uint8Array<ArrayBuffer> => b as Uint8Array<ArrayBuffer>;

/** The bytes the pusher sends for a part unless told otherwise: unique per stream/rendition/msn/part. */
export const partBytes = (stream: string, rendition: string, msn: number, part: number, size = 256): Uint8Array =>
  fragment(`${stream}/${rendition}/${msn}.${part}`, size);

/** Files below `root`, relative, sorted. */
export const listFiles = async (root: string): Promise<string[]> => {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
};

/** LocalDirStorage that remembers every key written and lets a test wait for writes in flight. */
export class TrackingStorage extends LocalDirStorage {
  readonly keys: string[] = [];
  private readonly pending = new Set<Promise<unknown>>();

  override put(key: string, bytes: Uint8Array): Promise<void> {
    this.keys.push(key);
    const p = super.put(key, bytes);
    const tracked = p.catch(() => undefined).finally(() => this.pending.delete(tracked));
    this.pending.add(tracked);
    return p;
  }

  /** Resolves once every write started so far has settled (and the origin saw the result). */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await new Promise((r) => setImmediate(r));
  }
}

export interface TestOrigin {
  origin: Origin;
  /** The temp dir that holds the storage root and nothing else. */
  base: string;
  storageDir: string;
  storage: TrackingStorage;
  token: string;
  request(p: string, init?: RequestInit): Promise<Response>;
  /** GET + text, for playlists. */
  get(p: string, headers?: Record<string, string>): Promise<{ res: Response; text: string }>;
  playlist(p: string): Promise<ParsedMediaPlaylist>;
  close(): Promise<void>;
}

/** An origin on a temp dir. `dvrWindowS` defaults to 0 here (live window only); DVR tests pass one. */
export const startOrigin = async (o: { memorySegments?: number; playlistSegments?: number; dvrWindowS?: number } = {}): Promise<TestOrigin> => {
  const base = await mkdtemp(path.join(tmpdir(), "cascade-origin-unit-"));
  const storageDir = path.join(base, "store");
  const storage = new TrackingStorage(storageDir);
  const origin = createOrigin({
    host: "127.0.0.1",
    port: 0,
    nodeSecret: NODE_SECRET,
    storageDir,
    storage,
    memorySegments: o.memorySegments ?? 8,
    playlistSegments: o.playlistSegments ?? 15,
    dvrWindowS: o.dvrWindowS ?? 0,
    logger: pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" }),
  });
  const token = await signNodeToken(NODE_SECRET, "unit-node");
  const request = async (p: string, init?: RequestInit) => origin.app.request(p, init);
  const get = async (p: string, headers: Record<string, string> = {}) => {
    const res = await request(p, { headers });
    return { res, text: await res.text() };
  };
  return {
    origin,
    base,
    storageDir,
    storage,
    token,
    request,
    get,
    async playlist(p) {
      const { res, text } = await get(p);
      if (res.status !== 200) throw new Error(`GET ${p} → ${res.status} ${text}`);
      return parseMediaPlaylist(text);
    },
    async close() {
      await storage.idle();
      await rm(base, { recursive: true, force: true });
    },
  };
};

/**
 * A fresh origin and a pusher for `streamId` around every test of the file: started (and, with
 * `announce`, given the manifest) before each test, closed after it; `use` hands both to the file's
 * variables. A file's own later afterEach runs before this close (vitest runs after-hooks as a stack).
 */
export const originPerTest = (
  streamId: string,
  o: { manifest?: StreamManifest; announce?: boolean },
  use: (t: TestOrigin, p: Pusher) => void,
): void => {
  let t: TestOrigin | null = null;
  beforeEach(async () => {
    t = await startOrigin();
    const p = new Pusher(t, streamId, o.manifest);
    use(t, p);
    if (o.announce ?? true) await p.announce();
  });
  afterEach(async () => {
    await t?.close();
  });
};

export interface PartOptions {
  bytes?: Uint8Array;
  duration?: number;
  /** Explicit Cascade-Seq; by default the next one for the rendition. */
  seq?: number;
  independent?: boolean;
  /** PROGRAM-DATE-TIME (epoch ms); sent on part 0 by default. */
  pdtMs?: number | null;
  initVersion?: number;
  resync?: boolean;
  discontinuity?: boolean;
  headers?: Record<string, string>;
}

export interface SegmentOptions {
  seq?: number;
  duration?: number;
  peakBitrate?: number;
  averageBitrate?: number;
  /** Push a gap segment with this PROGRAM-DATE-TIME. */
  gapPdtMs?: number;
}

/** Plays a transcoder node: manifest, init, parts and segment boundaries with per-rendition sequence numbers. */
export class Pusher {
  private readonly seqs = new Map<string, number>();
  /** Bytes pushed per part URI (`<rendition>/part<msn>.<part>.m4s`), to compare with what is served. */
  readonly pushed = new Map<string, Uint8Array>();

  constructor(
    readonly t: TestOrigin,
    readonly stream: string,
    readonly manifest: StreamManifest = MANIFEST,
  ) {}

  get renditions(): string[] {
    return this.manifest.renditions.map((r) => r.name);
  }

  auth(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.t.token}`, ...extra };
  }

  nextSeq(rendition: string): number {
    return (this.seqs.get(rendition) ?? 0) + 1;
  }

  putManifest(body: unknown = this.manifest): Promise<Response> {
    const bytes = typeof body === "string" ? text(body) : text(JSON.stringify(body));
    return this.t.request(pushPaths.manifest(this.stream), { method: "PUT", headers: this.auth({ "content-type": "application/json" }), body: asBody(bytes) });
  }

  putInit(rendition: string, version = 0, bytes: Uint8Array = initSegment(rendition)): Promise<Response> {
    return this.t.request(pushPaths.init(this.stream, rendition, version), { method: "PUT", headers: this.auth({ "content-type": "video/mp4" }), body: asBody(bytes) });
  }

  async announce(): Promise<void> {
    await expectOk(this.putManifest(), "manifest");
    for (const r of this.renditions) await expectOk(this.putInit(r), `init ${r}`);
  }

  async part(rendition: string, msn: number, part: number, o: PartOptions = {}): Promise<Response> {
    const seq = o.seq ?? this.nextSeq(rendition);
    const type = this.manifest.renditions.find((r) => r.name === rendition)?.type;
    const bytes = o.bytes ?? partBytes(this.stream, rendition, msn, part);
    const pdtMs = o.pdtMs === undefined ? (part === 0 ? PDT0 + msn * TD * 1000 : null) : o.pdtMs;
    const headers = this.auth({
      "content-type": "video/iso.segment",
      [H.seq]: String(seq),
      [H.partDuration]: String(o.duration ?? PT),
      ...((o.independent ?? (part === 0 || type === "audio")) ? { [H.independent]: "1" } : {}),
      ...(pdtMs !== null ? { [H.programDateTime]: new Date(pdtMs).toISOString() } : {}),
      ...(part === 0 || o.initVersion !== undefined ? { [H.initVersion]: String(o.initVersion ?? 0) } : {}),
      ...(o.resync ? { [H.resync]: "1" } : {}),
      ...(o.discontinuity ? { [H.discontinuity]: "1" } : {}),
      ...o.headers,
    });
    const res = await this.t.request(pushPaths.part(this.stream, rendition, msn, part), { method: "PUT", headers, body: asBody(bytes) });
    if (res.ok) {
      this.seqs.set(rendition, Math.max(seq, this.seqs.get(rendition) ?? 0));
      if (!this.pushed.has(`${rendition}/part${msn}.${part}.m4s`)) this.pushed.set(`${rendition}/part${msn}.${part}.m4s`, bytes);
    }
    return res;
  }

  async segment(rendition: string, msn: number, o: SegmentOptions = {}): Promise<Response> {
    const seq = o.seq ?? this.nextSeq(rendition);
    const headers = this.auth({
      [H.seq]: String(seq),
      [H.segmentDuration]: String(o.duration ?? TD),
      ...(o.peakBitrate !== undefined ? { [H.peakBitrate]: String(o.peakBitrate) } : {}),
      ...(o.averageBitrate !== undefined ? { [H.averageBitrate]: String(o.averageBitrate) } : {}),
      ...(o.gapPdtMs !== undefined ? { [H.gap]: "1", [H.programDateTime]: new Date(o.gapPdtMs).toISOString() } : {}),
    });
    const res = await this.t.request(pushPaths.segment(this.stream, rendition, msn), { method: "POST", headers });
    if (res.ok) this.seqs.set(rendition, Math.max(seq, this.seqs.get(rendition) ?? 0));
    return res;
  }

  /** Part `part` of segment `msn` on every rendition (or the ones given). */
  async pushPart(msn: number, part: number, renditions = this.renditions): Promise<void> {
    for (const r of renditions) await expectOk(this.part(r, msn, part), `part ${r} ${msn}.${part}`);
  }

  async completeSegment(msn: number, renditions = this.renditions, o: SegmentOptions = {}): Promise<void> {
    for (const r of renditions) await expectOk(this.segment(r, msn, o), `segment ${r} ${msn}`);
  }

  /** All parts of segment `msn` and its boundary, on every rendition. */
  async pushSegment(msn: number, renditions = this.renditions, o: SegmentOptions = {}): Promise<void> {
    for (let p = 0; p < PARTS; p++) await this.pushPart(msn, p, renditions);
    await this.completeSegment(msn, renditions, o);
  }

  /** Segments first..last (inclusive), complete. */
  async pushSegments(first: number, last: number, renditions = this.renditions): Promise<void> {
    for (let msn = first; msn <= last; msn++) await this.pushSegment(msn, renditions);
  }

  endRendition(rendition: string): Promise<Response> {
    return this.t.request(pushPaths.renditionEnd(this.stream, rendition), { method: "POST", headers: this.auth() });
  }

  end(): Promise<Response> {
    return this.t.request(pushPaths.end(this.stream), { method: "POST", headers: this.auth() });
  }
}

export const expectOk = async (res: Promise<Response> | Response, what: string): Promise<unknown> => {
  const r = await res;
  const body = await r.text();
  if (!r.ok) throw new Error(`${what}: HTTP ${r.status} ${body}`);
  return JSON.parse(body) as unknown;
};

/** A promise plus a flag that tells whether it has settled yet. */
export const track = <T>(p: Promise<T>): { promise: Promise<T>; settled: () => boolean } => {
  let done = false;
  const promise = p.finally(() => (done = true));
  return { promise, settled: () => done };
};

/** Lets pending I/O and microtasks run (a few event-loop turns), without depending on wall time. */
export const turns = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

export const bytesOf = async (res: Response): Promise<Uint8Array> => new Uint8Array(await res.arrayBuffer());

export const readJson = async (res: Response): Promise<Record<string, unknown>> => (await res.json()) as Record<string, unknown>;

export interface RealFmp4 {
  init: Uint8Array;
  parts: { bytes: Uint8Array; duration: number; independent: boolean }[];
}

/**
 * Real media: a 320x180 test pattern from the system ffmpeg (libx264, 2 s GOP at 30 fps, 0.5 s
 * fragments), split with the shared box reader into the init segment and one part per fragment.
 */
export const encodeRealFmp4 = async (seconds = 4): Promise<RealFmp4> => {
  const dir = await mkdtemp(path.join(tmpdir(), "cascade-origin-fmp4-"));
  try {
    const out = path.join(dir, "out.mp4");
    execFileSync(
      process.env.FFMPEG_PATH ?? "ffmpeg",
      [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-f", "lavfi", "-i", "testsrc=size=320x180:rate=30", "-t", String(seconds),
        "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "60", "-keyint_min", "60", "-sc_threshold", "0",
        "-f", "mp4", "-movflags", "frag_keyframe+empty_moov+default_base_moof", "-frag_duration", "500000", out,
      ],
      { stdio: "pipe" },
    );
    const bytes = new Uint8Array(await readFile(out));
    const boxes = topLevel(bytes);
    const firstMoof = boxes.findIndex((b) => b.type === "moof");
    const init = bytes.slice(0, boxes[firstMoof]!.start);
    const info = parseInitSegment(init);
    const defaults = trackDefaults(info);
    const timescale = info.tracks[0]!.timescale;
    const parts: RealFmp4["parts"] = [];
    for (let i = firstMoof; i + 1 < boxes.length; i += 2) {
      const moof = boxes[i]!;
      const mdat = boxes[i + 1]!;
      if (moof.type !== "moof" || mdat.type !== "mdat") continue;
      const chunk = bytes.slice(moof.start, mdat.end);
      const traf = parseFragment(chunk, defaults).tracks[0]!;
      parts.push({ bytes: chunk, duration: traf.duration / timescale, independent: traf.samples[0]?.isSync ?? false });
    }
    return { init, parts };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
};

/** The value of one sample in the origin's Prometheus text (0 when the series does not exist yet). */
export const metricValue = async (t: TestOrigin, name: string, labels: Record<string, string> = {}): Promise<number> => {
  const body = await (await t.request("/metrics")).text();
  for (const line of body.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(m[3]);
  }
  return 0;
};
