/**
 * chat-delivery: how fast a stream's chat reaches its audience. N WebSocket clients (the `ws`
 * package, in separate load-generator processes: lib/chat-client-child.ts) sit in one chat room;
 * W of them are writers that together send R messages per second, each text carrying its send
 * time; every client records receive − send for every message and counts what it got. Measured
 * against Cascade's ChatRoom (one edge, `wrangler dev`/workerd, D1 migrated, writers signed up
 * through the API) and against a bare `ws` broadcast server (lib/chat-baseline-server.ts) with the
 * same clients in the same run. A second part runs the heaviest case once per coalescing window
 * (`CHAT_COALESCE_MS`) so the default can be chosen from figures.
 */
import { execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { applyEdgeMigrations, type EdgeProcess } from "../scripts/edge-process.ts";
import type { ChatConnect, ChatConnected, ChatProgress, ChatRun, ChatRunResult, FromChatClient, ToChatClient } from "./lib/chat-client-child.ts";
import { HIST_BUCKET_MS } from "./lib/chat-client-child.ts";
import { monoMs, sleep, sleepUntil } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN, startLoggedEdge, JWT_SECRET } from "./lib/edges.ts";
import { NODE_SECRET } from "./lib/origin-process.ts";
import { OUT_DIR, ROOT, TSX_EXEC_ARGV, forkTs, freePort, groupCpuSeconds, readCpuSeconds, spawnTracked, stopChild, waitForHttp } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envIntList, envNumber, envWords } from "./lib/settings.ts";
import { findWorker } from "./lib/workerd.ts";
import { countsText, fmt, ratio } from "./lib/stats.ts";
import { messageWaiter } from "./lib/child-message.ts";

const LABEL = "chat-delivery";
const PASSWORD = "bench chat writer password";
/** The room's rate limit is 20 messages per 30 s per user: a writer sends at most one message per this many ms (15 per 30 s). */
const WRITER_INTERVAL_MS = 2000;
/** After the last send, a phase waits until its messages stop arriving (Settings.quietMs), at most this long; later deliveries count as lost. */
const MAX_DRAIN_MS = 15_000;
/** Descriptor limit given to wrangler dev's processes when the clients go through its proxy. */
const PROXY_FD_LIMIT = 262_144;

interface Settings {
  clients: number[];
  rates: number[];
  windows: number[];
  /** Clients of the window comparison (default: the largest count). */
  sweepClients: number;
  seconds: number;
  warmSeconds: number;
  /** After connecting, wait at most this long for the server to go idle. */
  settleMs: number;
  /** A phase ends once none of its messages arrived for this long (or MAX_DRAIN_MS after the last send). */
  quietMs: number;
  processes: number;
  writers: number;
  /** Cascade's clients connect through wrangler's dev proxy (the port `npm start` prints) or straight to the Worker's workerd. */
  via: "proxy" | "direct";
  /** Development: run only one side (the figures need both). */
  servers: string[];
}

const settingsFor = (quick: boolean): Settings => {
  const clients = envIntList("BENCH_CHAT_CLIENTS", quick ? [200, 1000] : [1000, 5000, 10000], { min: 1, max: 100_000 }).sort((a, b) => a - b);
  const rates = envIntList("BENCH_CHAT_RATES", [20, 100], { min: 1, max: 10_000 });
  const maxRate = Math.max(...rates);
  const writers = envNumber("BENCH_CHAT_WRITERS", Math.ceil((maxRate * WRITER_INTERVAL_MS) / 1000), { min: 1, max: 10_000, integer: true });
  if (writers > clients[0]!) throw new Error(`chat-delivery: ${writers} writers do not fit into ${clients[0]} clients; raise the smallest BENCH_CHAT_CLIENTS or lower BENCH_CHAT_RATES`);
  return {
    clients,
    rates,
    windows: process.env.BENCH_CHAT_WINDOWS === "none" ? [] : envIntList("BENCH_CHAT_WINDOWS", [0, 50, 100], { min: 0, max: 10_000 }),
    servers: envWords("BENCH_CHAT_SERVERS", ["baseline", "cascade"], ["baseline", "cascade"]),
    sweepClients: envNumber("BENCH_CHAT_SWEEP_CLIENTS", clients.at(-1)!, { min: writers, max: 100_000, integer: true }),
    seconds: envNumber("BENCH_CHAT_SECONDS", quick ? 3 : 10, { min: 1, max: 600 }),
    warmSeconds: quick ? 1 : 2,
    settleMs: quick ? 5000 : 30_000,
    quietMs: quick ? 1000 : 1500,
    processes: envNumber("BENCH_CHAT_PROCESSES", 2, { min: 1, max: 16, integer: true }),
    writers,
    via: envWords("BENCH_CHAT_VIA", ["direct"], ["proxy", "direct"])[0] as Settings["via"],
  };
};

