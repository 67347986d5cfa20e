/**
 * Pieces of the end-to-end stacks that run the go-live saga for real (test/edge/saga-e2e,
 * test/recordings): one edge Worker in workerd serving the control plane, a transcoder node that
 * asks it to authorise publishers, the API client the tests drive it with, and the publisher's end.
 */
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import pino from "pino";
import { createTranscoderNode, type TranscoderNode } from "../../gpu-transcoder/node.ts";
import { startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseLadderSpec } from "../../shared/ladder.ts";
import { EDGE_ADMIN_TOKEN } from "../edge/stack.ts";
import { exited, NODE_SECRET } from "../live-path/harness.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Edge 1 with its D1 migrated in `stateDir`, the saga checking every 2 s and warmup waiting up to 60 s. */
export const startSagaEdge = (o: { port: number; originUrl: string; stateDir: string; jwtSecret: string; vars?: Record<string, string> }): EdgeProcess =>
  startEdgeProcess({
    index: 1,
    port: o.port,
    originUrl: o.originUrl,
    adminToken: EDGE_ADMIN_TOKEN,
    stateDir: o.stateDir,
    root: ROOT,
    secrets: { JWT_SECRET: o.jwtSecret, NODE_SECRET },
    vars: { EDGE_URLS: `http://127.0.0.1:${o.port}`, SAGA_MONITOR_INTERVAL_S: "2", SAGA_WARMUP_TIMEOUT_S: "60", ...o.vars },
  });

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

/** Ends a publisher still running (SIGTERM) and waits for it to exit. */
export const stopPublisher = async (publisher: ChildProcess | null): Promise<void> => {
  if (publisher && publisher.exitCode === null) {
    publisher.kill("SIGTERM");
    await exited(publisher);
  }
};
