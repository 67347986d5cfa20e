/**
 * Recording end to end, with a crash: the real edge (`wrangler dev`: D1, the go-live saga, R2), the
 * real transcoder (this process) and core-origin as its own process, so it can be killed with
 * SIGKILL. A stream created through the API with `enable_recording: true` is published with ffmpeg;
 * the saga hands the recording to the node, the origin archives every init and segment to R2
 * through the edge. Mid-stream the origin's uploads are held back (a slow link to the edge), a few
 * more segments are acknowledged to the node, and the origin is killed -9, then restarted on the
 * same storage directory: every segment it acknowledged before the kill ends up in R2.
 *
 * Two small HTTP proxies stand between the processes: node → origin (it records which segment
 * boundaries the origin acknowledged) and origin → edge (it can hold the archive uploads).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TranscoderNode } from "../../gpu-transcoder/node.ts";
import { applyEdgeMigrations, type EdgeProcess } from "../../scripts/edge-process.ts";
import { originArchivePath, segmentMetadataFromR2, type ArchiveListing, type ArchiveStatus } from "../../shared/archive-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { exited, NODE_SECRET, publish, sleep, waitFor } from "../live-path/harness.ts";
import { edgeApi, signUp, startControlledNode, startSagaEdge, stopPublisher } from "../support/saga-stack.ts";
import { listArchive } from "../support/archive-listing.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const JWT_SECRET = "jwt-secret-for-the-recordings-e2e-0123456789";
const SEGMENT_RE = /^\/ingest\/v1\/streams\/([a-z0-9_-]+)\/renditions\/([a-z0-9_-]+)\/segments\/(\d+)$/;

/** A forwarding proxy; `onAnswer` sees each forwarded request's status; `hold` parks requests unanswered. */
const startProxy = async (target: () => string, onAnswer: (method: string, url: string, status: number) => void = () => {}) => {
  const held: http.ServerResponse[] = [];
  const state = { hold: false, forwarded: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (state.hold) {
        held.push(res);
        return;
      }
      const headers = new Headers();
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "connection" && k !== "content-length") headers.set(k, v);
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      fetch(`${target()}${req.url}`, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : body })
        .then(async (r) => {
          const out = Buffer.from(await r.arrayBuffer());
          state.forwarded++;
          onAnswer(req.method ?? "", req.url ?? "", r.status);
          res.writeHead(r.status, { "content-type": r.headers.get("content-type") ?? "application/octet-stream" });
          res.end(out);
        })
        .catch((err: Error) => {
          res.writeHead(502, { "content-type": "application/json" });
          res.end(JSON.stringify({ error: `proxy: ${err.message}` }));
        });
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    held,
    /** Stops holding; the held requests (from a process that is gone) are dropped, not forwarded. */
    dropHeld() {
      state.hold = false;
      for (const res of held.splice(0)) res.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
};

interface OriginProcess {
  child: ChildProcess;
  log: string;
}

