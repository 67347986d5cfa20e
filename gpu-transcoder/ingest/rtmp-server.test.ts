import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { decodeAmf0Values, encodeAmf0Values } from "./amf0.ts";
import { ChunkParser } from "./chunk-parser.ts";
import { encodeFlvHeader, encodeFlvTag, isSequenceHeader, isVideoKeyframe } from "./flv.ts";
import { createRtmpServer } from "./rtmp-server.ts";
import { decodeAll, killAll, probeFlv, spawnFfmpeg, testSourceArgs } from "../../test/support/ffmpeg-media.ts";
import { TestRtmpClient } from "../../test/support/rtmp-client.ts";
import type { AuthResult, FlvTag, PublishAuthorizer, PublishSession, RtmpServer, RtmpServerOptions } from "./types.ts";

const running = new Set<ChildProcess>();
const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  killAll(running);
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Harness {
  server: RtmpServer;
  port: number;
  published: PublishSession[];
  authCalls: Array<{ app: string; key: string; remoteAddress: string }>;
  logs: string[];
  /** Every tag each session emitted, and its close reason once closed. */
  tags: Map<PublishSession, FlvTag[]>;
  closeReasons: Map<PublishSession, string[]>;
}

const keys: Record<string, string> = { "good-key": "demo", "other-good-key": "second" };

const acceptGoodKey = (delayMs = 0): PublishAuthorizer => ({
  async authorize({ key }): Promise<AuthResult> {
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    const streamId = keys[key];
    return streamId ? { ok: true, streamId } : { ok: false, reason: "Unknown stream key." };
  },
});