// ---------------------------------------------------------------------------------------------
// Load-generator processes

const nextMessage = messageWaiter<FromChatClient>("chat client");

class ClientPool {
  readonly children: ChildProcess[];
  connected = 0;
  private writersConnected = false;

  constructor(processes: number) {
    this.children = Array.from({ length: processes }, () => forkTs(path.join(ROOT, "bench/lib/chat-client-child.ts")));
  }

  /** Grows the room to `total` sockets (writers first), split evenly over the processes; logs progress. */
  async grow(url: string, total: number, writerQuery: (i: number) => string, writers: number, log: (line: string) => void): Promise<ChatConnected[]> {
    const add = total - this.connected;
    if (add <= 0) return [];
    const P = this.children.length;
    const writerList = this.writersConnected ? [] : Array.from({ length: writers }, (_, i) => ({ index: i, query: writerQuery(i) }));
    const progress = new Map<number, ChatProgress>();
    const start = performance.now();
    let lastLog = 0;
    const onProgress = (j: number) => (m: FromChatClient) => {
      if (m.type !== "progress") return;
      progress.set(j, m);
      if (performance.now() - lastLog < 5000) return;
      lastLog = performance.now();
      const sum = [...progress.values()].reduce((a, p) => ({ welcomed: a.welcomed + p.welcomed, failed: a.failed + p.failed }), { welcomed: 0, failed: 0 });
      log(`  connecting: ${sum.welcomed.toLocaleString("en")} of ${total.toLocaleString("en")} sockets welcomed${sum.failed ? `, ${sum.failed} failed` : ""} (${((performance.now() - start) / 1000).toFixed(0)} s)`);
    };
    const results = await Promise.all(
      this.children.map((child, j) => {
        const mine = writerList.filter((w) => w.index % P === j);
        const readers = Math.floor((add - writerList.length) / P) + (j < (add - writerList.length) % P ? 1 : 0);
        const msg: ChatConnect = { type: "connect", url, readers, writers: mine, concurrency: 64, timeoutMs: 60_000 };
        const done = nextMessage(child, "connected", 15 * 60_000, onProgress(j));
        child.send(msg satisfies ToChatClient);
        return done;
      }),
    );
    this.writersConnected = true;
    const welcomed = results.reduce((n, r) => n + r.welcomed, 0);
    this.connected = welcomed;
    const failed = results.reduce((n, r) => n + r.failed, 0);
    const refused = results.reduce((n, r) => n + r.writersRefused, 0);
    log(`  ${welcomed.toLocaleString("en")} sockets in the room (${((performance.now() - start) / 1000).toFixed(1)} s to connect ${add.toLocaleString("en")})${failed ? `; ${failed} failed: ${JSON.stringify(mergeCounts(results.map((r) => r.failures)))}` : ""}`);
    if (refused > 0) throw new Error(`${refused} writer sockets were welcomed with can_write false`);
    if (welcomed < total) throw new Error(`only ${welcomed} of ${total} sockets connected: ${JSON.stringify(mergeCounts(results.map((r) => r.failures)))}`);
    return results;
  }

  async run(run: ChatRun): Promise<ChatRunResult[]> {
    const timeout = run.t0 - monoMs() + (run.count / run.rate) * 1000 + run.maxDrainMs + 60_000;
    return Promise.all(
      this.children.map((child) => {
        const done = nextMessage(child, "result", timeout);
        child.send(run satisfies ToChatClient);
        return done;
      }),
    );
  }

  cpuSeconds(): number {
    return this.children.reduce((n, c) => n + (readCpuSeconds(c.pid!) ?? 0), 0);
  }

  async close(): Promise<void> {
    for (const c of this.children) if (c.connected) c.send({ type: "close" } satisfies ToChatClient);
    await Promise.all(this.children.map((c) => stopChild(c, 3000)));
  }
}

const mergeCounts = (maps: Array<Record<string, number>>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m)) out[k] = (out[k] ?? 0) + v;
  return out;
};

const spacedCounts = (m: Record<string, number>): string => countsText(m, { spaced: true });

// ---------------------------------------------------------------------------------------------
// Phases

