/**
 * `npm run soak [-- --minutes 30 --viewers 500 --edges 3 --chatters 50 …]`: the load-and-soak run
 * (a benchmark, not a test). The real stack as separate processes — core-origin, one transcoder
 * node, N edges (`wrangler dev`/workerd; edges 2..N forward the control plane to edge-1, as
 * `npm start -- --edges N` runs them) — with one stream published by a real ffmpeg (RTMP, test
 * pattern with a burnt-in wall clock), watched by simulated LL-HLS viewers spread over the edges
 * (lib/soak-player-child.ts) while signed-in chatters keep a steady conversation in its chat room
 * through the edges (lib/soak-chat-child.ts).
 *
 * Every minute: RSS of every process (VmRSS of each process tree: the origin, the transcoder and its
 * ffmpeg, the publisher, each edge's wrangler and workerd processes, the load generators), CPU,
 * errors (viewers' non-2xx/timeouts/transport errors, chat send failures/error frames/lost
 * deliveries/closed sockets, process exits, error lines in the servers' logs), capture-to-display
 * latency (wall clock when a viewer has a part − the part's PROGRAM-DATE-TIME), chat delivery
 * latency and parts received. At the end: a table per minute and a verdict per criterion (RSS slope
 * per process after the warm-up, errors, latency drift), written to bench/RESULTS.md (a full run
 * with the default settings) or bench/out/RESULTS.dev.md (any shortened run).
 */
import type { ChildProcess } from "node:child_process";
import { copyFileSync, cpSync, existsSync, symlinkSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { applyEdgeMigrations, type EdgeProcess } from "../scripts/edge-process.ts";
import { monoMs, sleep, sleepUntil } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN, startLoggedEdge, JWT_SECRET } from "./lib/edges.ts";
import { publisherArgs } from "./lib/live-sources.ts";
import { describeMachine, machineInfo } from "./lib/machine.ts";
import { NODE_SECRET, startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { OUT_DIR, ROOT, ffmpegPath, forkTs, freePort, spawnTracked, stopChild } from "./lib/proc.ts";
import { readSections, renderResultsFile, renderSection, renderTextTable, type BenchResult, type Figure, type RunContext, type Table } from "./lib/report.ts";
import { benchOverrides } from "./lib/settings.ts";
import { histCount, histPercentile, mergeHist, type ChatReport, type ChatStart, type FromChat, type FromViewers, type ToChat, type ToViewers, type ViewerTarget, type ViewersReport, type ViewersStart } from "./lib/soak-protocol.ts";
import { countsText, fmt, median } from "./lib/stats.ts";
import { startTranscoder, type RunningTranscoder } from "./lib/transcoder-process.ts";
import { connectWorkerInspector, type HeapUsage, type LiveHeap, type WorkerInspector } from "./lib/worker-inspector.ts";
import { findWorker, workerdPids } from "./lib/workerd.ts";
import { messageWaiter } from "./lib/child-message.ts";

const LABEL = "soak";
const PASSWORD = "soak chatter password";
/** Publisher and the one-rung ladder: small enough that ffmpeg twice (publisher + transcoder) leaves the 2 cores to the servers. */
const SOURCE = { width: 320, height: 180, fps: 30, videoKbps: 400, gopSeconds: 2 };
const RENDITION = "180p";
const LADDER = `${RENDITION}:320x180@30:400:main`;
const MIB = 1024;

interface Settings {
  minutes: number;
  viewers: number;
  edges: number;
  chatters: number;
  /** Chat messages per second, all chatters together. */
  chatRate: number;
  /** Minutes excluded from the slope and drift verdicts (joins, caches and JIT warming up). */
  warmup: number;
  partTarget: number;
  /** Viewers and chatters connect through wrangler's dev proxy (the port `npm start` prints) or straight to the Worker's workerd. */
  via: "proxy" | "direct";
  loadgens: number;
  rampSeconds: number;
  /** Run the edges from a copy of edge/, shared/ and wrangler.toml taken at start (edits elsewhere do not reload them). */
  snapshot: boolean;
}

const DEFAULTS = { minutes: 30, viewers: 500, edges: 3, chatters: 50, chatRate: 5, partTarget: 0.5, via: "proxy", loadgens: 1, rampSeconds: 30, snapshot: true } as const;

const USAGE = `usage: npm run soak [-- options]

  --minutes N       soak length in minutes (default ${DEFAULTS.minutes})
  --viewers N       simulated LL-HLS viewers, spread evenly over the edges (default ${DEFAULTS.viewers})
  --edges N         edge instances, wrangler dev each, 1-5 (default ${DEFAULTS.edges})
  --chatters N      signed-in chat clients, spread over the edges (default ${DEFAULTS.chatters}; 0: no chat)
  --chat-rate R     chat messages per second, all chatters together (default ${DEFAULTS.chatRate})
  --warmup N        minutes left out of the RSS-slope and latency-drift verdicts (default 3; 1 for runs under 10 min)
  --part-target S   CASCADE_PART_TARGET of the transcoder, 0.2-1 (default ${DEFAULTS.partTarget})
  --via proxy|direct  viewers and chatters use wrangler dev's public port (default) or the Worker's own workerd port
  --loadgens N      viewer load-generator processes (default ${DEFAULTS.loadgens})
  --live-code       run the edges from the working tree itself: wrangler dev then rebuilds and
                    reloads the Worker (dropping every chat socket) whenever a file under edge/ or
                    shared/ changes. By default they run from a copy taken when the soak starts.

A run with every default (30 min, 500 viewers, 3 edges, 50 chatters) writes the "soak" section of
bench/RESULTS.md; any other run is a development run and writes bench/out/RESULTS.dev.md.`;

const parseArgs = (argv: string[]): { s: Settings; changed: string[] } => {
  const s: Settings = { ...DEFAULTS, warmup: Number.NaN };
  const changed: string[] = [];
  const num = (flag: string, raw: string | undefined, min: number, max: number, integer = true): number => {
    const n = Number(raw);
    if (raw === undefined || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
      console.error(`${flag} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got "${raw ?? ""}"\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = argv[i + 1];
    switch (flag) {
      case "--minutes": s.minutes = num(flag, value, 1, 24 * 60); break;
      case "--viewers": s.viewers = num(flag, value, 0, 100_000); break;
      case "--edges": s.edges = num(flag, value, 1, 5); break;
      case "--chatters": s.chatters = num(flag, value, 0, 5000); break;
      case "--chat-rate": s.chatRate = num(flag, value, 0.1, 1000, false); break;
      case "--warmup": s.warmup = num(flag, value, 0, 24 * 60); break;
      case "--part-target": s.partTarget = num(flag, value, 0.2, 1, false); break;
      case "--loadgens": s.loadgens = num(flag, value, 1, 16); break;
      case "--via":
        if (value !== "proxy" && value !== "direct") {
          console.error(`--via must be proxy or direct\n\n${USAGE}`);
          process.exit(2);
        }
        s.via = value;
        break;
      case "--live-code":
        s.snapshot = false;
        changed.push(flag);
        continue;
      case "--help":
      case "-h":
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        console.error(`unknown option ${flag}\n\n${USAGE}`);
        process.exit(2);
    }
    if (flag !== "--warmup") changed.push(flag);
    i++;
  }
  if (Number.isNaN(s.warmup)) s.warmup = s.minutes >= 10 ? 3 : s.minutes >= 2 ? 1 : 0;
  if (s.warmup >= s.minutes) s.warmup = Math.max(0, s.minutes - 1);
  // Each chatter stays under the room's 20 messages per 30 s.
  if (s.chatters > 0 && (s.chatRate / s.chatters) * 30 > 15) {
    console.error(`--chat-rate ${s.chatRate} with ${s.chatters} chatters is ${fmt((s.chatRate / s.chatters) * 30, 1)} messages per chatter per 30 s: over the room's limit of 20 (keep it ≤ 15)`);
    process.exit(2);
  }
  const defaultsChanged = changed.filter((f) => {
    if (f === "--live-code") return true;
    const key = ({ "--minutes": "minutes", "--viewers": "viewers", "--edges": "edges", "--chatters": "chatters", "--chat-rate": "chatRate", "--part-target": "partTarget", "--via": "via", "--loadgens": "loadgens" } as const)[f as "--minutes"];
    return key !== undefined && s[key] !== DEFAULTS[key];
  });
  return { s, changed: defaultsChanged };
};

// ---------------------------------------------------------------------------------------------
// Processes: RSS and CPU of process trees, from /proc

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  rssKiB: number;
  cpuS: number;
}

const procSnapshot = (): Map<number, ProcInfo> => {
  const out = new Map<number, ProcInfo>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const f = stat.slice(close + 2).split(" ");
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
      out.set(Number(entry), { pid: Number(entry), ppid: Number(f[1]), comm, rssKiB: rss, cpuS: (Number(f[11]) + Number(f[12])) / 100 });
    } catch {
      // exited while we looked
    }
  }
  return out;
};

