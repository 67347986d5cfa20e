/**
 * Runs one edge Worker instance locally: `wrangler dev` (workerd) on its own port with its own
 * persisted state (and so its own Cache API), pointed at an origin. `npm start`, the end-to-end
 * tests and the benchmarks all start edges through here, so they run the same thing.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
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
  /** More secrets for the Worker (JWT_SECRET, NODE_SECRET …), passed through the env file like the admin token. */
  secrets?: Record<string, string>;
  /** More plain vars (`--var NAME:value`), e.g. CONTROL_PLANE_URL, INGEST_RTMP_URL. */
  vars?: Record<string, string>;
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

/** Where an edge's workerd state (Cache API, D1 …) persists: `<stateDir>/edge-<n>/state`. */
export const edgePersistDir = (stateDir: string, index: number): string => path.join(stateDir, `edge-${index}`, "state");

/**
 * Applies the D1 migrations (wrangler.toml `migrations_dir`) to an edge's local database, the one
 * `wrangler dev --persist-to` of the same directory serves. Idempotent: applied ones are skipped.
 */
export const applyEdgeMigrations = (o: { index: number; stateDir: string; root: string; env?: NodeJS.ProcessEnv }): Promise<string> => {
  const persistTo = edgePersistDir(o.stateDir, o.index);
  mkdirSync(persistTo, { recursive: true });
  const wrangler = path.join(o.root, "node_modules", ".bin", "wrangler");
  return new Promise((resolve, reject) => {
    execFile(
      wrangler,
      ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo],
      // CI=true: never prompt for confirmation.
      { cwd: o.root, env: { ...process.env, ...o.env, ...OFFLINE_WRANGLER_ENV, CI: "true" }, timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`edge-${o.index}: D1 migrations failed: ${err.message}\n${stdout}${stderr}`)) : resolve(stdout)),
    );
  });
};

/**
 * Edge 1 as a saga's control plane on `port` (tests and benchmarks): as npm start, EDGE_URLS names
 * every edge (here the one), so warmup_cdn prewarms it and probes through it, for up to 60 s.
 */
export const sagaEdgeOptions = (o: Omit<EdgeProcessOptions, "index" | "vars"> & { vars?: Record<string, string> }): EdgeProcessOptions => ({
  ...o,
  index: 1,
  vars: { EDGE_URLS: `http://127.0.0.1:${o.port}`, SAGA_WARMUP_TIMEOUT_S: "60", ...o.vars },
});

export const startEdgeProcess = (o: EdgeProcessOptions): EdgeProcess => {
  const name = `edge-${o.index}`;
  const dir = path.join(o.stateDir, name);
  mkdirSync(dir, { recursive: true });
  // Secrets go through a file, not argv, so they do not show up in `ps`.
  const envFile = path.join(dir, "secrets.env");
  const secrets = { EDGE_ADMIN_TOKEN: o.adminToken, ...o.secrets };
  writeFileSync(envFile, Object.entries(secrets).map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600 });
  const wrangler = path.join(o.root, "node_modules", ".bin", "wrangler");
  const args = [
    "dev",
    "--ip", "127.0.0.1",
    "--port", String(o.port),
    "--inspector-port", "0",
    "--persist-to", edgePersistDir(o.stateDir, o.index),
    "--var", `ORIGIN_URL:${o.originUrl}`,
    "--var", `EDGE_ID:${name}`,
    ...Object.entries(o.vars ?? {}).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
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