interface PhaseResult {
  server: string;
  clients: number;
  rate: number;
  window: string;
  sent: number;
  refused: Record<string, number>;
  /** Messages delivered to at least one socket / to every socket. */
  deliveredToAny: number;
  deliveredToAll: number;
  deliveries: number;
  expected: number;
  deliveredPerSecond: number;
  offeredPerSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  latencySamples: number;
  /** Deliveries later than the histogram's range (counted as ≥ 60 s). */
  overflow: number;
  framesPerWsMessage: number;
  duplicates: number;
  stale: number;
  inversions: number;
  /** Distinct delivery orders among the sockets that got every delivered message. */
  orders: number;
  completeSockets: number;
  closed: Record<string, number>;
  sendFailures: number;
  serverCpuPercent: number;
  clientCpuPercent: number;
  /** Last delivery of the phase − its last scheduled send. */
  tailMs: number;
}

const percentileFromHist = (hist: Map<number, number>, overflow: number, total: number, p: number): number => {
  if (total === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (const b of [...hist.keys()].sort((a, c) => a - c)) {
    seen += hist.get(b)!;
    if (seen >= rank) return (b + 1) * HIST_BUCKET_MS;
  }
  return overflow > 0 ? Number.POSITIVE_INFINITY : Number.NaN;
};

interface PhaseSpec {
  server: string;
  window: string;
  clients: number;
  rate: number;
  firstSeq: number;
}

const runPhase = async (pool: ClientPool, spec: PhaseSpec, s: Settings, serverCpu: () => number, log: (line: string) => void, check: () => void): Promise<PhaseResult> => {
  const warmCount = Math.round(spec.rate * s.warmSeconds);
  const count = warmCount + Math.round(spec.rate * s.seconds);
  const t0 = monoMs() + 500;
  const windowStart = t0 + s.warmSeconds * 1000;
  const windowEnd = windowStart + s.seconds * 1000;
  const run: ChatRun = {
    type: "run",
    label: `${spec.server} ${spec.clients} ${spec.rate}`,
    t0,
    rate: spec.rate,
    count,
    warmCount,
    writers: s.writers,
    firstSeq: spec.firstSeq,
    quietMs: s.quietMs,
    maxDrainMs: MAX_DRAIN_MS,
  };
  const results = pool.run(run);
  await sleepUntil(windowStart);
  const c0 = { server: serverCpu(), client: pool.cpuSeconds(), at: monoMs() };
  await sleepUntil(windowEnd);
  const c1 = { server: serverCpu(), client: pool.cpuSeconds(), at: monoMs() };
  const rs = await results;
  check();
  const cpuSecs = (c1.at - c0.at) / 1000;

  const received = new Array<number>(count).fill(0);
  for (const r of rs) r.received.forEach((n, k) => (received[k]! += n));
  const sent = rs.reduce((n, r) => n + r.sent.length, 0);
  const refused = mergeCounts(rs.map((r) => r.errors));
  const refusedCount = Object.values(refused).reduce((a, b) => a + b, 0);
  const deliveredToAny = received.filter((n) => n > 0).length;
  const deliveredToAll = received.filter((n) => n >= pool.connected).length;
  const deliveries = rs.reduce((n, r) => n + r.deliveries, 0);
  const hist = new Map<number, number>();
  for (const r of rs) for (const [b, n] of r.hist) hist.set(b, (hist.get(b) ?? 0) + n);
  const overflow = rs.reduce((n, r) => n + r.overflow, 0);
  const samples = [...hist.values()].reduce((a, b) => a + b, 0) + overflow;
  const orders = mergeCounts(rs.map((r) => r.orders));
  const complete = Object.entries(orders).filter(([k]) => Number(k.split(":")[0]) === deliveredToAny);
  const wsMessages = rs.reduce((n, r) => n + r.wsMessages, 0);
  const withMeasured = rs.filter((r) => r.measuredDeliveries > 0);
  const measuredSpan = withMeasured.length ? Math.max(...withMeasured.map((r) => r.measuredLastAt)) - Math.min(...withMeasured.map((r) => r.measuredFirstAt)) : 0;
  const result: PhaseResult = {
    server: spec.server,
    clients: spec.clients,
    rate: spec.rate,
    window: spec.window,
    sent,
    refused,
    deliveredToAny,
    deliveredToAll,
    deliveries,
    expected: (sent - refusedCount) * pool.connected,
    deliveredPerSecond: measuredSpan > 0 ? rs.reduce((n, r) => n + r.measuredDeliveries, 0) / (measuredSpan / 1000) : Number.NaN,
    offeredPerSecond: spec.rate * pool.connected,
    p50: percentileFromHist(hist, overflow, samples, 50),
    p90: percentileFromHist(hist, overflow, samples, 90),
    p99: percentileFromHist(hist, overflow, samples, 99),
    max: overflow > 0 ? Number.POSITIVE_INFINITY : ([...hist.keys()].reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY) + 1) * HIST_BUCKET_MS,
    latencySamples: samples,
    overflow,
    framesPerWsMessage: wsMessages > 0 ? deliveries / wsMessages : Number.NaN,
    duplicates: rs.reduce((n, r) => n + r.duplicates, 0),
    stale: rs.reduce((n, r) => n + r.stale, 0),
    inversions: rs.reduce((n, r) => n + r.inversions, 0),
    orders: complete.length,
    completeSockets: complete.reduce((n, [, v]) => n + v, 0),
    closed: mergeCounts(rs.map((r) => r.closed)),
    sendFailures: rs.reduce((n, r) => n + r.sendFailures, 0),
    serverCpuPercent: ((c1.server - c0.server) / cpuSecs) * 100,
    clientCpuPercent: ((c1.client - c0.client) / cpuSecs) * 100,
    tailMs: Math.max(...rs.map((r) => r.lastDeliveryAt)) - (t0 + ((count - 1) * 1000) / spec.rate),
  };
  log(
    `  ${spec.server}${spec.window ? ` (window ${spec.window})` : ""}, ${spec.clients.toLocaleString("en")} clients, ${spec.rate} msg/s: ` +
      `p50 ${fmt(result.p50, 1)} ms, p99 ${fmt(result.p99, 1)} ms, delivered ${fmt(result.deliveredPerSecond, 0)}/s of ${fmt(result.offeredPerSecond, 0)}/s offered, ` +
      `delivery ratio ${fmt(deliveryRatio(result) * 100, 2)} %, ${fmt(result.framesPerWsMessage, 1)} frames per WebSocket message, ` +
      `server CPU ${fmt(result.serverCpuPercent, 0)} %, clients CPU ${fmt(result.clientCpuPercent, 0)} %${problems(result) ? `; ${problems(result)}` : ""}`,
  );
  return result;
};