/** `root` and every descendant of it. */
const tree = (snap: Map<number, ProcInfo>, root: number): ProcInfo[] => {
  const children = new Map<number, number[]>();
  for (const p of snap.values()) {
    const list = children.get(p.ppid) ?? [];
    list.push(p.pid);
    children.set(p.ppid, list);
  }
  const out: ProcInfo[] = [];
  const stack = [root];
  while (stack.length) {
    const pid = stack.pop()!;
    const p = snap.get(pid);
    if (!p) continue;
    out.push(p);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
};

/** A process tree the soak watches: a role (origin, edge-1 …) and the pid at its root. */
interface Role {
  name: string;
  pid: () => number | null;
  /** Part of the system under test (its RSS slope is a verdict), or a load generator (reported only). */
  server: boolean;
  /** Include descendants (false for the soak's own process, whose tree is everything). */
  descendants: boolean;
  /** The name a process is reported under in its role (default: its command). */
  label?: (p: ProcInfo) => string;
}

/** Per role and per `role/command` (processes of the same command in a tree summed): RSS KiB and CPU seconds. */
const sampleRoles = (roles: Role[]): { rss: Map<string, number>; cpu: Map<string, number>; pids: Map<string, number[]> } => {
  const snap = procSnapshot();
  const rss = new Map<string, number>();
  const cpu = new Map<string, number>();
  const pids = new Map<string, number[]>();
  for (const r of roles) {
    const root = r.pid();
    if (root === null) continue;
    const procs = r.descendants ? tree(snap, root) : [snap.get(root)].filter((p): p is ProcInfo => p !== undefined);
    for (const p of procs) {
      const k = `${r.name}/${r.label ? r.label(p) : p.comm}`;
      for (const key of [r.name, k]) {
        rss.set(key, (rss.get(key) ?? 0) + p.rssKiB);
        cpu.set(key, (cpu.get(key) ?? 0) + p.cpuS);
      }
      pids.set(k, [...(pids.get(k) ?? []), p.pid]);
    }
  }
  return { rss, cpu, pids };
};

// ---------------------------------------------------------------------------------------------
// Log files: error lines since the last look

/** pino's error and fatal levels; wrangler's `✘ [ERROR]`; uncaught exceptions. */
const ERROR_LINE = /"level":(50|60)\b|\[ERROR\]|✘|Uncaught|UnhandledPromiseRejection|^\s*Error:/;

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

class LogWatch {
  private offsets = new Map<string, number>();
  readonly examples: string[] = [];

  constructor(private readonly files: () => Array<{ name: string; file: string }>) {}

  /** Error lines written since the previous call, by log name. */
  scan(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { name, file } of this.files()) {
      if (!existsSync(file)) continue;
      const size = statSync(file).size;
      const from = this.offsets.get(file) ?? 0;
      if (size <= from) continue;
      const fd = openSync(file, "r");
      const buf = Buffer.alloc(Math.min(size - from, 64 * 1024 * 1024));
      readSync(fd, buf, 0, buf.length, from);
      closeSync(fd);
      const text = buf.toString("utf8");
      const end = text.lastIndexOf("\n") + 1;
      this.offsets.set(file, from + Buffer.byteLength(text.slice(0, end)));
      // wrangler colours its output.
      for (const line of text.slice(0, end).replace(ANSI, "").split("\n")) {
        if (!ERROR_LINE.test(line)) continue;
        out[name] = (out[name] ?? 0) + 1;
        if (this.examples.length < 20) this.examples.push(`${name}: ${line.slice(0, 400)}`);
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Load-generator children

const viewersMessage = messageWaiter<FromViewers>("load generator");
const chatMessage = messageWaiter<FromChat>("load generator");

// ---------------------------------------------------------------------------------------------
// Per-minute figures

interface Minute {
  minute: number;
  /** Monotonic ms of the sample. */
  at: number;
  viewersJoined: number;
  parts: number;
  viewerRequests: number;
  viewerErrors: Record<string, number>;
  partSkipped: number;
  partNotListed: number;
  latency: Map<number, number>;
  chat: ChatReport | null;
  chatLatency: Map<number, number>;
  logErrors: Record<string, number>;
  exits: string[];
  /** Worker reloads seen (the Worker's workerd replaced), per edge. */
  reloads: string[];
  rss: Map<string, number>;
  /** Each edge Worker's JavaScript heap (through wrangler's inspector), when it answered. */
  heap: Map<string, HeapUsage>;
  /** CPU % of one core over the minute, per role. */
  cpuPct: Map<string, number>;
  encoderSpeed: number;
  load1: number;
}

const sumCounts = (m: Record<string, number>): number => Object.values(m).reduce((a, b) => a + b, 0);
const mergeCounts = (into: Record<string, number>, from: Record<string, number>, prefix = ""): void => {
  for (const [k, v] of Object.entries(from)) into[prefix + k] = (into[prefix + k] ?? 0) + v;
};
const countsByCount = (m: Record<string, number>): string => countsText(m, { byCount: true, spaced: true });

const chatErrors = (c: ChatReport | null): Record<string, number> => {
  if (!c) return {};
  const out: Record<string, number> = {};
  if (c.sendFailures) out["send failed"] = c.sendFailures;
  mergeCounts(out, c.errorFrames, "error frame ");
  if (c.lost) out["deliveries lost"] = c.lost;
  mergeCounts(out, c.closed, "socket closed ");
  mergeCounts(out, c.connectFailures, "connect failed ");
  return out;
};

const edgeCpuPct = (m: Minute): number => [...m.cpuPct].filter(([k]) => /^edge-\d+$/.test(k)).reduce((a, [, v]) => a + v, 0);
/** CPU the edges spent per viewer request (ms): edges' CPU over the minute ÷ the viewers' requests in it. */
const edgeCpuPerRequest = (m: Minute, seconds: number): number => (m.viewerRequests > 0 ? ((edgeCpuPct(m) / 100) * seconds * 1000) / m.viewerRequests : Number.NaN);
/** Parts the viewers got ÷ parts they would get following the live edge (every viewer, every part). */
const deliveredShare = (m: Minute, s: Settings): number => m.parts / ((m.viewersJoined * 60) / s.partTarget);

const minuteErrors = (m: Minute): number => sumCounts(m.viewerErrors) + sumCounts(chatErrors(m.chat)) + sumCounts(m.logErrors) + m.exits.length;

/** Least-squares slope of y over x. */
const slope = (xs: number[], ys: number[]): number => {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den > 0 ? num / den : Number.NaN;
};

// ---------------------------------------------------------------------------------------------

const api = async <T = Record<string, unknown>>(base: string, method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${base}${p}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed as T };
};

/**
 * A copy of what wrangler dev builds the Worker from (edge/, shared/, wrangler.toml, tsconfig.json;
 * node_modules linked), under bench/out/soak-code. wrangler dev watches its sources and reloads the
 * Worker when one changes — which drops every WebSocket — so a soak on a working tree that others
 * edit would measure their edits; the copy keeps the code fixed for the whole run.
 */
const snapshotEdgeCode = (): string => {
  const dir = path.join(OUT_DIR, `${LABEL}-code`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const d of ["edge", "shared"]) cpSync(path.join(ROOT, d), path.join(dir, d), { recursive: true });
  for (const f of ["wrangler.toml", "tsconfig.json", "package.json"]) copyFileSync(path.join(ROOT, f), path.join(dir, f));
  symlinkSync(path.join(ROOT, "node_modules"), path.join(dir, "node_modules"), "dir");
  return dir;
};

const commandLine = (argv: string[]): string => {
  const overrides = benchOverrides();
  const base = process.env.npm_lifecycle_event === "soak" ? `npm run soak${argv.length ? ` -- ${argv.join(" ")}` : ""}` : `npx tsx bench/soak.ts${argv.length ? ` ${argv.join(" ")}` : ""}`;
  return overrides.length ? `${overrides.map((k) => `${k}=${process.env[k]}`).join(" ")} ${base}` : base;
};

const main = async () => {
  const argv = process.argv.slice(2);
  const { s, changed } = parseArgs(argv);
  const machine = machineInfo();
  const ctx: RunContext = { machine, date: new Date(), command: commandLine(argv), publishable: changed.length === 0 && benchOverrides().length === 0 };
  const resultsFile = ctx.publishable ? path.join(ROOT, "bench", "RESULTS.md") : path.join(OUT_DIR, "RESULTS.dev.md");
  const tStart = monoMs();
  const stamp = () => `[${((monoMs() - tStart) / 1000).toFixed(0).padStart(5)} s]`;
  const log = (line: string) => console.log(`${stamp()} ${line}`);

  console.log(`Cascade soak: ${s.minutes} min, ${s.viewers} LL-HLS viewers over ${s.edges} edge(s), ${s.chatters} chatters at ${s.chatRate} msg/s, warm-up ${s.warmup} min`);
  console.log(`machine: ${describeMachine(machine)}`);
  console.log(`command: ${ctx.command}`);
  if (!ctx.publishable) console.log(`development run (${changed.join(", ") || benchOverrides().join(", ")} differ from the defaults): results go to ${path.relative(ROOT, resultsFile)}, bench/RESULTS.md is left alone`);
  if (machine.loadAverage[0] > 0.5) console.log(`warning: 1-minute load average is ${machine.loadAverage[0].toFixed(2)}; other work on the machine competes with the soak (CPU and latency figures are noisy)`);
  console.log("baseline: none — a soak compares the system with itself over time (RSS slope, errors, latency drift); there is no natural side-by-side baseline to run.");

  const parent = path.join(OUT_DIR, "edge-state");
  mkdirSync(parent, { recursive: true });
  for (const old of readdirSync(parent)) if (old.startsWith(`${LABEL}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
  const stateDir = mkdtempSync(path.join(parent, `${LABEL}-`));

  let origin: ServerProcess | null = null;
  const edges: Array<{ p: EdgeProcess; port: number; logFile: string; wsPort: number; workerPid: number; heap: WorkerInspector | null }> = [];
  let transcoder: RunningTranscoder | null = null;
  let publisher: ChildProcess | null = null;
  let publisherTail = "";
  let chat: ChildProcess | null = null;
  const viewerProcs: ChildProcess[] = [];
  let stopping = false;
  const exits: string[] = [];
  const minutes: Minute[] = [];
  let failure: string | null = null;
  /** Each edge Worker's live heap (snapshot after V8's full GC), at the end of the warm-up and of the run. */
  const liveHeaps = new Map<string, Array<{ minute: number; heap: LiveHeap }>>();

  const watchExit = (name: string, child: ChildProcess, logFile?: string) =>
    child.once("exit", (code, signal) => {
      if (!stopping) exits.push(`${name} exited (${code ?? signal})${logFile ? `; see ${path.relative(ROOT, logFile)}` : ""}`);
    });

  // Ctrl-C: proc.ts kills every child (SIGKILL to each process group) and exits; print what we have first.
  process.prependOnceListener("SIGINT", () => {
    stopping = true;
    console.log(`\n${stamp()} interrupted after ${minutes.length} minute(s); stopping every child`);
    if (minutes.length) console.log(renderTextTable(minuteTable(minutes, s)));
    rmSync(stateDir, { recursive: true, force: true });
  });

  const shutdown = async () => {
    stopping = true;
    for (const c of viewerProcs) if (c.connected) c.send({ type: "stop" } satisfies ToViewers);
    if (chat?.connected) chat.send({ type: "stop" } satisfies ToChat);
    await Promise.all([...viewerProcs, ...(chat ? [chat] : [])].map((c) => stopChild(c, 15_000)));
    if (publisher) await stopChild(publisher, 3000);
    await transcoder?.stop();
    for (const e of edges) e.heap?.close();
    await Promise.all(edges.map((e) => e.p.stop()));
    await origin?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  };

  let streamId = "";
  try {
    // --- the stack, as npm start -- --edges N runs it -------------------------------------------
    const edgePorts: number[] = [];
    for (let i = 0; i < s.edges; i++) edgePorts.push(await freePort());
    const edgeUrls = edgePorts.map((p) => `http://127.0.0.1:${p}`);
    const edge1 = edgeUrls[0]!;
    origin = await startOrigin(`${LABEL}-origin`, { CASCADE_ARCHIVE_URL: edge1 });
    watchExit("origin", origin.child, origin.logFile);
    log(`origin ${origin.url} (pid ${origin.pid})`);
    const edgeRoot = s.snapshot ? snapshotEdgeCode() : ROOT;
    if (s.snapshot) log(`edges run from a copy of edge/, shared/ and wrangler.toml taken now (${path.relative(ROOT, edgeRoot)}): edits to the working tree during the soak do not reload them`);
    await Promise.all(edgePorts.map((_, i) => applyEdgeMigrations({ index: i + 1, stateDir, root: edgeRoot })));
    for (let i = 1; i <= s.edges; i++) {
      const logFile = path.join(OUT_DIR, `${LABEL}-edge-${i}.log`);
      const p = startLoggedEdge({
        index: i,
        port: edgePorts[i - 1]!,
        originUrl: origin.url,
        adminToken: EDGE_ADMIN_TOKEN,
        stateDir,
        root: edgeRoot,
        secrets: { JWT_SECRET, NODE_SECRET },
        vars: { EDGE_URLS: edgeUrls.join(","), SAGA_WARMUP_TIMEOUT_S: "60", ...(i > 1 ? { CONTROL_PLANE_URL: edge1 } : {}) },
      }, logFile);
      watchExit(p.name, p.child, logFile);
      edges.push({ p, port: edgePorts[i - 1]!, logFile, wsPort: edgePorts[i - 1]!, workerPid: 0, heap: null });
    }
    log(`starting ${s.edges} edge(s) (wrangler dev / workerd): ${edgeUrls.join(", ")}; edges 2..${s.edges} forward the control plane to edge-1`);
    await Promise.all(edges.map((e) => e.p.ready(180_000)));
    for (const e of edges) {
      const w = await findWorker(e.p.child.pid!, e.port);
      e.workerPid = w.pid;
      if (s.via === "direct") e.wsPort = w.port;
      e.heap = await connectWorkerInspector(e.p.child.pid!).catch((err: Error) => {
        log(`${e.p.name}: the Worker's heap will not be sampled (${err.message})`);
        return null;
      });
    }
    if (s.via === "direct") log(`viewers and chatters connect to each Worker's own workerd port (${edges.map((e) => e.wsPort).join(", ")}), not through wrangler's dev proxy`);

    transcoder = await startTranscoder({
      label: `${LABEL}-transcoder`,
      originUrl: origin.url,
      streamKeys: {},
      partTarget: s.partTarget,
      ladder: LADDER,
      env: { CASCADE_CONTROL_PLANE_URL: edge1, CASCADE_NODE_ID: "soak-node", CASCADE_SLOTS: "4" },
    });
    watchExit("transcoder", transcoder.child, transcoder.logFile);
    log(`transcoder ${transcoder.controlUrl}, RTMP ${transcoder.rtmpUrl}, ladder ${LADDER}, part target ${s.partTarget} s`);
    await sleep(2000); // the node registers with its first heartbeat

    // --- accounts, stream, publisher -------------------------------------------------------------
    const tag = Date.now().toString(36);
    const owner = await api<{ token?: string }>(edge1, "POST", "/api/v1/users", { username: `soak_${tag}`, password: PASSWORD });
    if (owner.status !== 201 || !owner.body.token) throw new Error(`sign-up of the streamer: ${owner.status} ${JSON.stringify(owner.body).slice(0, 300)}`);
    const created = await api<{ stream_id?: string; stream_key?: string }>(edge1, "POST", "/api/v1/streams", { title: "soak" }, owner.body.token);
    if (created.status !== 201 || !created.body.stream_id || !created.body.stream_key) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body).slice(0, 300)}`);
    streamId = created.body.stream_id;
    const tokens: string[] = [];
    const signUpStart = monoMs();
    for (let i = 0; i < s.chatters; i += 8) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(8, s.chatters - i) }, async (_, j) => {
          // Round-robin over the edges: edges 2..N forward the sign-up to edge-1.
          const r = await api<{ token?: string }>(edgeUrls[(i + j) % edgeUrls.length]!, "POST", "/api/v1/users", { username: `sc_${tag}_${i + j}`, password: PASSWORD });
          if (r.status !== 201 || !r.body.token) throw new Error(`sign-up of chatter ${i + j}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
          return r.body.token;
        }),
      );
      tokens.push(...batch);
    }
    if (s.chatters) log(`stream ${streamId}; signed up ${s.chatters} chatters through the API in ${((monoMs() - signUpStart) / 1000).toFixed(1)} s`);

    const args = publisherArgs({ outputs: [`${transcoder.rtmpUrl}/${created.body.stream_key}`], ...SOURCE });
    publisher = spawnTracked(ffmpegPath(), args, { stdio: ["ignore", "ignore", "pipe"] });
    publisher.stderr!.on("data", (d: Buffer) => (publisherTail = (publisherTail + d.toString()).slice(-2000)));
    watchExit("publisher (ffmpeg)", publisher);
    const publishedAt = monoMs();
    for (const deadline = Date.now() + 120_000; ; await sleep(250)) {
      const st = await api<{ status?: string }>(edge1, "GET", `/api/v1/streams/${streamId}`);
      if (st.body.status === "live") break;
      if (exits.length) throw new Error(`${exits.join("; ")} before the stream went live${publisherTail ? `; publisher: ${publisherTail.trim()}` : ""}`);
      if (Date.now() > deadline) throw new Error(`stream not live 120 s after publishing (status ${st.body.status}); see ${path.relative(ROOT, transcoder.logFile)}`);
    }
    log(`live ${((monoMs() - publishedAt) / 1000).toFixed(1)} s after the publisher started (ffmpeg testsrc2 ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps}, ${SOURCE.videoKbps} kb/s, burnt-in wall clock)`);
    for (const e of edges) {
      for (const deadline = Date.now() + 30_000; ; await sleep(250)) {
        const res = await fetch(`${e.p.url}/hls/${streamId}/${RENDITION}/index.m3u8`).catch(() => null);
        await res?.arrayBuffer();
        if (res?.ok) break;
        if (Date.now() > deadline) throw new Error(`${e.p.name} does not serve /hls/${streamId}/${RENDITION}/index.m3u8 (${res?.status ?? "no answer"})`);
      }
    }

    // --- load -------------------------------------------------------------------------------------
    if (s.chatters > 0) {
      chat = forkTs(path.join(ROOT, "bench/lib/soak-chat-child.ts"));
      watchExit("chat load generator", chat);
      const start: ChatStart = {
        type: "start",
        sockets: tokens.map((t, i) => {
          const e = edges[i % edges.length]!;
          return { url: `ws://127.0.0.1:${e.wsPort}/api/v1/streams/${streamId}/chat?token=${t}`, edge: e.p.name };
        }),
        rate: s.chatRate,
        deliveryDeadlineMs: 10_000,
        connectTimeoutMs: 30_000,
      };
      const ready = chatMessage(chat, "ready", 300_000);
      chat.send(start satisfies ToChat);
      const r = await ready;
      log(`chat: ${r.open} of ${s.chatters} chatters in the room (spread over the edges)${sumCounts(r.failures) ? `; failed: ${countsByCount(r.failures)}` : ""}`);
    }
    const perProcess = Array.from({ length: s.loadgens }, (_, p) =>
      edges
        .map((e, i): ViewerTarget => {
          const onEdge = Math.floor(s.viewers / s.edges) + (i < s.viewers % s.edges ? 1 : 0);
          return { label: e.p.name, baseUrl: `http://127.0.0.1:${e.wsPort}`, streamPath: `/hls/${streamId}`, clients: Math.floor(onEdge / s.loadgens) + (p < onEdge % s.loadgens ? 1 : 0) };
        })
        .filter((t) => t.clients > 0),
    ).filter((t) => t.length > 0);
    const targetDuration = 2;
    for (const targets of perProcess) {
      const child = forkTs(path.join(ROOT, "bench/lib/soak-player-child.ts"));
      watchExit("viewer load generator", child);
      viewerProcs.push(child);
      const ready = viewersMessage(child, "ready", 60_000);
      const start: ViewersStart = { type: "start", targets, rendition: RENDITION, rampMs: s.rampSeconds * 1000, playlistTimeoutMs: 3 * targetDuration * 1000 + 4000, partTimeoutMs: 5000 };
      child.send(start satisfies ToViewers);
      await ready;
    }
    log(`${s.viewers} viewers joining over ${s.rampSeconds} s on ${RENDITION} (${edges.map((e, i) => `${e.p.name} ${Math.floor(s.viewers / s.edges) + (i < s.viewers % s.edges ? 1 : 0)}`).join(", ")}), ${s.loadgens} load-generator process(es)`);

    // --- the soak ---------------------------------------------------------------------------------
    const roles: Role[] = [
      { name: "origin", pid: () => origin?.pid ?? null, server: true, descendants: true },
      { name: "transcoder", pid: () => transcoder?.pgid ?? null, server: true, descendants: true },
      { name: "publisher", pid: () => publisher?.pid ?? null, server: true, descendants: true },
      // wrangler dev runs two workerd: its dev proxy (the public port) and the Worker itself.
      ...edges.map((e): Role => ({ name: e.p.name, pid: () => e.p.child.pid ?? null, server: true, descendants: true, label: (p) => (p.comm !== "workerd" ? p.comm : p.pid === e.workerPid ? "workerd-worker" : "workerd-proxy") })),
      ...viewerProcs.map((c, i): Role => ({ name: viewerProcs.length > 1 ? `viewers-${i + 1}` : "viewers", pid: () => c.pid ?? null, server: false, descendants: true })),
      ...(chat ? [{ name: "chatters", pid: () => chat?.pid ?? null, server: false, descendants: true } satisfies Role] : []),
      { name: "soak", pid: () => process.pid, server: false, descendants: false },
    ];
    const logs = new LogWatch(() => [
      { name: "origin", file: origin!.logFile },
      { name: "transcoder", file: transcoder!.logFile },
      ...edges.map((e) => ({ name: e.p.name, file: e.logFile })),
    ]);
    logs.scan(); // start-up lines are not the soak's
    let prev = sampleRoles(roles);
    let prevAt = monoMs();
    let seenExits = 0;
    const t0 = monoMs();
    log(`soaking for ${s.minutes} min; one line per minute`);
    for (let m = 1; m <= s.minutes; m++) {
      await sleepUntil(t0 + m * 60_000);
      const reportsP = Promise.all(
        viewerProcs.map((c) => {
          const p = viewersMessage(c, "report", 30_000);
          c.send({ type: "sample" } satisfies ToViewers);
          return p;
        }),
      );
      const chatP = chat
        ? (() => {
            const p = chatMessage(chat, "report", 30_000);
            chat.send({ type: "sample" } satisfies ToChat);
            return p;
          })()
        : Promise.resolve(null);
      const cur = sampleRoles(roles);
      const at = monoMs();
      const secs = (at - prevAt) / 1000;
      const cpuPct = new Map<string, number>();
      for (const [k, v] of cur.cpu) cpuPct.set(k, ((v - (prev.cpu.get(k) ?? v)) / secs) * 100);
      const reloads: string[] = [];
      for (const e of edges) {
        const now = workerdPids(e.p.child.pid!);
        if (!now.includes(e.workerPid) && now.length > 0) {
          reloads.push(e.p.name);
          try {
            e.workerPid = (await findWorker(e.p.child.pid!, e.port)).pid;
            e.heap?.close();
            e.heap = await connectWorkerInspector(e.p.child.pid!).catch(() => null);
          } catch {
            // reloading right now; try again next minute
          }
        }
      }
      const heap = new Map<string, HeapUsage>();
      for (const e of edges) {
        const u = await e.heap?.usage();
        if (u) heap.set(e.p.name, u);
      }
      const [viewerReports, chatReport] = await Promise.all([reportsP, chatP]);
      let speed = Number.NaN;
      try {
        speed = Math.min(...(await transcoder.streams()).map((x) => x.speed));
      } catch {
        // the control API did not answer: counted through the exits / log errors
      }
      const row = minuteRow(m, at, viewerReports, chatReport, logs.scan(), exits.slice(seenExits), reloads, cur.rss, heap, cpuPct, speed);
      seenExits = exits.length;
      minutes.push(row);
      if (m === s.minutes || (m === s.warmup && s.minutes > s.warmup)) {
        // Under the same load both times, so in-flight requests weigh about the same in each.
        for (const e of edges) {
          const live = await e.heap?.live();
          if (live) liveHeaps.set(e.p.name, [...(liveHeaps.get(e.p.name) ?? []), { minute: m, heap: live }]);
        }
        log(`live JS heap after minute ${m}: ${edges.map((e) => `${e.p.name} ${fmt(liveHeaps.get(e.p.name)?.at(-1)?.heap.liveMiB ?? Number.NaN, 2)} MiB`).join(", ")}`);
      }
      prev = cur;
      prevAt = at;
      log(progressLine(row, s));
      if (row.exits.length) {
        failure = `stopped after minute ${m}: ${row.exits.join("; ")}`;
        log(failure);
        break;
      }
    }
    if (logs.examples.length) {
      console.log("\nerror lines in the servers' logs (first 20):");
      for (const l of logs.examples) console.log(`  ${l}`);
    }
  } catch (err) {
    failure = (err as Error)?.stack ?? String(err);
    console.error(`${stamp()} soak failed: ${failure}`);
  } finally {
    log("stopping every child");
    await shutdown();
  }

  if (minutes.length === 0) {
    writeResults(resultsFile, renderSection(ctx, { name: LABEL, title: TITLE, error: failure ?? "no minute completed" }));
    process.exit(1);
  }
  const result = analyse(minutes, s, failure, liveHeaps);
  console.log("");
  for (const t of result.bench.tables) console.log(`${renderTextTable(t)}\n`);
  console.log("verdict:");
  for (const v of result.verdicts) console.log(`  ${v}`);
  for (const n of result.bench.notes) console.log(`note: ${n}`);
  writeMinutesCsv(minutes);
  writeResults(resultsFile, renderSection(ctx, result.bench));
  console.log(`\nwrote ${path.relative(ROOT, resultsFile)} and bench/out/soak-minutes.csv, bench/out/soak-rss.csv (${((monoMs() - tStart) / 60_000).toFixed(1)} min)`);
  process.exit(failure || !result.pass ? 1 : 0);
};

