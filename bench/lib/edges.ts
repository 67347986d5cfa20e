/**
 * Edge Worker instances for the benchmarks: `wrangler dev` (workerd), started through
 * scripts/edge-process.ts exactly as `npm start -- --edges N` starts them, each on a free port with
 * its own fresh state directory (so its own, empty, Cache API) under bench/out/edge-state/.
 * wrangler runs workerd as its child in the process group it leads: the group is tracked and
 * killed if the benchmark dies or is interrupted.
 */
import { createWriteStream, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { applyEdgeMigrations, sagaEdgeOptions, startEdgeProcess, type EdgeProcess, type EdgeProcessOptions } from "../../scripts/edge-process.ts";
import { NODE_SECRET } from "./origin-process.ts";
import { OUT_DIR, ROOT, freePort, trackGroup } from "./proc.ts";

export const EDGE_ADMIN_TOKEN = "cascade-bench-edge-admin-token-0123456789";
/** The edges' JWT_SECRET in every benchmark that signs users in (sessions, playback tokens). */
export const JWT_SECRET = "cascade-bench-jwt-secret-0123456789abcdef";

/**
 * Starts one edge as npm start does, with its process group tracked (killed if the benchmark dies)
 * and its output in `logFile`: wrangler's output must be drained, or it blocks once the pipe is full.
 */
export const startLoggedEdge = (o: EdgeProcessOptions, logFile: string): EdgeProcess => {
  const p = startEdgeProcess(o);
  trackGroup(p.child);
  const logStream = createWriteStream(logFile);
  p.child.stdout!.pipe(logStream);
  p.child.stderr!.pipe(logStream);
  return p;
};

/** Edge 1 as the control plane of a saga benchmark, in front of `originUrl` (scripts/edge-process.ts sagaEdgeOptions). */
export const startSagaEdge = (o: { port: number; originUrl: string; stateDir: string }, logFile: string): EdgeProcess =>
  startLoggedEdge(sagaEdgeOptions({ ...o, adminToken: EDGE_ADMIN_TOKEN, root: ROOT, secrets: { JWT_SECRET, NODE_SECRET } }), logFile);

export interface BenchEdge {
  name: string;
  url: string;
  port: number;
  /** Process group id (wrangler's pid): workerd runs inside it. */
  pgid: number;
  logFile: string;
}

export interface RunningEdges {
  edges: BenchEdge[];
  /**
   * Throws if an edge has exited. wrangler dev rebuilds when edge/ or wrangler.toml change and exits
   * on a broken configuration: nobody should edit those while a benchmark runs.
   */
  check(): void;
  stop(): Promise<void>;
}

/** Starts `count` edges in front of `originUrl` and waits until every one answers /healthz. */
export const startEdges = async (label: string, count: number, originUrl: string, log: (line: string) => void): Promise<RunningEdges> => {
  const parent = path.join(OUT_DIR, "edge-state");
  mkdirSync(parent, { recursive: true });
  // State left behind by an interrupted run of the same benchmark.
  for (const old of readdirSync(parent)) if (old.startsWith(`${label}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
  const stateDir = mkdtempSync(path.join(parent, `${label}-`));
  const processes: EdgeProcess[] = [];
  const edges: BenchEdge[] = [];
  let stopping = false;
  const gone: string[] = [];
  const stop = async () => {
    stopping = true;
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(stateDir, { recursive: true, force: true });
  };
  try {
    // The playlist routes read a stream's visibility from D1 (private streams): migrated as npm start does.
    await Promise.all(Array.from({ length: count }, (_, i) => applyEdgeMigrations({ index: i + 1, stateDir, root: ROOT })));
    for (let i = 1; i <= count; i++) {
      const port = await freePort();
      const logFile = path.join(OUT_DIR, `${label}-edge-${i}.log`);
      const p = startLoggedEdge({ index: i, port, originUrl, adminToken: EDGE_ADMIN_TOKEN, stateDir, root: ROOT }, logFile);
      processes.push(p);
      edges.push({ name: p.name, url: p.url, port, pgid: p.child.pid!, logFile });
      p.child.once("exit", (code, signal) => {
        if (!stopping) gone.push(`${p.name} exited (${code ?? signal}) during the benchmark; see ${path.relative(ROOT, logFile)}`);
      });
    }
    log(`starting ${count} edge${count === 1 ? "" : "s"} (wrangler dev / workerd): ${edges.map((e) => e.url).join(", ")}`);
    await Promise.all(processes.map((p) => p.ready(120_000)));
  } catch (err) {
    await stop();
    throw new Error(`edges did not start (logs: ${edges.map((e) => path.relative(ROOT, e.logFile)).join(", ")}): ${(err as Error).message}`);
  }
  return {
    edges,
    check() {
      if (gone.length) throw new Error(gone.join("; "));
    },
    stop,
  };
};