const deliveryRatio = (r: PhaseResult): number => (r.expected > 0 ? r.deliveries / r.expected : Number.NaN);

const problems = (r: PhaseResult): string => {
  const out: string[] = [];
  if (Object.keys(r.refused).length) out.push(`refused: ${spacedCounts(r.refused)}`);
  const lost = r.sent - Object.values(r.refused).reduce((a, b) => a + b, 0) - r.deliveredToAny;
  if (lost > 0) out.push(`${lost} messages reached nobody`);
  if (r.deliveredToAll < r.deliveredToAny) out.push(`${r.deliveredToAny - r.deliveredToAll} messages missed some sockets`);
  if (r.tailMs > 2000) out.push(`last delivery ${fmt(r.tailMs / 1000, 1)} s after the last send${r.tailMs >= MAX_DRAIN_MS - 1000 ? " (still delivering when the drain ended)" : ""}`);
  if (r.overflow) out.push(`${r.overflow} deliveries later than 60 s`);
  if (r.duplicates) out.push(`${r.duplicates} duplicates`);
  if (r.stale) out.push(`${r.stale} late frames of the previous phase`);
  if (r.sendFailures) out.push(`${r.sendFailures} sends failed`);
  if (Object.keys(r.closed).length) out.push(`sockets closed: ${spacedCounts(r.closed)}`);
  if (r.orders > 1) out.push(`${r.orders} different delivery orders among ${r.completeSockets} complete sockets`);
  return out.join("; ");
};

// ---------------------------------------------------------------------------------------------
// Servers

interface ChatServer {
  name: string;
  /** `ws://…/api/v1/streams/<id>/chat` */
  url: string;
  writerQuery: (i: number) => string;
  cpuSeconds(): number;
  /** Throws if the server died. */
  check(): void;
  stop(): Promise<void>;
}