/** core-origin/main.ts in its own process (as production runs it), on a fixed port and storage dir. */
const startOriginProcess = async (o: { port: number; storageDir: string; archiveUrl: string; logFile: string }): Promise<OriginProcess> => {
  const fd = openSync(o.logFile, "a");
  const child = spawn(process.execPath, ["--import", "tsx", "core-origin/main.ts"], {
    cwd: ROOT,
    env: { ...process.env, CASCADE_NODE_SECRET: NODE_SECRET, CASCADE_ORIGIN_PORT: String(o.port), CASCADE_STORAGE_DIR: o.storageDir, CASCADE_ARCHIVE_URL: o.archiveUrl },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  await waitFor(`origin on ${o.port}`, async () => child.exitCode === null && (await fetch(`http://127.0.0.1:${o.port}/healthz`)).ok, 30_000);
  return { child, log: o.logFile };
};

let edge: EdgeProcess;
let node: TranscoderNode;
let origin: OriginProcess | null = null;
let publisher: ChildProcess | null = null;
let pushProxy: Awaited<ReturnType<typeof startProxy>>;
let archiveProxy: Awaited<ReturnType<typeof startProxy>>;
let dir: string;
let originPort: number;
let rtmpUrl = "";
/** Segment boundaries the origin acknowledged (2xx through the push proxy): `<rendition>/<msn>` → when. */
const acked = new Map<string, number>();

const originLog = () => {
  try {
    return readFileSync(path.join(dir, "origin.log"), "utf8").split("\n").slice(-30).join("\n");
  } catch {
    return "";
  }
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cascade-rec-"));
  originPort = await freePort();
  const edgePort = await freePort();
  const migrated = applyEdgeMigrations({ index: 1, stateDir: dir, root: ROOT });
  pushProxy = await startProxy(
    () => `http://127.0.0.1:${originPort}`,
    (method, url, status) => {
      const m = SEGMENT_RE.exec(url);
      if (method === "POST" && m && status >= 200 && status < 300) acked.set(`${m[2]}/${m[3]}`, Date.now());
    },
  );
  archiveProxy = await startProxy(() => `http://127.0.0.1:${edgePort}`);
  origin = await startOriginProcess({ port: originPort, storageDir: path.join(dir, "store"), archiveUrl: archiveProxy.url, logFile: path.join(dir, "origin.log") });
  await migrated;
  edge = startSagaEdge({ port: edgePort, originUrl: `http://127.0.0.1:${originPort}`, stateDir: dir, jwtSecret: JWT_SECRET });
  await edge.ready(90_000);
  ({ node, rtmpUrl } = await startControlledNode({ nodeId: "rec-node", origins: [pushProxy.url], controlPlaneUrl: edge.url }));
  // The node registers with the control plane on its first heartbeat, right after listen().
  await waitFor("node registered", async () => (await fetch(`${edge.url}/healthz`)).ok, 5_000);
  await sleep(1_500);
}, 150_000);

afterAll(async () => {
  await stopPublisher(publisher);
  await node?.close();
  if (origin && origin.child.exitCode === null && origin.child.signalCode === null) {
    origin.child.kill("SIGTERM");
    await exited(origin.child);
  }
  await edge?.stop();
  await pushProxy?.close();
  await archiveProxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const api = edgeApi(() => edge.url);

const archiveStatus = async (streamId: string): Promise<ArchiveStatus> => {
  const token = await signNodeToken(NODE_SECRET, "recordings-test");
  const res = await fetch(`http://127.0.0.1:${originPort}${originArchivePath(streamId)}`, { headers: { authorization: `Bearer ${token}` } });
  if (!res.ok) throw new Error(`archive status ${res.status}`);
  return (await res.json()) as ArchiveStatus;
};

const listR2 = (recordingId: string): Promise<ArchiveListing> => listArchive(edge.url, EDGE_ADMIN_TOKEN, recordingId);

const metric = async (name: string): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${originPort}/metrics`)).text();
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
};

describe("recording: archive to R2 survives an origin crash", () => {
  it("kill -9 of core-origin mid-stream loses no segment it had acknowledged", async () => {
    const username = `rec_${Date.now().toString(36)}`;
    const token = await signUp(api, username);
    const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: "Recorded and crashed", enable_recording: true }, token);
    expect(created.status).toBe(201);
    const id = created.body.stream_id;
    publisher = publish(rtmpUrl, created.body.stream_key);

    // The saga configures the node with the recording; the origin archives from the first segment.
    const first = await waitFor("three segments in R2", async () => {
      const s = await archiveStatus(id);
      if (!s.recording_id || s.mode !== "record") return null;
      const listing = await listR2(s.recording_id).catch(() => null);
      return listing && listing.objects.filter((o) => /\/seg-\d+\.m4s$/.test(o.key)).length >= 3 * 2 ? s : null;
    }, 60_000);
    const recordingId = first.recording_id!;

    // A slow link to the edge: uploads are held; the origin keeps acknowledging (journal first).
    archiveProxy.state.hold = true;
    const ackedBeforeHold = acked.size;
    await waitFor("two more segment boundaries acknowledged while uploads are held", async () => acked.size >= ackedBeforeHold + 2 * 2, 15_000);
    const pendingAtKill = (await archiveStatus(id)).pending;
    expect(pendingAtKill).toBeGreaterThanOrEqual(2);

    // kill -9: whatever the origin acknowledged must already be in its journal.
    const killedAt = Date.now();
    origin!.child.kill("SIGKILL");
    await exited(origin!.child);
    const acknowledged = [...acked.entries()].filter(([, at]) => at <= killedAt).map(([k]) => k);
    archiveProxy.dropHeld();
    origin = await startOriginProcess({ port: originPort, storageDir: path.join(dir, "store"), archiveUrl: archiveProxy.url, logFile: path.join(dir, "origin.log") });
    // What the killed process had journaled but not uploaded is queued again at start.
    expect(await metric("cascade_origin_archive_replayed_total")).toBeGreaterThanOrEqual(pendingAtKill);

    // The node resyncs with the restarted origin; the stream goes on, then ends (ENDLIST).
    const maxAcked = Math.max(...acknowledged.map((k) => Number(k.split("/")[1])));
    await waitFor("segments after the restart", async () => [...acked.keys()].some((k) => Number(k.split("/")[1]) > maxAcked + 1), 20_000);
    await node.pipelines.get(id)!.end("test over");
    const done = await waitFor(
      "archive drained",
      async () => {
        const s = await archiveStatus(id);
        return s.ended && s.pending === 0 ? s : null;
      },
      20_000,
    );
    expect(done.rejected).toBe(0);
    if (process.env.CASCADE_TEST_VERBOSE) console.log({ pendingAtKill, replayed: await metric("cascade_origin_archive_replayed_total"), acknowledged: acknowledged.length, maxAcked });

    const listing = await listR2(recordingId);
    const byKey = new Map(listing.objects.map((o) => [o.key.slice(`recordings/${recordingId}/`.length), o]));
    const missing = acknowledged.filter((k) => {
      const [rendition, msn] = k.split("/");
      return !byKey.has(`${rendition}/seg-${msn}.m4s`);
    });
    expect(missing, `acknowledged before the kill but not in R2; origin log:\n${originLog()}`).toEqual([]);
    expect(acknowledged.length).toBeGreaterThanOrEqual(5 * 2);
    for (const k of acknowledged) {
      const [rendition, msn] = k.split("/");
      const o = byKey.get(`${rendition}/seg-${msn}.m4s`)!;
      expect(o.size).toBeGreaterThan(0);
      expect(segmentMetadataFromR2(o.custom_metadata), k).toMatchObject({ duration: expect.any(Number), initVersion: expect.any(Number) });
      expect(byKey.has(`${rendition}/init-${o.custom_metadata.init}.mp4`), `init of ${k}`).toBe(true);
    }
    expect(byKey.has("manifest.json")).toBe(true);
    expect([...byKey.keys()].some((k) => k.startsWith("audio/seg-"))).toBe(true);
    // Re-uploads after the restart were idempotent: R2 holds each object once and the byte count agrees.
    const archived = listing.objects.filter((o) => /\/(manifest\.json|poster\.jpg|init-\d+\.mp4|seg-\d+\.m4s)$/.test(o.key));
    const sum = archived.reduce((a, o) => a + o.size, 0);
    if (archived.length === listing.objects.length) expect(listing.recording.bytes).toBe(sum);
    else expect(listing.recording.bytes).toBeGreaterThanOrEqual(sum);
  }, 120_000);
});
