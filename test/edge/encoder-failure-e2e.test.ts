/**
 * An encoder that cannot run, end to end: origin and transcoder (this process, the transcoder's
 * ffmpeg a stand-in that refuses its arguments the way the npm-shipped 4.x refused
 * `force_divisible_by`), one edge Worker in workerd with D1 and the StreamControl object. Publish
 * with a stream's key → the saga starts → the node restarts ffmpeg with backoff, gives up, and
 * reports `stream_failed` → the stream is `failed` with ffmpeg's words in the API the creator
 * dashboard reads, the go-live compensated (edge/do/stream-control/stream-failure.test.ts checks the slot and
 * reservation in detail).
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { probeFfmpeg } from "../../gpu-transcoder/ffmpeg/probe.ts";
import { createTranscoderNode, type TranscoderNode } from "../../gpu-transcoder/node.ts";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseLadderSpec } from "../../shared/ladder.ts";
import { exited, NODE_SECRET, publish, waitFor } from "../live-path/harness.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "./stack.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const JWT_SECRET = "jwt-secret-for-the-failure-e2e-0123456";

let origin: Origin;
let node: TranscoderNode;
let edge: EdgeProcess;
let dir: string;
let publisher: ChildProcess | null = null;
let rtmpUrl = "";

const api = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
  const res = await fetch(`${edge.url}${p}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as T };
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cascade-fail-"));
  const fakeFfmpeg = path.join(dir, "ffmpeg");
  writeFileSync(fakeFfmpeg, `#!/bin/sh\necho "[Parsed_scale_2 @ 0x2a40c80] Option 'force_divisible_by' not found" >&2\necho "Error initializing complex filters." >&2\nexit 1\n`, { mode: 0o755 });
  const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
  origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: NODE_SECRET, storageDir: path.join(dir, "origin"), memorySegments: 8, playlistSegments: 15, logger });
  const { port: originPort } = await origin.listen();
  const edgePort = await freePort();
  await applyEdgeMigrations({ index: 1, stateDir: path.join(dir, "edge"), root: ROOT });
  edge = startEdgeProcess({
    index: 1,
    port: edgePort,
    originUrl: `http://127.0.0.1:${originPort}`,
    adminToken: EDGE_ADMIN_TOKEN,
    stateDir: path.join(dir, "edge"),
    root: ROOT,
    secrets: { JWT_SECRET, NODE_SECRET },
    // Longer than the node's restarts take to give up (about 10 s), so the failure, not the warmup timeout, ends the go-live.
    vars: { EDGE_URLS: `http://127.0.0.1:${edgePort}`, SAGA_MONITOR_INTERVAL_S: "2", SAGA_WARMUP_TIMEOUT_S: "90" },
  });
  await edge.ready(90_000);
  const caps = { ...(await probeFfmpeg({ ...process.env, CASCADE_ENCODER: "libx264" })), path: fakeFfmpeg };
  node = await createTranscoderNode({
    nodeId: "failing-node",
    rtmpHost: "127.0.0.1",
    rtmpPort: 0,
    controlHost: "127.0.0.1",
    controlPort: 0,
    origins: [`http://127.0.0.1:${originPort}`],
    nodeSecret: NODE_SECRET,
    streamKeys: null,
    streamKeysFile: null,
    controlPlaneUrl: edge.url,
    slots: 2,
    ladder: parseLadderSpec("180p:320x180@30:400:main"),
    partTarget: 0.5,
    segmentDuration: 2,
    graceMs: 5_000,
    minSpeed: 0,
    slowPeriodMs: 600_000,
    logger,
    caps,
  });
  const { rtmpPort } = await node.listen();
  rtmpUrl = `rtmp://127.0.0.1:${rtmpPort}/live`;
  // The node registers with the control plane on its first heartbeat, right after listen().
  await new Promise((r) => setTimeout(r, 2_000));
}, 180_000);

afterAll(async () => {
  if (publisher && publisher.exitCode === null && publisher.signalCode === null) {
    publisher.kill("SIGTERM");
    await exited(publisher);
  }
  await node?.close();
  await edge?.stop();
  await origin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("an encoder that cannot run, end to end", () => {
  it("publish → restarts with backoff → stream_failed reaches the saga: status failed with ffmpeg's words, go-live compensated", async () => {
    const signUp = await api<{ token: string }>("POST", "/api/v1/users", { username: `fail_${Date.now().toString(36)}`, password: "correct horse battery" });
    expect(signUp.status).toBe(201);
    const token = signUp.body.token;
    const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: "Failing encoder", category: "gaming" }, token);
    expect(created.status).toBe(201);
    const id = created.body.stream_id;
    const started = Date.now();
    publisher = publish(rtmpUrl, created.body.stream_key);
    type SagaView = { status: string; phase: string | null; failure: { step: string; error: string } | null; completed: string[] };
    const saga = await waitFor(
      "the saga to settle with the stream failed",
      async () => {
        const s = await api<SagaView>("GET", `/api/v1/streams/${id}/saga`, undefined, token);
        return s.body.status === "failed" && s.body.phase === "idle" ? s.body : null;
      },
      90_000,
    );
    const tookMs = Date.now() - started;
    expect(saga.failure?.step).toBe("warmup_cdn");
    expect(saga.failure?.error).toMatch(/^encoder failed: ffmpeg exited 5 times in a row within 10 s of starting \(last: code 1\): \[Parsed_scale_2\] Option 'force_divisible_by' not found/);
    expect(saga.completed).toEqual([]);
    // Backoff: 0.5 + 1 + 2 + 4 s between the five runs at least.
    expect(tookMs).toBeGreaterThanOrEqual(7_500);

    // The node: four restarts, then failed; its publisher let go.
    const nodeEvents = node.events.filter((e) => e.streamId === id);
    expect(nodeEvents.filter((e) => e.type === "error").map((e) => e.data.restartInMs)).toEqual([500, 1000, 2000, 4000]);
    expect(nodeEvents.filter((e) => e.type === "stream_failed")).toHaveLength(1);
    expect(await exited(publisher)).not.toBe(0);

    // The control plane: the event with the reason, and nothing left reserved.
    const events = await api<{ events: Array<{ event_type: string; severity: string; message: string; details: Record<string, unknown> }> }>("GET", `/api/v1/streams/${id}/events`, undefined, token);
    const failed = events.body.events.find((e) => e.event_type === "stream_failed");
    expect(failed).toMatchObject({ severity: "error", details: { node_id: "failing-node", quickFailures: 5, stderr: expect.stringContaining("force_divisible_by") } });
    expect(failed!.message).toContain("Option 'force_divisible_by' not found");
    const stream = await api<{ status: string }>("GET", `/api/v1/streams/${id}`, undefined, token);
    expect(stream.body.status).toBe("failed");
    // The pipeline is gone from the node (a new publish gets a new one).
    expect(node.pipelines.has(id)).toBe(false);
  }, 200_000);
});