const startBaseline = async (): Promise<ChatServer> => {
  const port = await freePort();
  const logFile = path.join(OUT_DIR, `${LABEL}-baseline.log`);
  const fd = openSync(logFile, "w");
  const child = spawnTracked(process.execPath, [...TSX_EXEC_ARGV, "bench/lib/chat-baseline-server.ts"], { env: { ...process.env, BENCH_CHAT_BASELINE_PORT: String(port) }, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  await waitForHttp(`http://127.0.0.1:${port}/healthz`, child);
  return {
    name: "baseline",
    url: `ws://127.0.0.1:${port}/api/v1/streams/bench/chat`,
    writerQuery: (i) => `user=bench_w${i}`,
    cpuSeconds: () => readCpuSeconds(child.pid!) ?? Number.NaN,
    check() {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`the baseline server exited (${child.exitCode ?? child.signalCode}); see ${path.relative(ROOT, logFile)}`);
    },
    stop: () => stopChild(child),
  };
};

/**
 * wrangler's dev proxy holds ~6 descriptors per proxied WebSocket (its workerd) and ~2 more in
 * wrangler's node process: 10,000 clients need far more than a usual `ulimit -n`. Raises the limit
 * of every process of the edge's group (`prlimit`, needs root or CAP_SYS_RESOURCE); warns if it cannot.
 */
const raiseFdLimits = (pgid: number, log: (line: string) => void): void => {
  const pids = readdirSync("/proc").filter((e) => {
    if (!/^\d+$/.test(e)) return false;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]) === pgid;
    } catch {
      return false;
    }
  });
  const failed: string[] = [];
  for (const pid of pids) {
    try {
      execFileSync("prlimit", ["--pid", pid, `--nofile=${PROXY_FD_LIMIT}:${PROXY_FD_LIMIT}`], { stdio: "ignore" });
    } catch (err) {
      // A process that exited meanwhile does not matter; one that is still there keeps its limit.
      if (alive(Number(pid))) failed.push(`${pid}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  if (failed.length === 0) log(`  raised the descriptor limit of wrangler dev's processes to ${PROXY_FD_LIMIT.toLocaleString("en")} (its proxy needs ~6 per socket)`);
  else log(`  warning: could not raise wrangler dev's descriptor limit (${failed.join("; ")}); through its proxy (~6 descriptors per socket) more than ~3,000 clients fail with EMFILE`);
};

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

interface CascadeEdge extends ChatServer {
  apiUrl: string;
}

/** One edge (`wrangler dev`), its D1 migrated, with `window` as CHAT_COALESCE_MS (null: the Worker's default). */
const startCascade = async (stateDir: string, window: number | null, streamId: () => string, tokens: () => string[], via: Settings["via"], log: (line: string) => void): Promise<CascadeEdge> => {
  const port = await freePort();
  const logFile = path.join(OUT_DIR, `${LABEL}-edge${window === null ? "" : `-window-${window}`}.log`);
  const edge: EdgeProcess = startLoggedEdge({
    index: 1,
    port,
    originUrl: "http://127.0.0.1:9",
    adminToken: EDGE_ADMIN_TOKEN,
    stateDir,
    root: ROOT,
    secrets: { JWT_SECRET, NODE_SECRET },
    vars: window === null ? {} : { CHAT_COALESCE_MS: String(window) },
  }, logFile);
  let stopping = false;
  let gone: string | null = null;
  edge.child.once("exit", (code, signal) => {
    if (!stopping) gone = `the edge exited (${code ?? signal}) during the benchmark; see ${path.relative(ROOT, logFile)}`;
  });
  log(`starting the edge (wrangler dev / workerd) at ${edge.url}${window === null ? "" : ` with CHAT_COALESCE_MS=${window}`}`);
  await edge.ready(120_000);
  const pgid = edge.child.pid!;
  if (via === "proxy") raiseFdLimits(pgid, log);
  const worker = await findWorker(pgid, port);
  const wsPort = via === "direct" ? worker.port : port;
  if (via === "direct") log(`  clients connect to the Worker's workerd directly (port ${wsPort}), not through wrangler's dev proxy (port ${port})`);
  return {
    name: "Cascade",
    apiUrl: edge.url,
    get url() {
      return `ws://127.0.0.1:${wsPort}/api/v1/streams/${streamId()}/chat`;
    },
    writerQuery: (i) => `token=${tokens()[i]}`,
    cpuSeconds: () => groupCpuSeconds(pgid),
    check() {
      if (gone) throw new Error(gone);
      // wrangler dev replaces the Worker's workerd (dropping every socket) when a file under edge/ or wrangler.toml changes.
      if (!alive(worker.pid)) throw new Error(`wrangler dev reloaded the Worker during the benchmark (a file under edge/ or wrangler.toml changed), which drops every chat socket; see ${path.relative(ROOT, logFile)}`);
    },
    async stop() {
      stopping = true;
      await edge.stop();
    },
  };
};

/**
 * Waits until the server's processes are idle (under a quarter of a core over one second, at most
 * `maxMs`): after thousands of handshakes wrangler dev is still relaying their request logs from the
 * Worker's inspector for a while, which would compete with the first phase.
 */
const settle = async (server: ChatServer, maxMs: number, log: (line: string) => void): Promise<void> => {
  const start = monoMs();
  for (;;) {
    const c0 = server.cpuSeconds();
    await sleep(1000);
    const busy = server.cpuSeconds() - c0;
    if (busy < 0.25) break;
    if (monoMs() - start > maxMs) {
      log(`  the server still uses ${fmt(busy * 100, 0)} % CPU ${fmt(maxMs / 1000, 0)} s after connecting; measuring anyway`);
      return;
    }
  }
  if (monoMs() - start > 1500) log(`  the server went idle ${fmt((monoMs() - start) / 1000, 0)} s after the last handshake`);
};

const api = async <T>(base: string, method: string, p: string, body: unknown, token?: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as T };
};

/** `count` writer accounts (and their tokens) through `POST /api/v1/users`, `batch` sign-ups at a time (PBKDF2 runs in the Worker). */
const signUpWriters = async (base: string, count: number, batch: number, log: (line: string) => void): Promise<string[]> => {
  const tokens: string[] = [];
  const start = performance.now();
  const stamp = Date.now().toString(36);
  for (let i = 0; i < count; i += batch) {
    const part = await Promise.all(
      Array.from({ length: Math.min(batch, count - i) }, async (_, j) => {
        const r = await api<{ token?: string }>(base, "POST", "/api/v1/users", { username: `cw_${stamp}_${i + j}`, password: PASSWORD });
        if (r.status !== 201 || !r.body.token) throw new Error(`sign-up of writer ${i + j} failed: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        return r.body.token;
      }),
    );
    tokens.push(...part);
  }
  log(`signed up ${count} writers through the API in ${((performance.now() - start) / 1000).toFixed(1)} s`);
  return tokens;
};

// ---------------------------------------------------------------------------------------------

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  log(
    `clients ${s.clients.map((n) => n.toLocaleString("en")).join(", ")} × ${s.rates.join(", ")} msg/s, ${s.writers} writers, ${s.warmSeconds} s warm-up + ${s.seconds} s per phase, ` +
      `${s.processes} client processes; windows ${s.windows.join(", ")} ms at ${s.sweepClients.toLocaleString("en")} clients × ${Math.max(...s.rates)} msg/s`,
  );
  const phases: PhaseResult[] = [];
  const sweep: PhaseResult[] = [];
  let seq = 0;

  // Matrix: the same clients grow the room through the client counts; every rate at each count.
  const matrix = async (server: ChatServer, window: string) => {
    const pool = new ClientPool(s.processes);
    try {
      for (const n of s.clients) {
        log(`${server.name}: growing the room to ${n.toLocaleString("en")} clients`);
        server.check();
        await pool.grow(server.url, n, server.writerQuery, s.writers, log);
        await settle(server, s.settleMs, log);
        server.check();
        for (const rate of s.rates) {
          const r = await runPhase(pool, { server: server.name, window, clients: n, rate, firstSeq: seq }, s, () => server.cpuSeconds(), log, () => server.check());
          seq += r.sent + 1000;
          phases.push(r);
          await sleep(500);
        }
      }
    } finally {
      await pool.close();
    }
  };

  // Baseline.
  if (s.servers.includes("baseline")) {
    const baseline = await startBaseline();
    try {
      log(`baseline: bare ws broadcast server at ${baseline.url}`);
      await matrix(baseline, "");
    } finally {
      await baseline.stop();
    }
  }

  // Cascade.
  const cascade = async () => {
    const parent = path.join(OUT_DIR, "edge-state");
    mkdirSync(parent, { recursive: true });
    for (const old of readdirSync(parent)) if (old.startsWith(`${LABEL}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
    const stateDir = mkdtempSync(path.join(parent, `${LABEL}-`));
    let tokens: string[] = [];
    let streamer = "";
    let streamId = "";
    const newStream = async (base: string, title: string) => {
      const r = await api<{ stream_id?: string }>(base, "POST", "/api/v1/streams", { title }, streamer);
      if (r.status !== 201 || !r.body.stream_id) throw new Error(`create stream: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      streamId = r.body.stream_id;
    };
    try {
      await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
      let edge = await startCascade(stateDir, null, () => streamId, () => tokens, s.via, log);
      try {
        const owner = await api<{ token?: string }>(edge.apiUrl, "POST", "/api/v1/users", { username: `cs_${Date.now().toString(36)}`, password: PASSWORD });
        if (owner.status !== 201 || !owner.body.token) throw new Error(`sign-up of the streamer failed: ${owner.status} ${JSON.stringify(owner.body).slice(0, 300)}`);
        streamer = owner.body.token;
        tokens = await signUpWriters(edge.apiUrl, s.writers, 8, log);
        await newStream(edge.apiUrl, "chat-delivery benchmark");
        await matrix(edge, "default");
      } finally {
        await edge.stop();
      }

      // The coalescing windows: the heaviest case once per window, a fresh edge (same D1) and a fresh room each.
      const rate = Math.max(...s.rates);
      for (const w of s.windows) {
        // A reload of the Worker (someone saved a file under edge/) drops every socket: that window is measured once more.
        for (let attempt = 1; ; attempt++) {
          edge = await startCascade(stateDir, w, () => streamId, () => tokens, s.via, log);
          const pool = new ClientPool(s.processes);
          try {
            await newStream(edge.apiUrl, `chat-delivery window ${w}`);
            log(`Cascade, CHAT_COALESCE_MS=${w}: ${s.sweepClients.toLocaleString("en")} clients`);
            await pool.grow(edge.url, s.sweepClients, edge.writerQuery, s.writers, log);
            await settle(edge, s.settleMs, log);
            edge.check();
            const r = await runPhase(pool, { server: "Cascade", window: `${w} ms`, clients: s.sweepClients, rate, firstSeq: seq }, s, () => edge.cpuSeconds(), log, () => edge.check());
            seq += r.sent + 1000;
            sweep.push(r);
            break;
          } catch (err) {
            // Sockets refused while connecting may be the same reload.
            const reloaded = (e: unknown) => String((e as Error)?.message).includes("reloaded the Worker");
            let why = err;
            try {
              edge.check();
            } catch (e) {
              why = reloaded(e) ? e : err;
            }
            if (attempt >= 2 || !reloaded(why)) throw err;
            log(`  ${(why as Error).message}; measuring CHAT_COALESCE_MS=${w} again`);
            seq += 100_000;
          } finally {
            await pool.close();
            await edge.stop();
          }
        }
      }
    } finally {
      rmSync(stateDir, { recursive: true, force: true });
    }
  };
  if (s.servers.includes("cascade")) await cascade();

  // Report.
  const figures: Figure[] = [];
  for (const n of s.clients) {
    for (const rate of s.rates) {
      const c = phases.find((p) => p.server === "Cascade" && p.clients === n && p.rate === rate);
      const b = phases.find((p) => p.server === "baseline" && p.clients === n && p.rate === rate);
      if (!c || !b) continue;
      const at = `${n.toLocaleString("en")} clients, ${rate} msg/s`;
      figures.push(
        { figure: `chat delivery latency p50 (ms), ${at}`, cascade: fmt(c.p50, 1), baseline: fmt(b.p50, 1), ratio: ratio(c.p50, b.p50) },
        { figure: `chat delivery latency p99 (ms), ${at}`, cascade: fmt(c.p99, 1), baseline: fmt(b.p99, 1), ratio: ratio(c.p99, b.p99) },
        { figure: `delivered messages/s, ${at} (offered ${fmt(c.offeredPerSecond, 0)})`, cascade: fmt(c.deliveredPerSecond, 0), baseline: fmt(b.deliveredPerSecond, 0), ratio: ratio(c.deliveredPerSecond, b.deliveredPerSecond) },
      );
    }
  }
  const row = (p: PhaseResult) => [
    p.server === "Cascade" ? `Cascade${p.window && p.window !== "default" ? `, CHAT_COALESCE_MS=${p.window}` : ""}` : "baseline (bare ws)",
    p.clients.toLocaleString("en"),
    String(p.rate),
    String(p.sent),
    fmt(p.offeredPerSecond, 0),
    fmt(p.deliveredPerSecond, 0),
    `${fmt(deliveryRatio(p) * 100, 2)} %`,
    fmt(p.p50, 1),
    fmt(p.p90, 1),
    fmt(p.p99, 1),
    fmt(p.max, 1),
    fmt(p.framesPerWsMessage, 1),
    `${fmt(p.serverCpuPercent, 0)} %`,
    `${fmt(p.clientCpuPercent, 0)} %`,
    problems(p) || "none",
  ];
  const columns = ["server", "clients", "msg/s", "sent", "offered deliveries/s", "delivered/s", "delivery ratio", "p50 ms", "p90 ms", "p99 ms", "max ms", "frames per WS message", "server CPU", "clients CPU", "problems"];
  const tables: Table[] = [
    { title: "Per phase (latency = receive − send, over every delivery of the measured messages)", columns, rows: phases.map(row) },
    { title: `Coalescing window (CHAT_COALESCE_MS), ${s.sweepClients.toLocaleString("en")} clients × ${Math.max(...s.rates)} msg/s, a fresh edge each`, columns, rows: sweep.map(row) },
  ];
  const best = sweep.filter((p) => Number.isFinite(p.deliveredPerSecond)).sort((a, b) => b.deliveredPerSecond - a.deliveredPerSecond)[0];
  const notes = [
    `Cascade's clients ${s.via === "direct" ? "connect straight to the Worker's workerd socket (found behind `wrangler dev`), not through wrangler's dev proxy, which holds ~6 file descriptors per socket (more than `ulimit -n` allows for 10,000 clients) and relays every frame once more — a local-development artefact with no counterpart in production. Set BENCH_CHAT_VIA=proxy to go through the port `npm start` prints." : "connect through wrangler's dev proxy (the port `npm start` prints): every frame is relayed once more per socket by the proxy's own workerd."}`,
    "Every process (server, wrangler, the client processes) shares the machine's cores: the CPU columns (100 % = one core) show who was busy; delivered/s is a property of this machine, the ratio against the bare ws server is the comparable figure.",
    "Both servers get the same clients: no permessage-deflate, JSON text frames; the baseline does no authentication, storage, rate limiting or coalescing.",
    "wrangler dev's own processes (its proxy workerd and its node process) relay the Worker's inspector and request logs: thousands of handshakes keep them busy for seconds and leave descriptors open in the proxy (it reaches a 20,000 `ulimit -n` at 10,000 handshakes, without effect on the Worker), so each phase starts only once the server's process group is idle again; their CPU is included in the server CPU column.",
    "A phase whose room is still delivering when the drain ends (\"still delivering\" in problems) leaves a backlog that the next phase receives as late frames of the previous phase; its delivered/s is what the server sustained, its latencies grow with the phase length.",
    ...[...phases, ...sweep]
      .filter((p) => p.clientCpuPercent >= 85 * s.processes)
      .map((p) => `${p.server}${p.window && p.window !== "default" ? ` (window ${p.window})` : ""}, ${p.clients.toLocaleString("en")} clients × ${p.rate} msg/s: the client processes used ${fmt(p.clientCpuPercent, 0)} % CPU (${s.processes} processes) — they, not the server, may have set this rate; raise BENCH_CHAT_PROCESSES.`),
    ...(best ? [`Highest delivered/s in the window comparison: CHAT_COALESCE_MS=${best.window} (${fmt(best.deliveredPerSecond, 0)}/s, p99 ${fmt(best.p99, 1)} ms).`] : []),
  ];
  return {
    name: LABEL,
    title: "Chat delivery: latency and delivered messages/s vs a bare ws server",
    method:
      `N WebSocket clients (the \`ws\` package, ${s.processes} load-generator processes: bench/lib/chat-client-child.ts) join one chat room, writers first ` +
      `(${s.writers} writer accounts, signed up through \`POST /api/v1/users\`, each sending at most one message every ${WRITER_INTERVAL_MS / 1000} s, under the room's 20 per 30 s limit; texts are unique, so the repeat guard never fires), ` +
      "and every socket has its welcome frame before anything is sent. Per phase the writers together send R messages/s on a fixed schedule, each text carrying its send time on the " +
      "machine's monotonic clock (shared by all processes); every socket takes its receive time once per WebSocket message (a message may carry one frame or a JSON array of coalesced frames) " +
      `and records latency = receive − send for every delivery of the measured messages (${s.warmSeconds} s warm-up excluded; p50/p90/p99/max over all deliveries, 0.1 ms resolution). ` +
      `Delivered/s = deliveries of the measured messages ÷ the time from the first to the last of them (so a server that falls behind is charged for its backlog; at most the offered rate, R × sockets, give or take the latency spread). Delivery ratio = deliveries / (accepted messages × sockets), after the room went quiet (${s.quietMs / 1000} s without a delivery, at most ${MAX_DRAIN_MS / 1000} s after the last send). ` +
      "The room grows through the client counts (1,000 → 5,000 → 10,000 with the same sockets). Cascade: one edge Worker (`wrangler dev`/workerd, D1 migrated, JWT_SECRET) and its ChatRoom Durable Object, " +
      "the Worker's default coalescing window; then, for the window comparison, the heaviest case once per CHAT_COALESCE_MS (`--var`), a fresh edge process (same D1) and a fresh room each. " +
      "Baseline: bench/lib/chat-baseline-server.ts, the `ws` package's broadcast loop in one node process (welcome frame, message → broadcast with id and ts), same clients, same schedule, first.",
    settings:
      `clients ${s.clients.map((n) => n.toLocaleString("en")).join(", ")}; ${s.rates.join(", ")} msg/s; ${s.writers} writers; ${s.warmSeconds} s warm-up + ${s.seconds} s per phase; ${s.processes} client processes; ` +
      `windows ${s.windows.join(", ")} ms at ${s.sweepClients.toLocaleString("en")} clients; Cascade via ${s.via === "direct" ? "the Worker's workerd port" : "wrangler's dev proxy"}`,
    figures,
    tables,
    notes,
  };
};

export const chatDelivery: Benchmark = {
  name: LABEL,
  title: "Chat delivery: latency and delivered messages/s vs a bare ws server",
  summary: "chat latency p50/p99 and delivered msgs/s, 1,000/5,000/10,000 WebSocket clients × 20/100 msg/s vs a bare ws server; coalescing windows 0/50/100 ms",
  run,
};
