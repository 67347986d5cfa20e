/**
 * Pieces for the fault-injection suite: core-origin and transcoder nodes as their own processes
 * (so they can be killed with SIGKILL, as a crash or an OOM kill would), the edge in workerd with
 * the control plane, and a player-like watcher that follows a media playlist through the edge,
 * fetches every new part and records when media arrived, so a test can report the gap a fault made.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { validateMediaFragment } from "../../shared/mp4/index.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { NODE_SECRET, sleep, waitFor } from "../live-path/harness.ts";

export { EDGE_ADMIN_TOKEN, freePort, NODE_SECRET, sleep, waitFor };
export const ROOT = path.resolve(import.meta.dirname, "../..");
export const JWT_SECRET = "jwt-secret-for-the-fault-suite-0123456789";
export const LADDER = "180p:320x180@30:400:main";

export interface Service {
  label: string;
  child: ChildProcess;
  logFile: string;
  /** SIGKILL to the whole process group (the node's ffmpeg dies with it), then wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM, SIGKILL after 5 s. */
  stop(): Promise<void>;
  tail(lines?: number): string;
}

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;
const exitOf = (child: ChildProcess): Promise<void> => (alive(child) ? new Promise((r) => child.once("exit", () => r())) : Promise.resolve());

/** `node --import tsx <script>` as the leader of its own process group, output to `logFile`. */
export const spawnService = (label: string, script: string, env: Record<string, string>, logFile: string): Service => {
  const fd = openSync(logFile, "a");
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", fd, fd], detached: true });
  closeSync(fd);
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // already gone
    }
  };
  return {
    label,
    child,
    logFile,
    async kill9() {
      signalGroup("SIGKILL");
      await exitOf(child);
    },
    async stop() {
      if (!alive(child)) return signalGroup("SIGKILL");
      signalGroup("SIGTERM");
      const timer = setTimeout(() => signalGroup("SIGKILL"), 5_000);
      await exitOf(child);
      clearTimeout(timer);
      signalGroup("SIGKILL");
    },
    tail(lines = 30) {
      try {
        return readFileSync(logFile, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
  };
};

const healthy = async (url: string, service: Service, timeoutMs = 30_000) =>
  waitFor(`${service.label} at ${url}`, async () => {
    if (!alive(service.child)) throw new Error(`${service.label} exited:\n${service.tail()}`);
    return (await fetch(url).catch(() => null))?.ok ?? false;
  }, timeoutMs);

export interface OriginService extends Service {
  url: string;
  port: number;
}

export const startOriginService = async (o: { label: string; port: number; storageDir: string; archiveUrl?: string; dir: string }): Promise<OriginService> => {
  const service = spawnService(o.label, "core-origin/main.ts", {
    CASCADE_NODE_SECRET: NODE_SECRET,
    CASCADE_ORIGIN_PORT: String(o.port),
    CASCADE_STORAGE_DIR: o.storageDir,
    ...(o.archiveUrl ? { CASCADE_ARCHIVE_URL: o.archiveUrl } : {}),
  }, path.join(o.dir, `${o.label}.log`));
  const url = `http://127.0.0.1:${o.port}`;
  await healthy(`${url}/healthz`, service);
  return { ...service, url, port: o.port };
};

export interface NodeService extends Service {
  nodeId: string;
  rtmpUrl: string;
  controlUrl: string;
}

export const startNodeService = async (o: { nodeId: string; origins: string[]; controlPlaneUrl: string; dir: string; env?: Record<string, string> }): Promise<NodeService> => {
  const [rtmpPort, controlPort] = [await freePort(), await freePort()];
  const service = spawnService(o.nodeId, "gpu-transcoder/main.ts", {
    CASCADE_NODE_SECRET: NODE_SECRET,
    CASCADE_NODE_ID: o.nodeId,
    CASCADE_ORIGINS: o.origins.join(","),
    CASCADE_CONTROL_PLANE_URL: o.controlPlaneUrl,
    CASCADE_RTMP_HOST: "127.0.0.1",
    CASCADE_RTMP_PORT: String(rtmpPort),
    CASCADE_CONTROL_HOST: "127.0.0.1",
    CASCADE_CONTROL_PORT: String(controlPort),
    CASCADE_LADDER: LADDER,
    CASCADE_PART_TARGET: "0.5",
    CASCADE_SEGMENT_DURATION: "2",
    CASCADE_RECONNECT_GRACE: "10",
    CASCADE_MIN_SPEED: "0",
    CASCADE_SLOTS: "2",
    CASCADE_THUMBNAIL_INTERVAL: "0",
    ...o.env,
  }, path.join(o.dir, `${o.nodeId}.log`));
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  await healthy(`${controlUrl}/healthz`, service);
  return { ...service, nodeId: o.nodeId, rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`, controlUrl };
};

/** The edge Worker in workerd with D1 (migrated), the saga and R2; `originUrl` may list standbys. */
export const startControlEdge = async (o: { dir: string; originUrl: string; port?: number }): Promise<EdgeProcess> => {
  const port = o.port ?? (await freePort());
  await applyEdgeMigrations({ index: 1, stateDir: o.dir, root: ROOT });
  const edge = startEdgeProcess({
    index: 1,
    port,
    originUrl: o.originUrl,
    adminToken: EDGE_ADMIN_TOKEN,
    stateDir: o.dir,
    root: ROOT,
    secrets: { JWT_SECRET, NODE_SECRET },
    vars: { EDGE_URLS: `http://127.0.0.1:${port}`, SAGA_MONITOR_INTERVAL_S: "2", SAGA_WARMUP_TIMEOUT_S: "60" },
  });
  await edge.ready(90_000);
  return edge;
};

export const apiOf = (base: string) =>
  async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${base}${p}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  };

