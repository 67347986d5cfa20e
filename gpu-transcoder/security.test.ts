/**
 * The transcoder's control API (`/control/streams/:id/{expect,stop}`, called by the control plane's
 * go-live saga with a node token for this node): every bad credential is a 401, a bad stream id a
 * 400, an oversize body a 413, a malformed one a 400 — each with a JSON body, and none of them
 * changes what the node expects or runs (the node logs every such change; none is logged).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { Writable } from "node:stream";
import { signNodeToken } from "../shared/tokens.ts";
import { CONTROL_BODY_LIMIT } from "./control-body.ts";
import { transcoderConfigFromEnv } from "./config.ts";
import type { FfmpegCapabilities } from "./ffmpeg/probe.ts";
import { createTranscoderNode, type TranscoderNode } from "./node.ts";

const SECRET = "transcoder-security-secret-0123";
const NODE_ID = "sec-node-1";

/** Never run: the control API is all these cases reach. */
const caps: FfmpegCapabilities = {
  path: "/nonexistent/ffmpeg",
  source: "system",
  version: "test",
  encoders: new Set(["libx264"]),
  movflags: new Set(["cmaf"]),
  statsPeriod: true,
  h264Encoder: "libx264",
  encoderReasons: [],
};

const logLines: Array<Record<string, unknown>> = [];
let node: TranscoderNode;
let base = "";

beforeAll(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = transcoderConfigFromEnv({ CASCADE_NODE_SECRET: SECRET, CASCADE_NODE_ID: NODE_ID, CASCADE_RTMP_HOST: "127.0.0.1", CASCADE_RTMP_PORT: "0", CASCADE_CONTROL_PORT: "0" });
  node = await createTranscoderNode({ ...config, nodeId: NODE_ID, caps, logger: pino({ level: "info" }, sink) });
  const { controlPort } = await node.listen();
  base = `http://127.0.0.1:${controlPort}`;
});
afterAll(async () => {
  await node?.close();
});

/** Log events that mean the node's expectations or pipelines changed. */
const changes = () => logLines.filter((l) => l.event === "stream_expected" || l.event === "stream_stopped_by_control_plane").length;

const post = async (path: string, o: { token?: string | null; authorization?: string; body?: BodyInit; headers?: Record<string, string> } = {}) => {
  const headers: Record<string, string> = { "content-type": "application/json", ...o.headers };
  if (o.authorization !== undefined) headers.authorization = o.authorization;
  else if (o.token) headers.authorization = `Bearer ${o.token}`;
  const res = await fetch(`${base}${path}`, { method: "POST", headers, body: o.body ?? "{}", ...(o.body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body: JSON.parse(text) as { error: string; problems?: string[] } };
};

/** Expects `status` with a JSON error body, and no change to what the node expects or runs. */
const refused = async (path: string, o: Parameters<typeof post>[1], status: number, error?: string) => {
  const before = changes();
  const r = await post(path, o);
  expect(r.status, `${path} ${JSON.stringify(r.body)}`).toBe(status);
  expect(r.type).toMatch(/^application\/json/);
  expect(r.body.error).toEqual(error ?? expect.any(String));
  expect(changes(), "state changed").toBe(before);
  return r;
};

describe("transcoder control API", () => {
  it("the right token is accepted (the refusals below are about what is wrong with each request)", async () => {
    const token = await signNodeToken(SECRET, NODE_ID);
    const before = changes();
    expect((await post("/control/streams/sec-stream/expect", { token })).status).toBe(200);
    expect(changes()).toBe(before + 1);
  });

  it("401 for a missing, malformed, foreign or other node's token", async () => {
    const attempts: Array<[string, string | undefined]> = [
      ["no token", undefined],
      ["garbage", "Bearer garbage"],
      ["Basic", `Basic ${await signNodeToken(SECRET, NODE_ID)}`],
      ["lowercase scheme", `bearer ${await signNodeToken(SECRET, NODE_ID)}`],
      ["another secret", `Bearer ${await signNodeToken("another-secret-0123456789abcdef", NODE_ID)}`],
      ["another node", `Bearer ${await signNodeToken(SECRET, "sec-node-2")}`],
      ["tampered", `Bearer ${(await signNodeToken(SECRET, NODE_ID)).slice(0, -2)}AA`],
      ["oversized", `Bearer ${"a".repeat(5000)}`],
    ];
    for (const action of ["expect", "stop"]) {
      for (const [name, authorization] of attempts) {
        const o = authorization === undefined ? {} : { authorization };
        const r = await refused(`/control/streams/sec-stream/${action}`, o, 401, "a node token for this node is required");
        expect(r.status, name).toBe(401);
      }
    }
  });

  it("400 for traversal and odd encodings in the stream id; dot segments never reach the route", async () => {
    const token = await signNodeToken(SECRET, NODE_ID);
    for (const id of ["..%2F..%2Fetc", "%2e%2e%2fx", "a%00b", "a%0D%0Ab", "UPPER", "x".repeat(65), "%F0%9F%98%80", "a%20b", "-lead"]) {
      await refused(`/control/streams/${id}/expect`, { token }, 400, "invalid stream id");
    }
    for (const id of ["..", "%2e%2e", "."]) await refused(`/control/streams/${id}/expect`, { token }, 404, "not found");
    await refused("/control/streams/sec-stream/start", { token }, 404, "not found");
  });

  it(`413 for a body over ${CONTROL_BODY_LIMIT} bytes, declared or streamed; 400 for a body that is not JSON or not stream options`, async () => {
    const token = await signNodeToken(SECRET, NODE_ID);
    const big = JSON.stringify({ reason: "x".repeat(CONTROL_BODY_LIMIT) });
    for (const action of ["expect", "stop"]) {
      await refused(`/control/streams/sec-stream/${action}`, { token, body: big }, 413);
      const streamed = new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(CONTROL_BODY_LIMIT / 4).fill(0x20));
          controller.close();
        },
      });
      await refused(`/control/streams/sec-stream/${action}`, { token, body: streamed }, 413);
      await refused(`/control/streams/sec-stream/${action}`, { token, body: "{" }, 400, "body is not valid JSON");
      await refused(`/control/streams/sec-stream/${action}`, { token, body: new Uint8Array([0x22, 0xc3, 0x28, 0x22]) }, 400, "body is not valid UTF-8");
    }
    const r = await refused("/control/streams/sec-stream/expect", { token, body: JSON.stringify({ dvr_window: "forever", record: "yes" }) }, 400, "invalid stream options");
    expect(r.body.problems?.length).toBeGreaterThan(0);
  });

  it("GET /events refuses a stream filter that is not a stream id", async () => {
    for (const stream of ["../x", "a/b", "%00", "A"]) {
      const res = await fetch(`${base}/events?stream=${encodeURIComponent(stream)}`);
      expect(res.status, stream).toBe(400);
      expect(await res.json()).toEqual({ error: "invalid stream id", code: "invalid_request" });
    }
  });
});
