/**
 * The processes behind `wrangler dev`: it runs a proxy (a workerd of its own, on the public port)
 * and the Worker (another workerd, on a random port), both in the process group wrangler leads.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** TCP ports process `pid` listens on (Linux /proc). */
export const listeningPorts = (pid: number): number[] => {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && inodes.has(f[9] ?? "")) ports.push(parseInt(f[1]!.split(":")[1]!, 16));
  }
  return ports;
};

/** Processes of process group `pgid` whose command is workerd. */
export const workerdPids = (pgid: number): number[] => {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0")[0]!.endsWith("/workerd")) out.push(Number(entry));
    } catch {
      // exited
    }
  }
  return out;
};

/**
 * The Worker's own workerd behind wrangler's dev proxy: `wrangler dev` runs the proxy (a workerd of
 * its own, on the public port) and the Worker (another workerd, on a random port). The one whose
 * /healthz answers as the edge on a port other than the public one.
 */
export const findWorker = async (pgid: number, publicPort: number): Promise<{ pid: number; port: number }> => {
  for (const pid of workerdPids(pgid)) {
    for (const port of listeningPorts(pid)) {
      if (port === publicPort) continue;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { component?: string };
        if (res.ok && body.component === "edge") return { pid, port };
      } catch {
        // not the Worker's socket
      }
    }
  }
  throw new Error("could not find the Worker's own workerd behind wrangler dev's proxy");
};

/**
 * Of `pgid`'s workerd processes, the Worker's own (wrangler gives it the `--inspector-addr` its
 * inspector proxy connects to) and the dev proxy's (the rest).
 */
export const workerdRoles = (pgid: number): { worker: number[]; proxy: number[] } => {
  const worker: number[] = [];
  const proxy: number[] = [];
  for (const pid of workerdPids(pgid)) {
    try {
      (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").some((a) => a.startsWith("--inspector-addr")) ? worker : proxy).push(pid);
    } catch {
      // exited
    }
  }
  return { worker, proxy };
};
