import { afterEach, describe, expect, it } from "vitest";
import { resolveFfmpeg, run } from "../ffmpeg/probe.ts";
import { createTranscoderMetrics } from "../metrics.ts";
import { encodeChunks, MSG } from "../ingest/chunk-writer.ts";
import { createRtmpServer } from "../ingest/rtmp-server.ts";
import { TestRtmpClient } from "../../test/support/rtmp-client.ts";
import type { PublishSession } from "../ingest/types.ts";
import { ProgressMonitor } from "../pipeline/progress-monitor.ts";
import { NodeStats, statsBody, StreamStatsTracker, type PipelineFigures } from "./node-stats.ts";

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** A clock the test moves. */
const clock = () => {
  let t = 1_700_000_000_000;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
};

const session = (streamId: string, bytesReceived = 0) => ({ streamId, bytesReceived });
const pipeline = (o: Partial<PipelineFigures> = {}): { state: string; droppedFrames: number; speed: number } => ({ state: "live", droppedFrames: 0, speed: 1, ...o });

describe("ffmpeg progress: drop_frames", () => {
  it("reads drop_frames from -progress blocks, also when a line arrives in pieces", () => {
    const m = new ProgressMonitor(0.9, 10_000, () => {});
    m.feed("frame=30\nfps=30.0\nout_time_us=1000000\ndup_frames=0\ndrop_frames=0\nspeed=1.0x\nprogress=continue\n");
    expect(m.droppedFrames).toBe(0);
    m.feed("frame=58\nout_time_us=2000000\ndup_frames=1\ndrop_fr");
    expect(m.droppedFrames).toBe(0);
    m.feed("ames=12\nprogress=continue\n");
    expect(m.droppedFrames).toBe(12);
    // Not to be confused with dup_frames, and never read from a partial number.
    m.feed("dup_frames=40\ndrop_frames=17\n");
    expect(m.droppedFrames).toBe(17);
  });

  it("counts what a real ffmpeg drops: 60 fps in, 30 fps out at a constant rate", async () => {
    const { path } = resolveFfmpeg();
    const r = await run(path, ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x90:rate=60", "-t", "2", "-vsync", "cfr", "-r", "30", "-f", "null", "-", "-progress", "pipe:1"]);
    expect(r.code, r.stderr).toBe(0);
    const m = new ProgressMonitor(0.9, 10_000, () => {});
    m.feed(r.stdout);
    // 120 frames in, 60 out: ffmpeg drops every other one (give or take the first and last).
    expect(m.droppedFrames).toBeGreaterThanOrEqual(55);
    expect(m.droppedFrames).toBeLessThanOrEqual(61);
  });
});

describe("stream stats tracker", () => {
  it("turns running totals into per-period bytes, bitrate, drops, speed and errors", () => {
    const time = clock();
    const t = new StreamStatsTracker(time.now);
    const s = session("alpha", 5_000); // handshake and commands before the publish
    const p = pipeline({ speed: 1.02 });
    t.attach(s);
    time.advance(10_000);
    s.bytesReceived += 2_500_000;
    p.droppedFrames = 3;
    t.event({ type: "error", streamId: "alpha" });
    t.event({ type: "quality_changed", streamId: "alpha" });
    const [first] = t.take(new Map([["alpha", p]]), () => true);
    expect(first).toEqual({ streamId: "alpha", seconds: 10, ingestBytes: 2_500_000, ingestBitrateBps: 2_000_000, droppedFrames: 3, encoderSpeed: 1.02, errors: 1, reportable: true, ended: false });

    time.advance(5_000);
    s.bytesReceived += 500_000;
    p.droppedFrames = 10;
    p.state = "reconnecting";
    const [second] = t.take(new Map([["alpha", p]]), () => true);
    expect(second).toMatchObject({ seconds: 5, ingestBytes: 500_000, ingestBitrateBps: 800_000, droppedFrames: 7, encoderSpeed: null, errors: 0 });
  });

  it("a publisher that reconnects: the old connection's last bytes and the new one's both count", () => {
    const time = clock();
    const t = new StreamStatsTracker(time.now);
    const p = pipeline();
    const first = session("beta", 1_000);
    t.attach(first);
    first.bytesReceived += 40_000;
    time.advance(4_000);
    const second = session("beta", 3_000); // a new connection: its own handshake bytes are not media
    t.attach(second);
    second.bytesReceived += 60_000;
    time.advance(6_000);
    const [period] = t.take(new Map([["beta", p]]), () => true);
    expect(period).toMatchObject({ seconds: 10, ingestBytes: 100_000, ingestBitrateBps: 80_000 });
  });

  it("a stream whose pipeline went gets a last period with its last drops, then is forgotten; a new pipeline counts from zero", () => {
    const time = clock();
    const t = new StreamStatsTracker(time.now);
    const s = session("gamma");
    const old = pipeline({ droppedFrames: 2 });
    t.attach(s);
    time.advance(1_000);
    expect(t.take(new Map([["gamma", old]]), () => false)[0]).toMatchObject({ droppedFrames: 2, reportable: false });
    old.droppedFrames = 9;
    s.bytesReceived += 1_000;
    time.advance(1_000);
    expect(t.take(new Map(), () => false)).toEqual([expect.objectContaining({ streamId: "gamma", ingestBytes: 1_000, droppedFrames: 7, ended: true })]);
    time.advance(1_000);
    expect(t.take(new Map(), () => false)).toEqual([]);

    // The same stream again: a fresh pipeline with its own counter.
    const next = pipeline({ droppedFrames: 0 });
    const s2 = session("gamma", 100);
    t.attach(s2);
    time.advance(2_000);
    next.droppedFrames = 4;
    expect(t.take(new Map([["gamma", next]]), () => false)[0]).toMatchObject({ droppedFrames: 4, ingestBytes: 0, seconds: 2 });
  });

  it("reports only streams the control plane knows, and stays reportable once known", () => {
    const time = clock();
    const t = new StreamStatsTracker(time.now);
    const known = new Set(["cp-stream"]);
    t.attach(session("cp-stream"));
    t.attach(session("demo"));
    const pipes = new Map([
      ["cp-stream", pipeline()],
      ["demo", pipeline()],
    ]);
    time.advance(10_000);
    const body = statsBody(t.take(pipes, (id) => known.has(id)));
    expect(body.streams.map((s) => s.stream_id)).toEqual(["cp-stream"]);
    expect(Object.keys(body.streams[0]!).sort()).toEqual(["dropped_frames", "encoder_speed", "errors", "ingest_bytes", "seconds", "stream_id"]);
    known.clear(); // the saga's expectation is dropped when the stream ends
    time.advance(10_000);
    expect(statsBody(t.take(pipes, (id) => known.has(id))).streams.map((s) => s.stream_id)).toEqual(["cp-stream"]);
  });
});

describe("node stats: gauges and the report", () => {
  it("sets cascade_transcoder_ingest_bitrate_bps and counts cascade_transcoder_dropped_frames_total; removes them when the stream ends", async () => {
    const time = clock();
    const metrics = createTranscoderMetrics();
    const tracker = new StreamStatsTracker(time.now);
    const pipes = new Map([["delta", pipeline()]]);
    const sent: unknown[] = [];
    const stats = new NodeStats({
      tracker,
      pipelines: () => pipes,
      reportable: () => true,
      metrics,
      logger: silent,
      controlPlane: { baseUrl: "http://control-plane.test/", nodeToken: "node.token" },
      fetch: async (url, init) => {
        sent.push({ url: String(url), auth: (init?.headers as Record<string, string>).authorization, body: JSON.parse(String(init?.body)) });
        return new Response(JSON.stringify({ ok: true }), { status: 200 });
      },
    });
    const s = session("delta");
    tracker.attach(s);
    time.advance(10_000);
    s.bytesReceived = 1_250_000;
    pipes.get("delta")!.droppedFrames = 5;
    await stats.tick();
    expect(await metrics.registry.metrics()).toContain('cascade_transcoder_ingest_bitrate_bps{stream="delta"} 1000000');
    time.advance(10_000);
    pipes.get("delta")!.droppedFrames = 8;
    await stats.tick();
    const text = await metrics.registry.metrics();
    expect(text).toContain('cascade_transcoder_ingest_bitrate_bps{stream="delta"} 0');
    expect(text).toContain('cascade_transcoder_dropped_frames_total{stream="delta"} 8');
    expect(text).toMatch(/# TYPE cascade_transcoder_dropped_frames_total counter/);
    expect(sent[0]).toEqual({
      url: "http://control-plane.test/api/v1/nodes/stats",
      auth: "Bearer node.token",
      body: { streams: [{ stream_id: "delta", seconds: 10, ingest_bytes: 1_250_000, dropped_frames: 5, encoder_speed: 1, errors: 0 }] },
    });
    expect(stats.sent).toBe(2);

    pipes.clear();
    time.advance(1_000);
    await stats.tick();
    const after = await metrics.registry.metrics();
    expect(after).not.toContain('stream="delta"');
  });

  it("counts the bytes an RTMP publisher sends after its publish started", async () => {
    const published: PublishSession[] = [];
    const tracker = new StreamStatsTracker();
    const server = createRtmpServer({
      host: "127.0.0.1",
      port: 0,
      logger: silent,
      authorize: { authorize: async () => ({ ok: true, streamId: "epsilon" }) },
      onPublish: (s) => {
        tracker.attach(s);
        published.push(s);
      },
    });
    const { port } = await server.listen();
    cleanups.push(() => server.close());
    const client = await TestRtmpClient.open(port);
    cleanups.push(() => client.destroy());
    client.startPublish("live", "any-key");
    await client.waitForCode("NetStream.Publish.Start");
    const tags: number[] = [];
    published[0]!.on("tag", (tag) => tags.push(tag.data.length));

    // Three video messages as the wire carries them (chunked at RTMP's default 128 bytes).
    const sizes = [300, 1_000, 4_321];
    let wire = 0;
    for (const [i, size] of sizes.entries()) {
      const payload = Buffer.alloc(size, i + 1);
      payload[0] = 0x17; // AVC keyframe, so the message is a plain video tag
      const bytes = encodeChunks({ chunkStreamId: 6, typeId: MSG.video, streamId: 1, timestamp: i * 33, payload }, 128);
      wire += bytes.length;
      client.sendRaw(bytes);
    }
    for (const deadline = Date.now() + 3000; tags.length < sizes.length && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
    const [period] = tracker.take(new Map([["epsilon", pipeline()]]), () => false);
    expect(tags).toEqual(sizes);
    expect(period!.ingestBytes).toBe(wire);
  });
});
