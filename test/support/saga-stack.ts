/**
 * Pieces of the end-to-end stacks that run the go-live saga for real (test/edge/saga-e2e,
 * test/recordings): one edge Worker in workerd serving the control plane, a transcoder node that
 * asks it to authorise publishers, the API client the tests drive it with, and the publisher's end.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, expect } from "vitest";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { createTranscoderNode, type TranscoderNode } from "../../gpu-transcoder/node.ts";
import { applyEdgeMigrations, sagaEdgeOptions, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseLadderSpec } from "../../shared/ladder.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { exited, NODE_SECRET, publish, sleep } from "../live-path/harness.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Edge 1 as the saga's control plane (scripts/edge-process.ts sagaEdgeOptions), checking the stream every 2 s. */
export const startSagaEdge = (o: { port: number; originUrl: string; stateDir: string; jwtSecret: string; vars?: Record<string, string> }): EdgeProcess =>
  startEdgeProcess(
    sagaEdgeOptions({
      port: o.port,
      originUrl: o.originUrl,
      adminToken: EDGE_ADMIN_TOKEN,
      stateDir: o.stateDir,
      root: ROOT,
      secrets: { JWT_SECRET: o.jwtSecret, NODE_SECRET },
      vars: { SAGA_MONITOR_INTERVAL_S: "2", ...o.vars },
    }),
  );

/**
 * A transcoder node (one 320x180 rung, never dropped on a slow machine) whose publishers the
 * control plane at `controlPlaneUrl` authorises; listening, with the RTMP URL publishers use.
 */
export const startControlledNode = async (o: { nodeId: string; origins: string[]; controlPlaneUrl: string; segmentDuration?: number }): Promise<{ node: TranscoderNode; rtmpUrl: string }> => {
  const node = await createTranscoderNode({
    nodeId: o.nodeId,
    rtmpHost: "127.0.0.1",
    rtmpPort: 0,
    controlHost: "127.0.0.1",
    controlPort: 0,
    origins: o.origins,
    nodeSecret: NODE_SECRET,
    streamKeys: null,
    streamKeysFile: null,
    controlPlaneUrl: o.controlPlaneUrl,
    slots: 2,
    ladder: parseLadderSpec("180p:320x180@30:400:main"),
    partTarget: 0.5,
    segmentDuration: o.segmentDuration ?? 2,
    graceMs: 5_000,
    minSpeed: 0,
    slowPeriodMs: 600_000,
    logger: pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" }),
  });
  const { rtmpPort } = await node.listen();
  return { node, rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live` };
};

export type ApiCall = <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string) => Promise<{ status: number; body: T }>;

/** A JSON API client for the edge at `baseUrl()` (read on every call: the edge starts after the client is made). */
export const edgeApi =
  (baseUrl: () => string): ApiCall =>
  async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string) => {
    const res = await fetch(`${baseUrl()}${p}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, body: (await res.json()) as T };
  };

/** Signs `username` up through the API (expects 201); resolves with the session token. */
export const signUp = async (api: ApiCall, username: string): Promise<string> => {
  const res = await api<{ token: string }>("POST", "/api/v1/users", { username, password: "correct horse battery" });
  expect(res.status).toBe(201);
  return res.body.token;
};

/** Ends a publisher still running (SIGTERM) and waits for it to exit. */
export const stopPublisher = async (publisher: ChildProcess | null): Promise<void> => {
  if (publisher && publisher.exitCode === null) {
    publisher.kill("SIGTERM");
    await exited(publisher);
  }
};

export interface SagaStack {
  origin: Origin;
  originUrl: string;
  edge: EdgeProcess;
  node: TranscoderNode;
  rtmpUrl: string;
  /** Publishes the demo pattern (320x180) to this node with `streamKey`; close() stops it first. */
  publish(streamKey: string): ChildProcess;
  /** Stops the publishers, the node, the edge and the origin, and deletes their state. */
  close(): Promise<void>;
}

/**
 * The real stack in one piece: an origin in this process (archiving to the edge with `archive`),
 * the saga edge with its D1 migrated, and a node registered with it (its first heartbeat, right
 * after listen, is given 2 s). `name` names the temp directories and the node (`<name>-node`).
 */
export const startSagaStack = async (o: { name: string; jwtSecret: string; archive?: boolean; edgeVars?: Record<string, string>; segmentDuration?: number }): Promise<SagaStack> => {
  const stateDir = mkdtempSync(path.join(tmpdir(), `cascade-${o.name}-`));
  const storageDir = mkdtempSync(path.join(tmpdir(), `cascade-${o.name}-origin-`));
  let origin: Origin | null = null;
  let edge: EdgeProcess | null = null;
  let node: TranscoderNode | null = null;
  const publishers: ChildProcess[] = [];
  const close = async () => {
    for (const p of publishers) await stopPublisher(p);
    await node?.close();
    await edge?.stop();
    await origin?.close();
    rmSync(stateDir, { recursive: true, force: true });
    rmSync(storageDir, { recursive: true, force: true });
  };
  try {
    const edgePort = await freePort();
    const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
    origin = createOrigin({
      host: "127.0.0.1",
      port: 0,
      nodeSecret: NODE_SECRET,
      storageDir,
      memorySegments: 8,
      playlistSegments: 15,
      // The origin archives recordings to the edge, which writes them into its (miniflare) R2.
      ...(o.archive ? { archiveUrl: `http://127.0.0.1:${edgePort}` } : {}),
      logger,
    });
    const originUrl = `http://127.0.0.1:${(await origin.listen()).port}`;
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    edge = startSagaEdge({ port: edgePort, originUrl, stateDir, jwtSecret: o.jwtSecret, ...(o.edgeVars ? { vars: o.edgeVars } : {}) });
    await edge.ready(90_000);
    const started = await startControlledNode({ nodeId: `${o.name}-node`, origins: [originUrl], controlPlaneUrl: edge.url, ...(o.segmentDuration ? { segmentDuration: o.segmentDuration } : {}) });
    node = started.node;
    // The node registers with the control plane on its first heartbeat, right after listen().
    await sleep(2_000);
    const rtmpUrl = started.rtmpUrl;
    return { origin, originUrl, edge, node, rtmpUrl, publish: (key) => publishers[publishers.push(publish(rtmpUrl, key)) - 1]!, close };
  } catch (err) {
    await close();
    throw err;
  }
};

/**
 * startSagaStack around a test file: started before its tests (within 180 s), closed after them.
 * The returned stack answers once the file's tests run.
 */
export const sagaStackForFile = (o: Parameters<typeof startSagaStack>[0]): SagaStack => {
  let started: SagaStack | null = null;
  beforeAll(async () => {
    started = await startSagaStack(o);
  }, 180_000);
  afterAll(async () => {
    await started?.close();
  });
  const get = (): SagaStack => {
    if (!started) throw new Error("the saga stack has not started");
    return started;
  };
  return {
    get origin() {
      return get().origin;
    },
    get originUrl() {
      return get().originUrl;
    },
    get edge() {
      return get().edge;
    },
    get node() {
      return get().node;
    },
    get rtmpUrl() {
      return get().rtmpUrl;
    },
    publish: (key) => get().publish(key),
    close: () => get().close(),
  };
};
