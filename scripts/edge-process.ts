/**
 * Runs one edge Worker instance locally: `wrangler dev` (workerd) on its own port with its own
 * persisted state (and so its own Cache API), pointed at an origin. `npm start`, the end-to-end
 * tests and the benchmarks all start edges through here, so they run the same thing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

export interface EdgeProcessOptions {
  /** 1-based instance number: names the edge (`edge-<n>`) and its state directory. */
  index: number;
  port: number;
  originUrl: string;
  adminToken: string;
  /** Parent of the per-edge state directories (`<stateDir>/edge-<n>`). */
  stateDir: string;
  /** Repository root (where wrangler.toml is). */
  root: string;
  env?: NodeJS.ProcessEnv;
}

export interface EdgeProcess {
  name: string;
  url: string;
  child: ChildProcess;
  /** Resolves once /healthz answers; rejects if wrangler exits first or after timeoutMs. */
  ready(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Environment that keeps wrangler off the network: no telemetry, no `cf` object download. */
export const OFFLINE_WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" } as const;

export const startEdgeProcess = (o: EdgeProcessOptions): EdgeProcess => {
  const name = `edge-${o.index}`;
  const dir = path.join(o.stateDir, name);
  mkdirSync(dir, { recursive: true });
  // The admin token goes through a file, not argv, so it does not show up in `ps`.
  const envFile = path.join(dir, "secrets.env");
  writeFileSync(envFile, `EDGE_ADMIN_TOKEN=${o.adminToken}\n`, { mode: 0o600 });
  const wrangler = path.join(o.root, "node_modules", ".bin", "wrangler");
  const args = [
    "dev",
    "--ip", "127.0.0.1",
    "--port", String(o.port),
    "--inspector-port", "0",
    "--persist-to", path.join(dir, "state"),
    "--var", `ORIGIN_URL:${o.originUrl}`,
    "--var", `EDGE_ID:${name}`,
    "--env-file", envFile,
    "--show-interactive-dev-session=false",
    "--log-level", "warn",
  ];
  const child = spawn(wrangler, args, { cwd: o.root, env: { ...process.env, ...o.env, ...OFFLINE_WRANGLER_ENV }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  const url = `http://127.0.0.1:${o.port}`;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    name,
    url,
    child,
    async ready(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let gone = false;
      void exited.then(() => (gone = true));
      while (Date.now() < deadline && !gone) {
        try {
          if ((await fetch(`${url}/healthz`)).ok) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 150));
      }
      throw new Error(gone ? `${name}: wrangler dev exited before it was ready` : `${name}: not ready at ${url} after ${timeoutMs} ms`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      // wrangler runs workerd as its own child: signal the whole process group.
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // already gone
        }
      };
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
};