const TITLE = "Soak: one stream, LL-HLS viewers over edges and steady chat";

const minuteRow = (
  minute: number,
  at: number,
  viewers: ViewersReport[],
  chat: ChatReport | null,
  logErrors: Record<string, number>,
  exits: string[],
  reloads: string[],
  rss: Map<string, number>,
  heap: Map<string, HeapUsage>,
  cpuPct: Map<string, number>,
  encoderSpeed: number,
): Minute => {
  const latency = new Map<number, number>();
  const viewerErrors: Record<string, number> = {};
  let parts = 0;
  let requests = 0;
  let skipped = 0;
  let notListed = 0;
  let joined = 0;
  for (const r of viewers) {
    joined += r.joined;
    r.tallies.forEach((t, i) => {
      mergeHist(latency, t.latency);
      mergeCounts(viewerErrors, t.errors, `${r.targets[i]} `);
      parts += t.parts;
      requests += t.sent.plain + t.sent.blocking + t.sent.part;
      skipped += t.partSkipped;
      notListed += t.partNotListed;
    });
  }
  const chatLatency = new Map<number, number>();
  if (chat) mergeHist(chatLatency, chat.latency);
  return { minute, at, viewersJoined: joined, parts, viewerRequests: requests, viewerErrors, partSkipped: skipped, partNotListed: notListed, latency, chat, chatLatency, logErrors, exits, reloads, rss, heap, cpuPct, encoderSpeed, load1: os.loadavg()[0]! };
};

