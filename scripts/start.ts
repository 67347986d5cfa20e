/**
 * `npm start`: the whole local system with built-in defaults — the edge Worker(s) in workerd,
 * core-origin, the transcoder and a demo publisher. Flags: --no-demo, --edges N (1–3 edges on
 * 8787, 8788, 8789), --json (JSON log lines even on a terminal). Ctrl-C (SIGINT/SIGTERM) stops every child.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { randomToken } from "../shared/tokens.ts";
import { resolveFfmpeg } from "../gpu-transcoder/ffmpeg/probe.ts";
import { demoPublisherArgs } from "./demo-publisher.ts";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "./edge-process.ts";
import { chooseLogFormat, createLineRelay, formatLogLine, type LineFormatOptions } from "./log-output.ts";

const args = process.argv.slice(2);
const noDemo = args.includes("--no-demo");
const edgesIndex = args.indexOf("--edges");
const edges = edgesIndex >= 0 ? Number(args[edgesIndex + 1]) : 1;
const logOptions: LineFormatOptions = { format: chooseLogFormat(args, process.stdout.isTTY), color: !process.env.NO_COLOR };
/** start's own lines, in the same format as the children's. */
const say = (level: "info" | "error", msg: string, fields: Record<string, unknown> = {}): void => {
  const line = formatLogLine("start", JSON.stringify({ level: level === "error" ? 50 : 30, time: Date.now(), msg, ...fields }), logOptions);
  (level === "error" ? process.stderr : process.stdout).write(`${line}\n`);
};
/** Every child's stdout and stderr, line by line, formatted (children write to pipes: never a terminal). */
const relayOutput = (name: string, child: ChildProcess): void => {
  for (const stream of [child.stdout!, child.stderr!]) {
    const relay = createLineRelay(name, logOptions, (text) => process.stdout.write(text));
    stream.on("data", (chunk: Buffer) => relay.push(chunk));
    stream.on("end", () => relay.flush());
  }
};
if (!Number.isInteger(edges) || edges < 1 || edges > 3) {
  console.error("--edges must be 1, 2 or 3");
  process.exit(2);
}

const root = path.resolve(import.meta.dirname, "..");
const stateDir = path.join(root, ".cascade");
mkdirSync(stateDir, { recursive: true });
const localFile = path.join(stateDir, "local.json");
// Secrets are generated once per checkout and kept out of git (.cascade/ is ignored).
if (!existsSync(localFile)) {
  writeFileSync(
    localFile,
    JSON.stringify({ nodeSecret: randomToken(32), edgeAdminToken: randomToken(32), jwtSecret: randomToken(32), streamKeys: { demo: `demo_${randomToken(12)}`, live: `live_${randomToken(12)}` } }, null, 2),
    { mode: 0o600 },
  );
}
const local = JSON.parse(readFileSync(localFile, "utf8")) as { nodeSecret: string; edgeAdminToken?: string; jwtSecret?: string; streamKeys: Record<string, string> };
if (!local.edgeAdminToken || !local.jwtSecret) {
  // A checkout from before the edge (or the control plane) existed: add what is missing, keep the keys.
  local.edgeAdminToken ??= randomToken(32);
  local.jwtSecret ??= randomToken(32);
  writeFileSync(localFile, JSON.stringify(local, null, 2), { mode: 0o600 });
}
const keysFile = path.join(stateDir, "stream-keys.json");
writeFileSync(keysFile, JSON.stringify(local.streamKeys), { mode: 0o600 });

const env: NodeJS.ProcessEnv = {
  ...process.env,
  CASCADE_NODE_SECRET: local.nodeSecret,
  CASCADE_STREAM_KEYS_FILE: process.env.CASCADE_STREAM_KEYS_FILE ?? keysFile,
  CASCADE_STORAGE_DIR: process.env.CASCADE_STORAGE_DIR ?? path.join(stateDir, "origin-store"),
  WRANGLER_SEND_METRICS: "false",
};
const ORIGIN = `http://127.0.0.1:${env.CASCADE_ORIGIN_PORT ?? 8080}`;
const CONTROL = `http://127.0.0.1:${env.CASCADE_CONTROL_PORT ?? 8090}`;
const RTMP = `rtmp://127.0.0.1:${env.CASCADE_RTMP_PORT ?? 1935}/live`;
const EDGE_BASE_PORT = Number(env.CASCADE_EDGE_PORT ?? 8787);
// The transcoder pushes to the origin started here, whatever port it was given.
env.CASCADE_ORIGINS ??= ORIGIN;
// The control plane is edge-1 (its D1 database). The transcoder checks keys there (after its local
// list: the demo and live keys keep working with no account) and heartbeats its capacity.
env.CASCADE_CONTROL_PLANE_URL ??= `http://127.0.0.1:${EDGE_BASE_PORT}`;
// Recorded streams are archived to R2 through edge-1 (its D1 holds the recordings; its R2 is miniflare's, persisted).
env.CASCADE_ARCHIVE_URL ??= `http://127.0.0.1:${EDGE_BASE_PORT}`;

const children = new Map<string, ChildProcess>();
let stopping = false;

