import type { ChildProcess } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync } from "node:fs";
import path from "node:path";
import { OUT_DIR, TSX_EXEC_ARGV, freePort, spawnTracked, stopChild, waitForHttp } from "./proc.ts";

export const NODE_SECRET = "cascade-bench-node-secret-0123456789";

export interface ServerProcess {
  url: string;
  pid: number;
  child: ChildProcess;
  logFile: string;
  stop(): Promise<void>;
}

/**
 * Starts a server module in its own process on a free loopback port and waits for /healthz.
 * Its stdout/stderr go to bench/out/<label>.log so the server's logging never blocks on our console.
 */
const startServer = async (
  label: string,
  entry: string,
  env: Record<string, string>,
  port: number,
  cleanup: () => void = () => {},
): Promise<ServerProcess> => {
  const logFile = path.join(OUT_DIR, `${label}.log`);
  const fd = openSync(logFile, "w");
  const child = spawnTracked(process.execPath, [...TSX_EXEC_ARGV, entry], {
    env: { ...process.env, ...env },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/healthz`, child);
  } catch (err) {
    await stopChild(child);
    cleanup();
    throw new Error(`${label} did not start (see ${logFile}): ${(err as Error).message}`);
  }
  return {
    url,
    pid: child.pid!,
    child,
    logFile,
    async stop() {
      await stopChild(child);
      cleanup();
    },
  };
};

/**
 * The real core-origin (`core-origin/main.ts`, as `npm run origin` and production run it) in its own
 * process, configured from the environment (core-origin/config.ts): secret, port, storage
 * directory; window sizes stay at their defaults unless `extraEnv` sets them.
 */
export const startOrigin = async (label = "origin", extraEnv: Record<string, string> = {}): Promise<ServerProcess> => {
  const port = await freePort();
  // Under bench/out (git-ignored) like every other benchmark output; removed when the origin stops.
  mkdirSync(path.join(OUT_DIR, "store"), { recursive: true });
  const storageDir = mkdtempSync(path.join(OUT_DIR, "store", `${label}-`));
  return startServer(
    label,
    "core-origin/main.ts",
    { CASCADE_NODE_SECRET: NODE_SECRET, CASCADE_ORIGIN_PORT: String(port), CASCADE_STORAGE_DIR: storageDir, ...extraEnv },
    port,
    () => rmSync(storageDir, { recursive: true, force: true }),
  );
};

/** The minimal long-poll server (bench/lib/baseline-server.ts) used as the latency baseline. */
export const startBaselineServer = async (label = "baseline"): Promise<ServerProcess> => {
  const port = await freePort();
  return startServer(label, "bench/lib/baseline-server.ts", { BENCH_BASELINE_PORT: String(port) }, port);
};