const start = async (overrides: Partial<RtmpServerOptions> = {}): Promise<Harness> => {
  const published: PublishSession[] = [];
  const authCalls: Harness["authCalls"] = [];
  const logs: string[] = [];
  const tags = new Map<PublishSession, FlvTag[]>();
  const closeReasons = new Map<PublishSession, string[]>();
  const record = (level: string) => (o: object, msg?: string) => logs.push(`${level} ${msg ?? ""} ${JSON.stringify(o)}`);
  const authorizer = overrides.authorize ?? acceptGoodKey();
  const server = createRtmpServer({
    host: "127.0.0.1",
    port: 0,
    logger: { info: record("info"), warn: record("warn"), error: record("error") },
    onPublish: (session) => {
      published.push(session);
      tags.set(session, []);
      closeReasons.set(session, []);
      session.on("tag", (tag) => tags.get(session)?.push(tag));
      session.on("close", (reason) => closeReasons.get(session)?.push(reason));
    },
    ...overrides,
    authorize: {
      authorize: (req) => {
        authCalls.push(req);
        return authorizer.authorize(req);
      },
    },
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { server, port, published, authCalls, logs, tags, closeReasons };
};

const openClient = async (port: number): Promise<TestRtmpClient> => {
  const client = await TestRtmpClient.open(port);
  cleanups.push(() => client.destroy());
  return client;
};

const publishWithFfmpeg = (port: number, path: string, seconds: number) =>
  spawnFfmpeg([...testSourceArgs(seconds, true), "-f", "flv", `rtmp://127.0.0.1:${port}/${path}`], running);

/**
 * A TCP relay that records what the server writes, so a test can check exactly which statuses a
 * real ffmpeg was sent. Returns the relay port and a decoder for the captured server bytes.
 */
const recordingRelay = async (targetPort: number) => {
  const fromServer: Buffer[] = [];
  const relay = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
    client.pipe(upstream);
    upstream.on("data", (data: Buffer) => fromServer.push(data));
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  cleanups.push(() => new Promise<void>((resolve) => relay.close(() => resolve())));
  const statusCodes = (): string[] => {
    const bytes = Buffer.concat(fromServer).subarray(1 + 1536 * 2); // after S0 S1 S2
    return new ChunkParser()
      .push(bytes)
      .filter((m) => m.typeId === 20)
      .flatMap((m) => decodeAmf0Values(m.payload))
      .flatMap((v) => (v !== null && typeof v === "object" && "code" in v && typeof v.code === "string" ? [v.code] : []));
  };
  return { port: (relay.address() as AddressInfo).port, statusCodes };
};

const waitUntil = async (condition: () => boolean, timeoutMs = 3000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const expectNonDecreasing = (values: number[]) => {
  for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThanOrEqual(values[i - 1]!);
};

describe("rtmp ingest with ffmpeg as the publisher", () => {
  it("accepts good-key, emits a decodable tag stream and ends the session when ffmpeg finishes", async () => {
    const h = await start();
    const ffmpeg = publishWithFfmpeg(h.port, "live/good-key", 3);
    expect(await ffmpeg.exited, ffmpeg.stderr()).toBe(0);

    expect(h.authCalls).toEqual([{ app: "live", key: "good-key", remoteAddress: "127.0.0.1" }]);
    expect(h.published).toHaveLength(1);
    const session = h.published[0]!;
    expect(session).toMatchObject({ streamId: "demo", app: "live", remoteAddress: "127.0.0.1" });
    expect(session.metadata).toEqual({ width: 320, height: 180, fps: 30 });
    expect(session.bytesReceived).toBeGreaterThan(10_000);

    await waitUntil(() => (h.closeReasons.get(session) ?? []).length > 0);
    expect(h.closeReasons.get(session)).toEqual(["unpublished"]);
    expect(h.server.sessions()).toEqual([]);

    const tags = h.tags.get(session)!;
    const video = tags.filter((t) => t.type === 9);
    const audio = tags.filter((t) => t.type === 8);
    const data = tags.filter((t) => t.type === 18);
    expect(video.length).toBeGreaterThanOrEqual(89);
    expect(audio.length).toBeGreaterThan(100);
    expect(data).toHaveLength(1);
    expect(data[0]!.data.subarray(0, 13)).toEqual(encodeAmf0Values(["onMetaData"])); // @setDataFrame stripped
    expect(isSequenceHeader(9, video[0]!.data)).toBe(true);
    expect(isVideoKeyframe(video[1]!.data)).toBe(true);
    expect(isSequenceHeader(8, audio[0]!.data)).toBe(true);
    expect(video.filter((t) => isSequenceHeader(9, t.data))).toHaveLength(1);
    expectNonDecreasing(video.map((t) => t.timestamp));
    expectNonDecreasing(audio.map((t) => t.timestamp));
    expectNonDecreasing(tags.map((t) => t.arrivalMs));
    expect(video.at(-1)!.timestamp).toBeGreaterThan(2800);

    const dir = await mkdtemp(join(tmpdir(), "ingest-rtmp-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, "received.flv");
    await writeFile(file, Buffer.concat([encodeFlvHeader({ audio: true, video: true }), ...tags.map((t) => encodeFlvTag(t))]));
    const streams = await probeFlv(file);
    expect(streams.find((s) => s.codec_type === "video")).toMatchObject({ codec_name: "h264", width: 320, height: 180 });
    expect(streams.find((s) => s.codec_type === "audio")).toMatchObject({ codec_name: "aac", sample_rate: "48000" });
    // Every coded frame decodes (AVCPacketType 1: NALUs; 0 is the sequence header, 2 ffmpeg's end of sequence).
    const frames = video.filter((t) => t.data[1] === 1).length;
    expect(frames).toBeGreaterThanOrEqual(89);
    expect(await decodeAll(file)).toBe(frames);

    expect(h.logs.join("\n")).not.toContain("good-key");
    // ffmpeg speaks the FP9 handshake and verifies our S1 digest and S2 signature
    expect(h.logs.find((l) => l.includes("rtmp connected"))).toContain('"handshake":"complex"');
  });

  it("refuses a wrong key: ffmpeg fails, onPublish never runs, the key is not logged", async () => {
    const h = await start();
    const relay = await recordingRelay(h.port);
    const ffmpeg = publishWithFfmpeg(relay.port, "live/bad-key", 3);
    const code = await ffmpeg.exited;
    expect(code).not.toBe(0);
    expect(relay.statusCodes()).toEqual(["NetConnection.Connect.Success", "NetStream.Publish.BadName", "NetStream.Publish.BadName"]);
    expect(ffmpeg.stderr()).toContain("Unknown stream key.");
    expect(h.authCalls.map((c) => c.key)).toEqual(["bad-key"]);
    expect(h.published).toEqual([]);
    expect(h.logs.some((l) => l.includes("rtmp publish refused"))).toBe(true);
    expect(h.logs.join("\n")).not.toContain("bad-key");
  });

  it("works with a slow (300 ms) async authorizer", async () => {
    const h = await start({ authorize: acceptGoodKey(300) });
    const ffmpeg = publishWithFfmpeg(h.port, "live/good-key", 1);
    expect(await ffmpeg.exited, ffmpeg.stderr()).toBe(0);
    expect(h.published).toHaveLength(1);
    const tags = h.tags.get(h.published[0]!)!;
    expect(tags.filter((t) => t.type === 9).length).toBeGreaterThanOrEqual(29);
    expect(tags.some((t) => t.type === 8)).toBe(true);
  });

  it("refuses an unknown app at connect, before any key is looked at", async () => {
    const h = await start();
    const ffmpeg = publishWithFfmpeg(h.port, "other/good-key", 3);
    expect(await ffmpeg.exited).not.toBe(0);
    expect(h.authCalls).toEqual([]);
    expect(h.published).toEqual([]);
  });
});

describe("rtmp ingest protocol behaviour (raw client)", () => {
  it("answers connect with window ack size, peer bandwidth, chunk size and _result", async () => {
    const h = await start();
    const client = await openClient(h.port);
    const txn = client.connectApp("live");
    const result = await client.waitForCommand("_result");
    expect(result.transactionId).toBe(txn);
    expect(result.values[3]).toMatchObject({ level: "status", code: "NetConnection.Connect.Success", objectEncoding: 0 });
    expect(client.received.slice(0, 3).map((m) => [m.typeId, m.payload.readUInt32BE(0)])).toEqual([
      [5, 2_500_000],
      [6, 2_500_000],
      [1, 4096],
    ]);
  });

  it("handles AMF3-wrapped commands (type 17) by skipping the format byte", async () => {
    const h = await start();
    const client = await openClient(h.port);
    const payload = encodeAmf0Values(["connect", 1, { app: "live", objectEncoding: 3 }]);
    client.send(17, Buffer.concat([Buffer.from([0]), payload]));
    const result = await client.waitForCommand("_result");
    expect(result.values[3]).toMatchObject({ code: "NetConnection.Connect.Success", objectEncoding: 3 });
  });

  it("never sends NetStream.Publish.Start for a wrong key; sends BadName and closes", async () => {
    const h = await start();
    const client = await openClient(h.port);
    client.startPublish("live", "bad-key");
    await client.closed;
    expect(client.codes()).toEqual(["NetConnection.Connect.Success", "NetStream.Publish.BadName", "NetStream.Publish.BadName"]);
    const status = client.commands().find((c) => c.name === "onStatus");
    expect(status).toMatchObject({ streamId: 1, values: ["onStatus", 0, null, { level: "error", description: "Unknown stream key." }] });
    expect(client.commands().some((c) => c.name === "_error")).toBe(true);
    // createStream got stream id 1; releaseStream/FCPublish were answered
    expect(client.commands().filter((c) => c.name === "_result").map((c) => c.values.at(-1))).toEqual([
      expect.anything(),
      null,
      null,
      1,
    ]);
    expect(h.published).toEqual([]);
  });

  it("holds Publish.Start until the authorizer answers and drops media sent meanwhile", async () => {
    let release: (result: AuthResult) => void = () => {};
    const h = await start({
      authorize: { authorize: () => new Promise<AuthResult>((resolve) => (release = resolve)) },
    });
    const client = await openClient(h.port);
    client.startPublish("live", "good-key?bandwidthtest=true");
    await waitUntil(() => h.authCalls.length === 1);
    client.sendVideo(0, Buffer.from([0x17, 0x00, 0, 0, 0, 1, 2, 3]));
    await sleep(150);
    expect(client.codes()).not.toContain("NetStream.Publish.Start");
    expect(client.received.some((m) => m.typeId === 4)).toBe(false);
    expect(h.authCalls[0]?.key).toBe("good-key"); // query stripped

    release({ ok: true, streamId: "demo" });
    await client.waitForCode("NetStream.Publish.Start");
    const streamBegin = client.received.find((m) => m.typeId === 4);
    expect(streamBegin?.payload).toEqual(Buffer.from([0, 0, 0, 0, 0, 1]));
    expect(client.received.indexOf(streamBegin!)).toBeLessThan(client.received.findIndex((m) => m.typeId === 20 && m.streamId === 1));
    expect(h.published).toHaveLength(1);
    const session = h.published[0]!;

    client.sendVideo(40, Buffer.from([0x17, 0x01, 0, 0, 0, 9]));
    client.send(18, encodeAmf0Values(["@setDataFrame", "onMetaData", { width: 640, height: 360, framerate: 25 }]), 1, 5, 0);
    await waitUntil(() => h.tags.get(session)!.length === 2);
    expect(h.tags.get(session)!.map((t) => [t.type, t.timestamp])).toEqual([
      [9, 40],
      [18, 0],
    ]);
    expect(session.metadata).toEqual({ width: 640, height: 360, fps: 25 });
  });

  it("refuses a second concurrent publish of the same streamId", async () => {
    const h = await start();
    const first = await openClient(h.port);
    first.startPublish("live", "good-key");
    await first.waitForCode("NetStream.Publish.Start");
    const second = await openClient(h.port);
    second.startPublish("live", "good-key");
    await second.closed;
    expect(second.codes()).toContain("NetStream.Publish.BadName");
    expect(second.codes()).not.toContain("NetStream.Publish.Start");
    expect(second.commands().find((c) => c.name === "onStatus")?.values[3]).toMatchObject({
      description: "This stream is already publishing.",
    });
    expect(h.published).toHaveLength(1);
    expect(h.server.sessions().map((s) => s.streamId)).toEqual(["demo"]);
    expect(first.socketClosed).toBe(false);

    // once the first one leaves, the streamId is free again
    first.command("FCUnpublish", null, ["good-key"]);
    await first.closed;
    expect(h.closeReasons.get(h.published[0]!)).toEqual(["unpublished"]);
    const third = await openClient(h.port);
    third.startPublish("live", "good-key");
    await third.waitForCode("NetStream.Publish.Start");
    expect(h.server.sessions()).toHaveLength(1);
  });

  it("rejects an unknown app with NetConnection.Connect.Rejected", async () => {
    const h = await start({ apps: ["live", "backup"] });
    const client = await openClient(h.port);
    client.connectApp("live/secret-key");
    await client.closed;
    expect(client.codes()).toEqual(["NetConnection.Connect.Rejected"]);
    expect(h.logs.join("\n")).not.toContain("secret-key");
    const ok = await openClient(h.port);
    ok.connectApp("backup/");
    await ok.waitForCode("NetConnection.Connect.Success");
  });

  it("treats a throwing or hanging authorizer as a refusal", async () => {
    const throwing = await start({ authorize: { authorize: () => Promise.reject(new Error("control plane down for good-key")) } });
    const a = await openClient(throwing.port);
    a.startPublish("live", "good-key");
    await a.closed;
    expect(a.codes()).toContain("NetStream.Publish.BadName");
    expect(throwing.logs.join("\n")).not.toContain("good-key");

    const malformed = await start({ authorize: { authorize: async () => ({ ok: "yes" }) as unknown as AuthResult } });
    const m = await openClient(malformed.port);
    m.startPublish("live", "good-key");
    await m.closed;
    expect(m.codes()).toContain("NetStream.Publish.BadName");
    expect(malformed.published).toEqual([]);

    const hanging = await start({ authorize: { authorize: () => new Promise<AuthResult>(() => {}) }, authorizeTimeoutMs: 100 });
    const b = await openClient(hanging.port);
    b.startPublish("live", "good-key");
    await b.closed;
    expect(b.codes()).toContain("NetStream.Publish.BadName");
    expect(hanging.published).toEqual([]);
  });

  it("closes connections that never publish, and publishers that go silent", async () => {
    const h = await start({ idleTimeoutMs: 200, mediaTimeoutMs: 300 });
    const idle = await openClient(h.port);
    idle.connectApp("live");
    const t0 = Date.now();
    await idle.closed;
    expect(Date.now() - t0).toBeLessThan(1000);

    const silent = await openClient(h.port);
    silent.startPublish("live", "good-key");
    await silent.waitForCode("NetStream.Publish.Start");
    await silent.closed;
    expect(h.closeReasons.get(h.published[0]!)).toEqual(["media timeout"]);
    expect(h.server.sessions()).toEqual([]);
  });

  it("lets the consumer close a session, emitting close exactly once", async () => {
    const h = await start();
    const client = await openClient(h.port);
    client.startPublish("live", "good-key");
    await client.waitForCode("NetStream.Publish.Start");
    const session = h.published[0]!;
    session.close("kicked");
    session.close("again");
    await client.closed;
    expect(h.closeReasons.get(session)).toEqual(["kicked"]);
    expect(h.server.sessions()).toEqual([]);
  });

  it("drops garbage and protocol violations without affecting the server", async () => {
    const h = await start();
    const http = connect(h.port, "127.0.0.1");
    http.on("error", () => {});
    cleanups.push(() => void http.destroy());
    await new Promise<void>((resolve) => http.once("connect", () => resolve()));
    http.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await new Promise<void>((resolve) => http.once("close", () => resolve()));

    const bad = await openClient(h.port);
    bad.sendRaw(Buffer.from([0x44, 0, 0, 0, 0, 0, 1, 9])); // fmt 1 on a chunk stream never opened
    await bad.closed;

    const huge = await openClient(h.port);
    huge.sendRaw(Buffer.from([0x03, 0, 0, 0, 0x20, 0, 0, 20, 0, 0, 0, 0])); // 2 MiB "command" before auth
    await huge.closed;
    expect(h.logs.filter((l) => l.startsWith("warn rtmp protocol error"))).toHaveLength(3);

    const fine = await openClient(h.port);
    fine.startPublish("live", "good-key");
    await fine.waitForCode("NetStream.Publish.Start");
  });

  it("answers ping requests and acknowledges per the client's window", async () => {
    const h = await start();
    const client = await openClient(h.port);
    client.send(5, Buffer.from([0, 0, 0x10, 0]), 0, 2); // window of 4096 bytes
    client.send(4, Buffer.from([0, 6, 0, 0, 0x12, 0x34]), 0, 2);
    client.startPublish("live", "good-key");
    await client.waitForCode("NetStream.Publish.Start");
    for (let i = 0; i < 4; i++) client.sendVideo(i * 33, Buffer.alloc(3000, 0x27));
    await client.waitFor(() => client.received.some((m) => m.typeId === 3), 3000, "acknowledgement");
    const ping = client.received.find((m) => m.typeId === 4 && m.payload.readUInt16BE(0) === 7);
    expect(ping?.payload).toEqual(Buffer.from([0, 7, 0, 0, 0x12, 0x34]));
    const ack = client.received.find((m) => m.typeId === 3)!;
    expect(ack.payload.readUInt32BE(0)).toBeGreaterThanOrEqual(4096);
  });

  it("closes every session when the server closes", async () => {
    const h = await start();
    const client = await openClient(h.port);
    client.startPublish("live", "good-key");
    await client.waitForCode("NetStream.Publish.Start");
    await h.server.close();
    await client.closed;
    expect(h.closeReasons.get(h.published[0]!)).toEqual(["server closing"]);
  });
});