const mib = (kib: number | undefined): string => (kib === undefined ? "–" : fmt(kib / MIB, 1));
const sec = (ms: number): string => fmt(ms / 1000, 2);

const progressLine = (m: Minute, s: Settings): string => {
  const errs = minuteErrors(m);
  const detail = [
    sumCounts(m.viewerErrors) ? `viewers: ${countsByCount(m.viewerErrors)}` : "",
    sumCounts(chatErrors(m.chat)) ? `chat: ${countsByCount(chatErrors(m.chat))}` : "",
    sumCounts(m.logErrors) ? `log error lines: ${countsByCount(m.logErrors)}` : "",
    ...m.exits,
    m.reloads.length ? `Worker reloaded on ${m.reloads.join(", ")} (a file under edge/ changed?)` : "",
  ].filter(Boolean);
  const edgeRss = Object.keys(Object.fromEntries(m.rss))
    .filter((k) => /^edge-\d+$/.test(k))
    .map((k) => mib(m.rss.get(k)))
    .join("/");
  return (
    `minute ${String(m.minute).padStart(2)}/${s.minutes}: viewers ${m.viewersJoined}, parts ${m.parts} (${fmt(deliveredShare(m, s) * 100, 0)} % of live, skipped ${m.partSkipped}), c2d p50 ${sec(histPercentile(m.latency, 50))} s p95 ${sec(histPercentile(m.latency, 95))} s` +
    (m.chat ? `, chat ${m.chat.deliveries} deliveries p50 ${fmt(histPercentile(m.chatLatency, 50, 0.1), 1)} ms p95 ${fmt(histPercentile(m.chatLatency, 95, 0.1), 1)} ms` : "") +
    `, RSS MiB origin ${mib(m.rss.get("origin"))} transcoder ${mib(m.rss.get("transcoder"))} edges ${edgeRss}` +
    `, CPU edges ${fmt(edgeCpuPct(m), 0)} % (${fmt(edgeCpuPerRequest(m, 60), 2)} ms per viewer request) loadgen ${fmt(m.cpuPct.get(m.cpuPct.has("viewers") ? "viewers" : "viewers-1") ?? Number.NaN, 0)} %, encoder ${fmt(m.encoderSpeed, 2)}×, load ${fmt(m.load1, 1)}` +
    `, errors ${errs}${detail.length ? ` (${detail.join("; ")})` : ""}`
  );
};

