/**
 * Shared pieces of the fault-injection tests (test/faults/): the saga stack (real origin and
 * transcoder in this process, one edge in workerd via `wrangler dev` serving the control plane
 * with D1 and StreamControl), a streamer account with a stream, a playlist watcher that plays the
 * stream through the edge (polls the media playlist, downloads every new segment) and a counting
 * proxy for origin requests. Everything at 320x180 so it runs on a 2-core CI machine.
 */
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { createTranscoderNode, type TranscoderNode } from "../../gpu-transcoder/node.ts";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseLadderSpec } from "../../shared/ladder.ts";
import { parseMediaPlaylist, type ParsedMediaPlaylist } from "../../shared/hls/index.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { NODE_SECRET, sleep } from "../live-path/harness.ts";

export const ROOT = path.resolve(import.meta.dirname, "../..");
const JWT_SECRET = "jwt-secret-for-the-fault-tests-0123456789";

/** A pino logger that also keeps its JSON records (the tests read `ffmpeg_started` pids and reasons from them). */
export const capturingLogger = () => {
  const records: Array<Record<string, unknown>> = [];
  const echo = process.env.CASCADE_TEST_LOG;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) {
        if (!line.trim()) continue;
        try {
          records.push(JSON.parse(line) as Record<string, unknown>);
          if (records.length > 5000) records.splice(0, 1000);
        } catch {
          // not JSON
        }
        if (echo) process.stderr.write(`${line}\n`);
      }
      done();
    },
  });
  return { logger: pino({ level: "info" }, sink), records };
};

export interface SagaStackOptions {
  /** Ladder spec (shared/ladder.ts), e.g. `180p:320x180@30:400:main`. */
  ladder: string;
  graceMs: number;
  minSpeed?: number;
  slowPeriodMs?: number;
  ingestTimeoutMs?: number;
  /** More edge vars (SAGA_MONITOR_INTERVAL_S …). */
  edgeVars?: Record<string, string>;
}

