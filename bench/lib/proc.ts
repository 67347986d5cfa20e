import { fork, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { resolveFfmpeg } from "../../gpu-transcoder/ffmpeg/probe.ts";
import { sleep } from "./clock.ts";

export const ROOT = path.resolve(import.meta.dirname, "..", "..");
/** Scratch space for generated media and child logs (git-ignored). */
export const OUT_DIR = path.join(ROOT, "bench", "out");
mkdirSync(OUT_DIR, { recursive: true });

let ffmpeg: string | null = null;
/** The ffmpeg binary the transcoder would use (FFMPEG_PATH, else the system one, else the npm build). */
export const ffmpegPath = (): string => (ffmpeg ??= resolveFfmpeg().path);

/**
 * TypeScript children run as `node --import tsx file.ts` rather than `npx tsx file.ts`: same loader,
 * but one process instead of npx → tsx → node, so the pid we hold is the server itself (its RSS is
 * what we sample, its exit is what we wait for) and IPC reaches it directly.
 */
export const TSX_EXEC_ARGV = ["--import", "tsx"];

const children = new Set<ChildProcess>();

/** Remembers a child so it is killed if the benchmark dies; only ever children we spawned. */
export const track = <T extends ChildProcess>(child: T): T => {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
};

/** Children started in their own process group (`detached`): the whole group is killed, not just the leader. */
const groups = new Set<ChildProcess>();

const killGroup = (child: ChildProcess, signal: NodeJS.Signals): void => {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // the group is gone already
  }
};

const killTracked = () => {
  for (const child of groups) killGroup(child, "SIGKILL");
  for (const child of children) child.kill("SIGKILL");
};
process.once("exit", killTracked);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killTracked();
    process.exit(130);
  });
}

export const spawnTracked = (cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess =>
  track(spawn(cmd, args, { cwd: ROOT, ...options }));

/**
 * Remembers a child that leads its own process group (spawned with `detached: true`, e.g. wrangler,
 * which runs workerd as its child, or nginx with its workers): if the benchmark dies or is
 * interrupted, the whole group gets SIGKILL.
 */
export const trackGroup = <T extends ChildProcess>(child: T): T => {
  if (child.pid === undefined) return child;
  groups.add(child);
  child.once("exit", () => {
    // The leader is gone; kill what it may have left behind in its group, then forget it.
    killGroup(child, "SIGKILL");
    groups.delete(child);
  });
  return child;
};

/** Spawns `cmd` as the leader of a new process group, tracked so the group dies with the benchmark. */
export const spawnGroup = (cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess =>
  trackGroup(spawn(cmd, args, { cwd: ROOT, ...options, detached: true }));

/** `signal` to a tracked group, then SIGKILL to the group if its leader has not exited within `graceMs`. */
export const stopGroup = async (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 5000): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  killGroup(child, signal);
  const timer = setTimeout(() => killGroup(child, "SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
};

/** Forks a TypeScript module with an IPC channel. */
export const forkTs = (modulePath: string, args: string[] = [], options: { stdio?: SpawnOptions["stdio"] } = {}): ChildProcess =>
  track(fork(modulePath, args, { cwd: ROOT, execArgv: TSX_EXEC_ARGV, stdio: options.stdio ?? ["ignore", "inherit", "inherit", "ipc"] }));

export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`. */
export const stopChild = async (child: ChildProcess, graceMs = 5000): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
};

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });

/** Polls `url` until it answers 2xx; fails early if `child` exits first. */
export const waitForHttp = async (url: string, child: ChildProcess, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${url}`);
    await sleep(200);
  }
};

/** Resident set size and its peak, in KiB, from /proc/<pid>/status (Linux). */
export const readRss = (pid: number): { rssKiB: number; hwmKiB: number } | null => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rssKiB: field("VmRSS"), hwmKiB: field("VmHWM") };
  } catch {
    return null;
  }
};

/** USER_HZ: 100 on every Linux architecture Node runs on. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (Linux). */
export const readCpuSeconds = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
};

/**
 * CPU seconds used so far by every live process in process group `pgid` (a detached child and what
 * it started: wrangler and its workerd, nginx and its workers). Processes that already exited are
 * not counted, so take both readings while the group runs.
 */
export const groupCpuSeconds = (pgid: number): number => {
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    } catch {
      // exited while we looked
    }
  }
  return total;
};

/** Runs a command to completion, collecting stderr for the error message. */
export const runToCompletion = (cmd: string, args: string[]): Promise<void> =>
  new Promise((resolve, reject) => {
    const child = spawnTracked(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${stderr.trim()}`))));
  });