const minuteTable = (minutes: Minute[], s: Settings): Table => {
  const edgeNames = Array.from({ length: s.edges }, (_, i) => `edge-${i + 1}`);
  return {
    title: "Per minute (c2d = capture-to-display: wall clock when the viewer has the part − its PROGRAM-DATE-TIME; RSS in MiB, process trees; JS heap: the edge Worker's own V8 heap in use, MiB; CPU: 100 % = one core)",
    columns: [
      "min",
      "viewers",
      "parts",
      "% of live",
      "parts skipped",
      "c2d p50 s",
      "c2d p95 s",
      "chat deliveries",
      "chat p50 ms",
      "chat p95 ms",
      "errors",
      "origin RSS",
      "transcoder RSS",
      "publisher RSS",
      ...edgeNames.map((e) => `${e} RSS`),
      ...edgeNames.map((e) => `${e} JS heap`),
      "edges CPU",
      "edge CPU ms / request",
      "origin CPU",
      "loadgens CPU",
      "encoder speed",
      "load avg",
    ],
    rows: minutes.map((m) => [
      String(m.minute) + (m.minute <= s.warmup ? " (warm-up)" : ""),
      String(m.viewersJoined),
      String(m.parts),
      `${fmt(deliveredShare(m, s) * 100, 0)} %`,
      String(m.partSkipped),
      sec(histPercentile(m.latency, 50)),
      sec(histPercentile(m.latency, 95)),
      m.chat ? String(m.chat.deliveries) : "–",
      fmt(histPercentile(m.chatLatency, 50, 0.1), 1),
      fmt(histPercentile(m.chatLatency, 95, 0.1), 1),
      String(minuteErrors(m)),
      mib(m.rss.get("origin")),
      mib(m.rss.get("transcoder")),
      mib(m.rss.get("publisher")),
      ...edgeNames.map((e) => mib(m.rss.get(e))),
      ...edgeNames.map((e) => fmt(m.heap.get(e)?.usedMiB ?? Number.NaN, 1)),
      `${fmt(edgeCpuPct(m), 0)} %`,
      fmt(edgeCpuPerRequest(m, 60), 2),
      `${fmt(m.cpuPct.get("origin") ?? Number.NaN, 0)} %`,
      `${fmt([...m.cpuPct].filter(([k]) => k === "viewers" || /^viewers-\d+$/.test(k) || k === "chatters").reduce((a, [, v]) => a + v, 0), 0)} %`,
      `${fmt(m.encoderSpeed, 2)}×`,
      fmt(m.load1, 2),
    ]),
  };
};