const start = (name: string, cmd: string, argv: string[]): ChildProcess => {
  const child = spawn(cmd, argv, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  children.set(name, child);
  relayOutput(name, child);
  child.on("exit", (code, signal) => {
    if (children.get(name) === child) children.delete(name);
    if (!stopping && name !== "demo") {
      say("error", `${name} exited (${code ?? signal}); stopping everything`);
      void stop(1);
    }
  });
  return child;
};

const waitHealthy = async (url: string, name: string): Promise<void> => {
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not become healthy at ${url}`);
};

const stop = async (code = 0): Promise<void> => {
  if (stopping) return;
  stopping = true;
  say("info", "stopping…");
  // Publisher first, then the transcoder (it pushes ENDLIST to the origin), then the origin, then the edges.
  for (const [name, ms] of [["demo", 2000], ["transcoder", 8000], ["origin", 3000]] as const) {
    const child = children.get(name);
    if (!child) continue;
    child.kill("SIGTERM");
    const deadline = Date.now() + ms;
    while (children.has(name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (children.has(name)) child.kill("SIGKILL");
  }
  await Promise.all(edgeProcesses.map((e) => e.stop()));
  process.exit(code);
};
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));

const tsx = path.join(root, "node_modules", ".bin", "tsx");
const edgeProcesses: EdgeProcess[] = [];
const edgeStateDir = path.join(root, ".wrangler", "state");
// D1 migrations for every edge's local database, while the origin and the transcoder start. Only
// edge-1's database holds data (edges 2..N forward the control plane to edge-1), but every edge
// gets the schema so nothing ever meets a missing table.
const migrated = Promise.all(Array.from({ length: edges }, (_, i) => applyEdgeMigrations({ index: i + 1, stateDir: edgeStateDir, root, env })));
migrated.catch(() => {}); // awaited below; this only keeps an early failure from being "unhandled"
start("origin", tsx, ["core-origin/main.ts"]);
await waitHealthy(`${ORIGIN}/healthz`, "core-origin");
start("transcoder", tsx, ["gpu-transcoder/main.ts"]);
await waitHealthy(`${CONTROL}/healthz`, "gpu-transcoder");
try {
  await migrated;
} catch (err) {
  say("error", err instanceof Error ? err.message : String(err));
  await stop(1);
}

const EDGE_1 = `http://127.0.0.1:${EDGE_BASE_PORT}`;
// Every local edge: the go-live saga (edge-1's StreamControl objects) prewarms each of them and
// probes through the first; edges 2..N get the list too, so their configuration matches edge-1's.
const EDGE_URLS = Array.from({ length: edges }, (_, i) => `http://127.0.0.1:${EDGE_BASE_PORT + i}`).join(",");
for (let i = 1; i <= edges; i++) {
  const edge = startEdgeProcess({
    index: i,
    port: EDGE_BASE_PORT + i - 1,
    originUrl: ORIGIN,
    adminToken: local.edgeAdminToken,
    secrets: { JWT_SECRET: local.jwtSecret, NODE_SECRET: local.nodeSecret },
    vars: { INGEST_RTMP_URL: RTMP, EDGE_URLS, ...(i > 1 ? { CONTROL_PLANE_URL: EDGE_1 } : {}) },
    stateDir: edgeStateDir,
    root,
    env,
  });
  edgeProcesses.push(edge);
  relayOutput(edge.name, edge.child);
  edge.child.on("exit", (code, signal) => {
    if (!stopping) {
      say("error", `${edge.name} exited (${code ?? signal}); stopping everything`);
      void stop(1);
    }
  });
}
await Promise.all(edgeProcesses.map((e) => e.ready()));
const EDGE = edgeProcesses[0]!.url;

const startDemo = () => {
  if (stopping) return;
  const ffmpeg = resolveFfmpeg(env).path;
  const demo = start("demo", ffmpeg, demoPublisherArgs(`${RTMP}/${local.streamKeys.demo}`));
  // The demo keeps going: if it stops (it should not), publish again after a pause.
  demo.on("exit", () => setTimeout(startDemo, 2000));
};
if (!noDemo) startDemo();

const banner = `
Cascade is running.
  Watch the demo:         ${EDGE}/watch/demo${noDemo ? "   (demo publisher off: --no-demo)" : ""}
  Live streams:           ${EDGE}/
  Demo stream (LL-HLS):   ${EDGE}/hls/demo/master.m3u8
  Publish from OBS:       Server ${RTMP}   Stream key ${local.streamKeys.live}
                          then watch ${EDGE}/watch/live
  Play with ffplay:       ffplay ${EDGE}/hls/demo/master.m3u8
  Edges:                  ${edgeProcesses.map((e) => e.url).join("  ")}
  Control plane API:      ${EDGE}/api/v1   (sign up: POST /api/v1/users {username, password}; then POST /api/v1/streams)
  Origin (behind edges):  ${ORIGIN}/live/demo/master.m3u8  ${ORIGIN}/healthz  ${ORIGIN}/metrics
  Transcoder:             ${CONTROL}/healthz  ${CONTROL}/streams  ${CONTROL}/events  ${CONTROL}/metrics
  Keys, node secret and edge admin token: ${localFile}
Press Ctrl-C to stop.
`;
if (logOptions.format === "pretty") process.stdout.write(banner);
else {
  say("info", "Cascade is running", {
    watch: `${EDGE}/watch/demo`,
    edges: edgeProcesses.map((e) => e.url),
    rtmp: RTMP,
    origin: ORIGIN,
    transcoder: CONTROL,
    local_file: localFile,
    demo: !noDemo,
  });
}