export interface SagaStack {
  origin: Origin;
  node: TranscoderNode;
  edge: EdgeProcess;
  originUrl: string;
  rtmpUrl: string;
  records: Array<Record<string, unknown>>;
  api<T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** Origin + transcoder (this process) + one edge with the control plane, as saga-e2e runs them. */
export const startSagaStack = async (o: SagaStackOptions): Promise<SagaStack> => {
  const stateDir = mkdtempSync(path.join(tmpdir(), "cascade-fault-"));
  const storageDir = mkdtempSync(path.join(tmpdir(), "cascade-fault-origin-"));
  const { logger, records } = capturingLogger();
  const origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: NODE_SECRET, storageDir, memorySegments: 8, playlistSegments: 15, logger: logger.child({ c: "origin" }) });
  const { port: originPort } = await origin.listen();
  const originUrl = `http://127.0.0.1:${originPort}`;
  const edgePort = await freePort();
  await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
  const edge = startEdgeProcess({
    index: 1,
    port: edgePort,
    originUrl,
    adminToken: EDGE_ADMIN_TOKEN,
    stateDir,
    root: ROOT,
    secrets: { JWT_SECRET, NODE_SECRET },
    vars: {
      EDGE_URLS: `http://127.0.0.1:${edgePort}`,
      SAGA_MONITOR_INTERVAL_S: "2",
      SAGA_WARMUP_TIMEOUT_S: "60",
      RECONNECT_GRACE_S: String(o.graceMs / 1000),
      ...o.edgeVars,
    },
  });
  let node: TranscoderNode | null = null;
  try {
    await edge.ready(90_000);
    node = await createTranscoderNode({
      nodeId: "fault-node",
      rtmpHost: "127.0.0.1",
      rtmpPort: 0,
      controlHost: "127.0.0.1",
      controlPort: 0,
      origins: [originUrl],
      nodeSecret: NODE_SECRET,
      streamKeys: null,
      streamKeysFile: null,
      controlPlaneUrl: edge.url,
      slots: 2,
      ladder: parseLadderSpec(o.ladder),
      partTarget: 0.5,
      segmentDuration: 2,
      graceMs: o.graceMs,
      ...(o.ingestTimeoutMs !== undefined ? { ingestTimeoutMs: o.ingestTimeoutMs } : {}),
      minSpeed: o.minSpeed ?? 0,
      slowPeriodMs: o.slowPeriodMs ?? 600_000,
      thumbnailInterval: 0,
      logger: logger.child({ c: "node" }),
    });
  } catch (err) {
    await edge.stop();
    await origin.close();
    throw err;
  }
  const { rtmpPort } = await node.listen();
  // The node registers with the control plane on its first heartbeat, right after listen().
  await sleep(2_000);
  const api = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${edge.url}${p}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(15_000),
    });
    return { status: res.status, body: (await res.json()) as T };
  };
  const n = node;
  return {
    origin,
    node: n,
    edge,
    originUrl,
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    records,
    api,
    async stop() {
      await n.close();
      await edge.stop();
      await origin.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
};

/** Signs up a streamer and creates a stream: its id, key and the owner's token. */
export const createStream = async (stack: Pick<SagaStack, "api">, label: string): Promise<{ id: string; key: string; token: string }> => {
  const username = `${label}_${Date.now().toString(36)}`.slice(0, 24);
  const signUp = await stack.api<{ token: string }>("POST", "/api/v1/users", { username, password: "correct horse battery" });
  if (signUp.status !== 201) throw new Error(`sign up: ${signUp.status} ${JSON.stringify(signUp.body)}`);
  const created = await stack.api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: `Fault ${label}`, category: "gaming" }, signUp.body.token);
  if (created.status !== 201) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body)}`);
  return { id: created.body.stream_id, key: created.body.stream_key, token: signUp.body.token };
};

export const streamStatus = async (stack: Pick<SagaStack, "api">, id: string): Promise<string> => (await stack.api<{ status: string }>("GET", `/api/v1/streams/${id}`)).body.status;

export const streamEvents = async (stack: Pick<SagaStack, "api">, id: string, token: string): Promise<Array<{ event_type: string; severity: string; message: string; details?: unknown }>> =>
  (await stack.api<{ events: Array<{ event_type: string; severity: string; message: string; details?: unknown }> }>("GET", `/api/v1/streams/${id}/events?limit=100`, undefined, token)).body.events ?? [];

/** Sends a signal to a process, ignoring one that is already gone; true when it was delivered. */
export const signal = (pid: number | undefined, sig: NodeJS.Signals): boolean => {
  if (!pid) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
};

interface Observation {
  at: number;
  msn: number;
  parts: number;
}

/**
 * A player that reads one media playlist through the edge: polls it (plain reloads), downloads
 * every newly complete segment, and records when the stream advanced, which MSNs it saw, where
 * EXT-X-DISCONTINUITY and EXT-X-GAP were, and ENDLIST.
 */
export class PlaylistPlayer {
  readonly advances: Observation[] = [];
  readonly segments = new Map<number, { discontinuity: boolean; gap: boolean; bytes: number; status: number; duration: number; settled: boolean; error?: string }>();
  /** The most parts a segment (by MSN) was seen with, complete or not. */
  readonly partsSeen = new Map<number, number>();
  endList = false;
  errors = 0;
  last: ParsedMediaPlaylist | null = null;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(private readonly url: string) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    let lastKey = "";
    while (!this.stopped) {
      try {
        const res = await fetch(this.url, { signal: AbortSignal.timeout(5_000) });
        if (res.ok) {
          const p = parseMediaPlaylist(await res.text());
          this.last = p;
          const tail = p.segments.at(-1);
          if (tail) {
            const key = `${tail.msn}.${tail.parts.length}.${tail.uri ?? ""}`;
            if (key !== lastKey) {
              lastKey = key;
              this.advances.push({ at: Date.now(), msn: tail.msn, parts: tail.parts.length });
            }
          }
          for (const s of p.segments) {
            this.partsSeen.set(s.msn, Math.max(this.partsSeen.get(s.msn) ?? 0, s.parts.length));
            if (!s.uri || this.segments.has(s.msn)) continue;
            const entry: { discontinuity: boolean; gap: boolean; bytes: number; status: number; duration: number; settled: boolean; error?: string } = { discontinuity: s.discontinuity, gap: s.gap ?? false, bytes: 0, status: 0, duration: s.duration ?? 0, settled: false };
            this.segments.set(s.msn, entry);
            if (entry.gap) {
              entry.settled = true;
              continue;
            }
            const started = Date.now();
            try {
              const seg = await fetch(new URL(s.uri, this.url), { signal: AbortSignal.timeout(10_000) });
              entry.status = seg.status;
              entry.bytes = (await seg.arrayBuffer()).byteLength;
              entry.settled = true;
            } catch (err) {
              // Kept for the failure message: what went wrong, and after how long.
              entry.settled = true;
              entry.error = `${(err as Error).message} (cause ${String((err as { cause?: unknown }).cause ?? "none")}) after ${Date.now() - started} ms`;
              throw err;
            }
          }
          if (p.endList) this.endList = true;
        } else {
          await res.body?.cancel();
        }
      } catch {
        this.errors++;
      }
      await sleep(250);
    }
  }

  /**
   * Segments whose fetch has not finished yet. A check of every fetched segment's status waits for
   * these first: the newest segment is often still downloading when the playlist has moved on
   * (status 0 then meant "in flight", not "failed", and failed the publisher-drop case 2 runs in 6).
   */
  get fetching(): number {
    return [...this.segments.values()].filter((s) => !s.settled).length;
  }

  /** The highest MSN with at least one part or a whole segment. */
  get msn(): number {
    return this.advances.at(-1)?.msn ?? -1;
  }

  /** The longest time without any new part between `from` and `to` (ms). */
  longestStall(from: number, to: number): number {
    const points = [from, ...this.advances.map((a) => a.at).filter((t) => t > from && t < to), to];
    let worst = 0;
    for (let i = 1; i < points.length; i++) worst = Math.max(worst, points[i]! - points[i - 1]!);
    return worst;
  }

  /** What the player saw around `msn` (for failure messages). */
  describe(fromMsn: number): string {
    return JSON.stringify([...this.segments].filter(([m]) => m >= fromMsn).map(([m, s]) => ({ msn: m, ...s, partsSeen: this.partsSeen.get(m) ?? 0 })));
  }

  /** MSNs between the first and last seen segment (within the bounds) that never showed up in the playlist. */
  lostSegments(fromMsn = -Infinity, toMsn = Infinity): number {
    const msns = [...this.segments.keys()].filter((m) => m >= fromMsn && m <= toMsn).sort((a, b) => a - b);
    if (msns.length === 0) return 0;
    let lost = 0;
    for (let m = msns[0]!; m <= msns.at(-1)!; m++) if (!this.segments.has(m)) lost++;
    return lost;
  }

  /** EXT-X-GAP segments (no media: the rendition had nothing for that MSN) from `fromMsn` on. */
  gapSegments(fromMsn = -Infinity): Array<{ msn: number; duration: number }> {
    return [...this.segments.entries()].filter(([m, s]) => m >= fromMsn && s.gap).map(([msn, s]) => ({ msn, duration: s.duration }));
  }

  discontinuitiesAfter(msn: number): number[] {
    return [...this.segments.entries()].filter(([m, s]) => m > msn && s.discontinuity).map(([m]) => m);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/**
 * A forwarding proxy in front of the origin that counts requests by path + query (streamed through
 * both ways, so blocking playlist reloads and held-open parts behave as without it).
 */
export const startCountingProxy = async (target: string) => {
  const counts = new Map<string, number>();
  const t = new URL(target);
  const server = http.createServer((req, res) => {
    const key = req.url ?? "";
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const up = http.request({ host: t.hostname, port: t.port, method: req.method, path: key, headers: { ...req.headers, host: t.host } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    /** Requests whose path + query satisfies `match`. */
    count: (match: (url: string) => boolean): number => [...counts.entries()].filter(([k]) => match(k)).reduce((a, [, n]) => a + n, 0),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};