interface Analysis {
  bench: BenchResult;
  verdicts: string[];
  pass: boolean;
}

const analyse = (minutes: Minute[], s: Settings, failure: string | null, liveHeaps: Map<string, Array<{ minute: number; heap: LiveHeap }>>): Analysis => {
  const measured = minutes.filter((m) => m.minute > s.warmup);
  const verdicts: string[] = [];
  let pass = failure === null && minutes.length === s.minutes;

  // RSS slope per process (role/command) and per tree, after the warm-up.
  const keys = [...new Set(measured.flatMap((m) => [...m.rss.keys()]))].filter((k) => !k.startsWith("soak")).sort();
  const rssRows: string[][] = [];
  const slopes = new Map<string, { slope: number; mean: number; flat: boolean; server: boolean }>();
  for (const k of keys) {
    const pts = measured.filter((m) => m.rss.has(k));
    const xs = pts.map((m) => m.minute);
    const ys = pts.map((m) => m.rss.get(k)! / MIB);
    const sl = slope(xs, ys) * 10;
    const mean = ys.reduce((a, b) => a + b, 0) / (ys.length || 1);
    const threshold = Math.max(5, 0.02 * mean);
    const flat = Number.isFinite(sl) ? Math.abs(sl) <= threshold : true;
    const server = !/^(viewers|chatters)/.test(k);
    slopes.set(k, { slope: sl, mean, flat, server });
    const first = minutes.find((m) => m.rss.has(k));
    const last = [...minutes].reverse().find((m) => m.rss.has(k));
    rssRows.push([
      k,
      server ? "server" : "load generator",
      mib(first?.rss.get(k)),
      mib(pts[0]?.rss.get(k)),
      mib(last?.rss.get(k)),
      fmt(Math.max(...minutes.map((m) => (m.rss.get(k) ?? 0) / MIB)), 1),
      fmt(sl, 2),
      fmt(threshold, 1),
      !Number.isFinite(sl) ? `not judged (${xs.length} point${xs.length === 1 ? "" : "s"})` : `${flat ? "flat" : sl > 0 ? "GROWING" : "shrinking"}${xs.length < 3 ? ` (only ${xs.length} points)` : ""}`,
    ]);
  }
  // Each edge Worker's own V8 heap: what Cascade's code keeps (workerd's RSS adds the runtime's native
  // memory). Per minute: in use, garbage included (informative). Judged: the live heap of snapshots.
  for (let i = 1; i <= s.edges; i++) {
    const e = `edge-${i}`;
    const pts = measured.filter((m) => m.heap.has(e));
    const ys = pts.map((m) => m.heap.get(e)!.usedMiB);
    const sl = slope(pts.map((m) => m.minute), ys) * 10;
    const withHeap = minutes.filter((m) => m.heap.has(e));
    rssRows.push([
      `${e}/Worker JS heap in use`,
      "server (V8 heap, garbage included; not judged)",
      fmt(withHeap[0]?.heap.get(e)?.usedMiB ?? Number.NaN, 1),
      fmt(pts[0]?.heap.get(e)?.usedMiB ?? Number.NaN, 1),
      fmt(withHeap.at(-1)?.heap.get(e)?.usedMiB ?? Number.NaN, 1),
      fmt(Math.max(...withHeap.map((m) => m.heap.get(e)!.usedMiB)), 1),
      fmt(sl, 2),
      "–",
      "see the live heap",
    ]);
  }
  const heapVerdicts: string[] = [];
  let heapGrowing = false;
  for (const [e, snaps] of [...liveHeaps].sort()) {
    if (snaps.length < 2) continue;
    const [a, b] = [snaps[0]!, snaps.at(-1)!];
    const growth = b.heap.liveMiB - a.heap.liveMiB;
    const threshold = Math.max(5, 0.02 * a.heap.liveMiB);
    if (growth > threshold) heapGrowing = true;
    heapVerdicts.push(`${e} ${fmt(a.heap.liveMiB, 2)} MiB after minute ${a.minute} → ${fmt(b.heap.liveMiB, 2)} MiB after minute ${b.minute} (${growth >= 0 ? "+" : ""}${fmt(growth, 2)} MiB)`);
  }
  if (heapVerdicts.length) {
    verdicts.push(`edge Workers' live JS heap (heap snapshot after V8's full GC, under the same load; what Cascade's code keeps): ${heapGrowing ? "GROWING" : "flat"} — ${heapVerdicts.join(", ")}`);
    if (heapGrowing) pass = false;
  }
  // The edges' workerd against the requests it served: comparable with `npm run bench -- edge-rss`,
  // which measures the same for a one-line Worker under the same wrangler dev.
  let served = 0;
  const cumulativePerEdge = measured.map((m) => (served += m.viewerRequests / s.edges));
  const perEdge = keys
    .filter((k) => /^edge-\d+\/workerd-worker$/.test(k))
    .map((k) => slope(cumulativePerEdge.filter((_, i) => measured[i]!.rss.has(k)), measured.filter((m) => m.rss.has(k)).map((m) => m.rss.get(k)! / MIB)) * 10_000)
    .filter(Number.isFinite);
  const edgeGrowthPerTenK = perEdge.length ? perEdge.reduce((a, b) => a + b, 0) / perEdge.length : Number.NaN;
  const growing = [...slopes].filter(([k, v]) => v.server && !v.flat && v.slope > 0 && k.includes("/"));
  if (measured.length < 2) verdicts.push(`RSS: not judged (${measured.length} minute(s) after the ${s.warmup}-minute warm-up; needs 2 or more)`);
  else if (growing.length === 0) verdicts.push(`RSS: flat — every server process's RSS slope over minutes ${s.warmup + 1}–${minutes.at(-1)!.minute} is within max(5 MiB, 2 % of its mean) per 10 min`);
  else {
    pass = false;
    verdicts.push(`RSS: GROWING — ${growing.map(([k, v]) => `${k} ${fmt(v.slope, 1)} MiB/10 min (mean ${fmt(v.mean, 0)} MiB)`).join(", ")}`);
    if (Number.isFinite(edgeGrowthPerTenK)) verdicts.push(`the edge Workers' own workerd grew ${fmt(edgeGrowthPerTenK, 1)} MiB per 10,000 viewer requests it served (mean over the edges; wrangler's dev proxy is apart); \`npm run bench -- edge-rss\` measures the same for a one-line Worker under the same wrangler dev, which tells the local runtime's share, and the live JS heap line above tells Cascade's`);
  }

  // Errors.
  const all: Record<string, number> = {};
  for (const m of minutes) {
    mergeCounts(all, m.viewerErrors, "viewer ");
    mergeCounts(all, chatErrors(m.chat), "chat ");
    mergeCounts(all, m.logErrors, "error lines in the log of ");
    for (const e of m.exits) all[e] = (all[e] ?? 0) + 1;
  }
  const totalErrors = sumCounts(all);
  const warmErrors = minutes.filter((m) => m.minute <= s.warmup).reduce((a, m) => a + minuteErrors(m), 0);
  const reloads = minutes.flatMap((m) => m.reloads.map((e) => `${e} in minute ${m.minute}`));
  if (totalErrors === 0) verdicts.push("errors: 0");
  else {
    pass = false;
    verdicts.push(`errors: ${totalErrors} (${warmErrors} in the warm-up) — ${countsByCount(all)}`);
  }
  if (reloads.length) verdicts.push(`Worker reloads during the soak (wrangler dev rebuilt the Worker: a file under edge/ or wrangler.toml changed; every chat socket of that edge drops): ${reloads.join(", ")}`);

  // Latency drift: median of the per-minute p50s, last K minutes vs first K minutes after the warm-up.
  const k = Math.min(5, Math.floor(measured.length / 2));
  const p50s = measured.map((m) => histPercentile(m.latency, 50));
  const firstMed = k > 0 ? median(p50s.slice(0, k)) : Number.NaN;
  const lastMed = k > 0 ? median(p50s.slice(-k)) : Number.NaN;
  const drift = lastMed - firstMed;
  const driftLimit = s.partTarget * 1000;
  if (!Number.isFinite(drift)) verdicts.push(`latency drift: not judged (${measured.length} minute(s) after the warm-up; needs 2 or more)`);
  else if (Math.abs(drift) <= driftLimit) verdicts.push(`latency drift: none — capture-to-display p50 ${sec(firstMed)} s in the first ${k} min after the warm-up, ${sec(lastMed)} s in the last ${k} min (${drift >= 0 ? "+" : ""}${fmt(drift, 0)} ms, within ±${fmt(driftLimit, 0)} ms = one part target)`);
  else {
    pass = false;
    verdicts.push(`latency drift: ${drift >= 0 ? "+" : ""}${fmt(drift, 0)} ms — capture-to-display p50 ${sec(firstMed)} s (first ${k} min after the warm-up) → ${sec(lastMed)} s (last ${k} min); more than one part target (${fmt(driftLimit, 0)} ms)`);
  }
  // Whether the machine carried the load: a viewer that falls behind the live edge skips parts.
  const share = measured.length ? measured.reduce((a, m) => a + m.parts, 0) / measured.reduce((a, m) => a + (m.viewersJoined * 60) / s.partTarget, 0) : Number.NaN;
  const cpuPerReq = median(measured.map((m) => edgeCpuPerRequest(m, 60)).filter(Number.isFinite));
  const edgeCpu = median(measured.map(edgeCpuPct));
  verdicts.push(
    `load: viewers got ${fmt(share * 100, 1)} % of the parts a viewer at the live edge gets (${share >= 0.95 ? "carried" : "NOT carried: viewers fell behind"}); ` +
      `edges used ${fmt(edgeCpu, 0)} % CPU (100 % = one core), ${fmt(cpuPerReq, 2)} ms per viewer request — ${s.viewers} viewers at the live edge make ${fmt((s.viewers * 2) / s.partTarget, 0)} requests/s, ≈ ${fmt(((s.viewers * 2) / s.partTarget) * cpuPerReq / 10, 0)} % CPU at that cost`,
  );
  if (failure) verdicts.push(`run: FAILED — ${failure.split("\n")[0]}`);
  else if (minutes.length < s.minutes) verdicts.push(`run: stopped after ${minutes.length} of ${s.minutes} minutes`);
  verdicts.push(pass ? "soak: PASS (RSS flat, 0 errors, no latency drift)" : "soak: FAIL (see above)");

  const allLatency = new Map<number, number>();
  const allChat = new Map<number, number>();
  for (const m of measured) {
    for (const [b, n] of m.latency) allLatency.set(b, (allLatency.get(b) ?? 0) + n);
    for (const [b, n] of m.chatLatency) allChat.set(b, (allChat.get(b) ?? 0) + n);
  }
  const none = "none (a soak has no natural baseline)";
  const serverSlopes = [...slopes].filter(([key, v]) => v.server && !key.includes("/"));
  const worst = serverSlopes.filter(([, v]) => Number.isFinite(v.slope)).sort((a, b) => Math.abs(b[1].slope) - Math.abs(a[1].slope))[0];
  const figures: Figure[] = [
    { figure: "errors (viewers, chat, process exits, error log lines), whole run", cascade: String(totalErrors), baseline: none, ratio: "–" },
    { figure: `capture-to-display p50 / p95 after the warm-up (s)`, cascade: `${sec(histPercentile(allLatency, 50))} / ${sec(histPercentile(allLatency, 95))}`, baseline: none, ratio: "–" },
    { figure: k > 0 ? `capture-to-display drift: p50 last ${k} min − first ${k} min after the warm-up (ms)` : "capture-to-display drift (needs 2 minutes after the warm-up)", cascade: fmt(drift, 0), baseline: none, ratio: "–" },
    { figure: "chat delivery p50 / p95 after the warm-up (ms)", cascade: `${fmt(histPercentile(allChat, 50, 0.1), 1)} / ${fmt(histPercentile(allChat, 95, 0.1), 1)}`, baseline: none, ratio: "–" },
    ...(worst ? [{ figure: `steepest RSS slope of a server process tree after the warm-up (MiB / 10 min)`, cascade: `${fmt(worst[1].slope, 2)} (${worst[0]}, mean ${fmt(worst[1].mean, 0)} MiB)`, baseline: none, ratio: "–" }] : []),
    { figure: "edge Workers' own workerd RSS growth per 10,000 viewer requests served, after the warm-up (MiB)", cascade: fmt(edgeGrowthPerTenK, 1), baseline: "see `edge-rss` (a one-line Worker, same runtime)", ratio: "–" },
    {
      figure: "edge Workers' live JS heap (snapshot after full GC), end of warm-up → end (MiB)",
      cascade: [...liveHeaps].sort().map(([e, v]) => `${e} ${v.map((x) => fmt(x.heap.liveMiB, 2)).join(" → ")}`).join("; ") || "not read",
      baseline: none,
      ratio: "–",
    },
    { figure: "edge CPU per viewer request, median over the minutes after the warm-up (ms)", cascade: fmt(cpuPerReq, 2), baseline: none, ratio: "–" },
    { figure: "parts delivered to viewers, after the warm-up, per minute (mean)", cascade: fmt(measured.reduce((a, m) => a + m.parts, 0) / (measured.length || 1), 0), baseline: `${fmt((s.viewers * 60) / s.partTarget, 0)} (every viewer every part)`, ratio: "–" },
  ];
  const last = minutes.at(-1)!;
  const notes = [
    ...verdicts.map((v) => `Verdict — ${v}`),
    "Baseline: none. A soak compares the system with itself over time (RSS slope, errors, latency drift); no other system does the same job on this stack to run beside it.",
    `Capture-to-display here is the wall clock when a simulated viewer has a part's bytes minus the part's PROGRAM-DATE-TIME (its segment's PDT — the wall clock when the segment's first frame reached the transcoder — plus the durations of the parts before it): a player that showed each part the moment it arrived; hls.js adds its buffer (PART-HOLD-BACK) on top. The publisher's own encode and RTMP send come before the PDT clock starts.`,
    `RSS: VmRSS from /proc/<pid>/status of every process in each tree (a role's root and its descendants: wrangler's node process and its workerd processes; the transcoder node and its ffmpeg), summed per role and per command, once a minute. Slope: least squares over the minutes after the ${s.warmup}-minute warm-up, in MiB per 10 min; "flat" when |slope| ≤ max(5 MiB, 2 % of the mean). RSS also holds memory a runtime has not yet returned to the OS.`,
    "Errors: viewers' non-200 answers, timeouts and transport errors; chat send failures, error frames (e.g. rate_limited), deliveries lost (a message not at every socket that was in the room within 10 s), sockets closed or failing to connect; processes of the stack that exited; error lines (pino level ≥ 50, wrangler `[ERROR]`/✘, uncaught exceptions) in the origin's, the transcoder's and the edges' logs after start-up.",
    `Other work on this machine (2 shared cores; other engineers' tests ran at the same time during development runs) competes with the soak: the load average column shows it. Last minute's load average: ${fmt(last.load1, 2)}.`,
    "Per-minute raw figures: bench/out/soak-minutes.csv; RSS per process per minute: bench/out/soak-rss.csv; logs: bench/out/soak-*.log.",
  ];
  const rssTable: Table = {
    title: `RSS per process (MiB): tree totals and per command; slope over minutes ${s.warmup + 1}–${last.minute}`,
    columns: ["process", "kind", "minute 1", `minute ${s.warmup + 1}`, `minute ${last.minute}`, "max", "slope MiB/10 min", "flat if |slope| ≤", "verdict"],
    rows: rssRows,
  };
  const bench: BenchResult = {
    name: LABEL,
    title: TITLE,
    method:
      `The real stack as separate processes: core-origin, one transcoder node (\`gpu-transcoder/main.ts\`, ladder ${LADDER} + AAC, part target ${s.partTarget} s), ${s.edges} edge Worker(s) in workerd ` +
      `(\`wrangler dev\` through scripts/edge-process.ts; edges 2..${s.edges} forward the control plane to edge-1, as \`npm start -- --edges ${s.edges}\`). A stream is created through the API and published by ffmpeg over RTMP ` +
      `(testsrc2 ${SOURCE.width}x${SOURCE.height}@${SOURCE.fps} with a burnt-in wall clock, libx264 veryfast zerolatency ${SOURCE.videoKbps} kb/s, keyframe every ${SOURCE.gopSeconds} s, AAC); the go-live saga puts it on air. ` +
      `${s.viewers} simulated LL-HLS viewers (bench/lib/soak-player-child.ts, ${s.loadgens} process(es)) are spread evenly over the edges${s.via === "direct" ? " (each Worker's own workerd port)" : " (wrangler dev's public port)"}, joining over ${s.rampSeconds} s: a plain playlist load, then blocking reloads (\`_HLS_msn\`/\`_HLS_part\`) for each next part and a GET of each part it lists. ` +
      (s.chatters > 0 ? `${s.chatters} chatters (signed up through the API, bench/lib/soak-chat-child.ts) hold WebSockets to the stream's chat room spread over the edges and together send ${s.chatRate} messages/s; every socket measures send → receive. ` : "") +
      `Once a minute: RSS and CPU of every process tree, errors, capture-to-display latency (p50/p95 over every part every viewer got), chat delivery latency and parts received.`,
    settings: `${s.minutes} min (warm-up ${s.warmup} min), ${s.viewers} viewers over ${s.edges} edge(s) via ${s.via === "direct" ? "the Workers' own ports" : "wrangler dev's proxy"}, ${s.chatters} chatters at ${s.chatRate} msg/s, rendition ${RENDITION}, part target ${s.partTarget} s, ${s.loadgens} viewer load-generator process(es)`,
    figures,
    tables: [minuteTable(minutes, s), rssTable],
    notes,
  };
  return { bench, verdicts, pass };
};