/** A streamer with a stream: its token, id and key. */
export const createStreamer = async (edgeUrl: string, o: { recording?: boolean } = {}) => {
  const api = apiOf(edgeUrl);
  const username = `f_${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  const signUp = await api<{ token: string }>("POST", "/api/v1/users", { username, password: "correct horse battery" });
  if (signUp.status !== 201) throw new Error(`sign-up: ${signUp.status} ${JSON.stringify(signUp.body)}`);
  const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: "Fault injection", category: "gaming", ...(o.recording ? { enable_recording: true } : {}) }, signUp.body.token);
  if (created.status !== 201) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body)}`);
  return { token: signUp.body.token, id: created.body.stream_id, key: created.body.stream_key, api };
};

export interface SeenPart {
  msn: number;
  part: number;
  at: number;
  discontinuity: boolean;
}

/**
 * Follows `<edge>/hls/<id>/<rendition>/index.m3u8` like a player that reloads every part target:
 * each part it has not seen is fetched through the edge and must be a valid fMP4 fragment.
 * Playlist answers that are not 200 (an origin outage) are counted, not fatal: players retry.
 */
export class PlaylistWatcher {
  readonly parts: SeenPart[] = [];
  readonly badParts: string[] = [];
  playlistErrors = 0;
  ended = false;
  private stopped = false;
  private readonly seen = new Set<string>();
  private loop: Promise<void> | null = null;

  constructor(
    private readonly base: string,
    private readonly intervalMs = 250,
  ) {}

  start(): this {
    this.loop = this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const res = await fetch(`${this.base}/index.m3u8`, { signal: AbortSignal.timeout(10_000) });
        const text = await res.text();
        if (res.status !== 200) this.playlistErrors++;
        else {
          const pl = parseMediaPlaylist(text);
          this.ended = pl.endList;
          for (const seg of pl.segments) {
            for (const [i, p] of (seg.parts ?? []).entries()) {
              const key = `${seg.msn}.${i}`;
              if (this.seen.has(key)) continue;
              this.seen.add(key);
              const problem = await this.fetchPart(p.uri);
              if (problem) this.badParts.push(`${key}: ${problem}`);
              this.parts.push({ msn: seg.msn, part: i, at: Date.now(), discontinuity: seg.discontinuity && i === 0 });
            }
          }
        }
      } catch {
        this.playlistErrors++;
      }
      await sleep(this.intervalMs);
    }
  }

  /**
   * A listed part that is not there yet (a 404 or 503 while an origin fails over: the playlist came
   * from the old origin, the part is re-pushed to the new one) is retried the way hls.js retries a
   * fragment; a 200 that is not a valid fragment, or a part still missing after 10 s, is a problem.
   */
  private async fetchPart(uri: string): Promise<string | null> {
    const deadline = Date.now() + 10_000;
    let last = "";
    while (Date.now() < deadline && !this.stopped) {
      const res = await fetch(`${this.base}/${uri}`, { signal: AbortSignal.timeout(10_000) }).catch((err: Error) => err);
      if (res instanceof Error) last = res.message;
      else if (res.status === 200) return validateMediaFragment(new Uint8Array(await res.arrayBuffer()));
      else last = `status ${res.status}: ${(await res.text()).slice(0, 120)}`;
      await sleep(250);
    }
    return this.stopped ? null : `not available for 10 s (${last})`;
  }

  /** Newest MSN seen so far (-1 before any). */
  get lastMsn(): number {
    return this.parts.at(-1)?.msn ?? -1;
  }

  /** The longest wait between two newly seen parts from `from` on (ms). */
  longestGapSince(from: number): number {
    const times = [from, ...this.parts.filter((p) => p.at >= from).map((p) => p.at)];
    let gap = 0;
    for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
    return gap;
  }
}

/** Frames ffprobe decodes from init + segment fetched from `base` (the player's view of one segment). */
export const decodableFrames = async (base: string, init: string, segment: string, dir: string): Promise<number> => {
  const bytes = Buffer.concat([Buffer.from(await (await fetch(`${base}/${init}`)).arrayBuffer()), Buffer.from(await (await fetch(`${base}/${segment}`)).arrayBuffer())]);
  const file = path.join(dir, `probe-${Date.now()}.mp4`);
  writeFileSync(file, bytes);
  return new Promise((resolve) => {
    execFile("ffprobe", ["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", file], (err, stdout) => {
      resolve(err ? 0 : Number(stdout.trim()) || 0);
    });
  });
};

/** Prints the figure line the README's fault table is made from. */
export const report = (fault: string, figures: Record<string, string | number | boolean>) =>
  console.log(`FAULT ${fault}: ${Object.entries(figures).map(([k, v]) => `${k} ${v}`).join(", ")}`);