const writeMinutesCsv = (minutes: Minute[]): void => {
  const lines = ["minute,viewers,parts,requests,c2d_p50_ms,c2d_p95_ms,c2d_samples,parts_skipped,parts_not_listed,chat_sent,chat_deliveries,chat_p50_ms,chat_p95_ms,viewer_errors,chat_errors,log_error_lines,exits,encoder_speed,load1"];
  for (const m of minutes) {
    lines.push(
      [
        m.minute, m.viewersJoined, m.parts, m.viewerRequests, histPercentile(m.latency, 50), histPercentile(m.latency, 95), histCount(m.latency), m.partSkipped, m.partNotListed,
        m.chat?.sent ?? "", m.chat?.deliveries ?? "", histPercentile(m.chatLatency, 50, 0.1), histPercentile(m.chatLatency, 95, 0.1),
        sumCounts(m.viewerErrors), sumCounts(chatErrors(m.chat)), sumCounts(m.logErrors), m.exits.length, m.encoderSpeed, m.load1,
      ].join(","),
    );
  }
  writeFileSync(path.join(OUT_DIR, "soak-minutes.csv"), `${lines.join("\n")}\n`);
  const rss = ["minute,process,rss_kib,cpu_percent"];
  for (const m of minutes) for (const [k, v] of m.rss) rss.push(`${m.minute},${k},${v},${fmt(m.cpuPct.get(k) ?? Number.NaN, 1)}`);
  // The Worker's V8 heap in use, in the same unit, beside its workerd's RSS.
  for (const m of minutes) for (const [e, h] of m.heap) rss.push(`${m.minute},${e}/Worker JS heap,${Math.round(h.usedMiB * 1024)},`);
  writeFileSync(path.join(OUT_DIR, "soak-rss.csv"), `${rss.join("\n")}\n`);
};

/** Replaces (or appends) the soak section of the results file, keeping every other section in place. */
const writeResults = (file: string, section: string): void => {
  const existing = readSections(file);
  const order = [...existing.keys()];
  if (!existing.has(LABEL)) order.push(LABEL);
  writeFileSync(file, renderResultsFile(order, existing, new Map([[LABEL, section]])));
};

await main();
