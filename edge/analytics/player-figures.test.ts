import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { testEnv } from "../../test/support/edge/api-client.ts";
import { flushPath } from "../do/viewer-counter/client.ts";
import { minuteOf } from "./player-minutes.ts";
import { nodeReportStatement, playerMinuteStatement } from "./store.ts";
import { ADMIN, api, counter, db, finishMinute, liveStream, nodeToken, pendingMinutes, rows } from "../../test/support/edge/analytics.ts";

type App = ReturnType<typeof createEdgeApp>["app"];
const FAST: Partial<WorkerEnv> = { VIEWER_FLUSH_INTERVAL_S: "0.3" };
const sessionId = () => crypto.randomUUID().replaceAll("-", "");

const beat = async (app: App, streamId: string, body: unknown, e: Partial<WorkerEnv> = {}) => {
  const ctx = createExecutionContext();
  const res = await app.fetch(
    new Request(`http://edge.test/api/v1/streams/${streamId}/heartbeat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
    { ...testEnv(), ...FAST, ...e },
    ctx,
  );
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { fields?: Record<string, string> }) : null, done: waitOnExecutionContext(ctx) };
};

/** Every body beats once, spread over the apps (isolates), all at once; waits for their flushes. */
const beatAll = async (apps: App[], streamId: string, bodies: unknown[], e: Partial<WorkerEnv> = {}) => {
  const results = await Promise.all(bodies.map((b, i) => beat(apps[i % apps.length]!, streamId, b, e)));
  expect(results.map((r) => r.status).filter((s) => s !== 204)).toEqual([]);
  await Promise.all(results.map((r) => r.done));
};

/** The q-quantile of sorted values, the way a statistician without buckets would take it. */
const exact = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

describe("player figures in heartbeats → per-minute latency, buffer and errors", () => {
  it("1,000 players over 3 isolates with a known latency spread: the minute's p50/p95 match it to within a bucket", async () => {
    const apps = [createEdgeApp(), createEdgeApp(), createEdgeApp()];
    const { id } = await liveStream("latency");
    // Latency uniform over 1.0–4.996 s; buffer uniform over 0–9.9 s; every third player had one error.
    const players = Array.from({ length: 1000 }, (_, i) => ({ session_id: sessionId(), latency_ms: 1000 + i * 4, buffer_s: (i % 100) / 10, errors: i % 3 === 0 ? 1 : 0 }));
    // Old players send the session id alone: counted as viewers, no figures.
    const old = Array.from({ length: 50 }, () => ({ session_id: sessionId() }));
    await beatAll(apps.map((a) => a.app), id, [...players, ...old]);
    const flushes = apps.reduce((n, a) => n + a.viewers.flushes, 0);
    expect(flushes).toBeLessThanOrEqual(12);
    expect((await counter(id).stats()).records).toBe(flushes);

    const minute = minuteOf(Date.now()) - 2;
    await finishMinute(id, minute);
    const [row] = await rows(id);
    const latencies = players.map((p) => p.latency_ms).sort((a, b) => a - b);
    const buffers = players.map((p) => p.buffer_s).sort((a, b) => a - b);
    expect(row).toMatchObject({ minute, viewers: 1050, latency_samples: 1000, buffer_samples: 1000, player_reports: 1000, player_errors: 334, errors: 334 });
    // Buckets are 250 ms wide around the median, 500 ms around p95, 0.25 s around a 1 s buffer.
    expect(Math.abs(row!.latency_p50_ms! - exact(latencies, 0.5))).toBeLessThanOrEqual(250);
    expect(Math.abs(row!.latency_p95_ms! - exact(latencies, 0.95))).toBeLessThanOrEqual(500);
    expect(Math.abs(row!.buffer_p10_s! - exact(buffers, 0.1))).toBeLessThanOrEqual(0.25);
    // A uniform spread interpolates almost exactly inside its bucket.
    expect(Math.abs(row!.latency_p50_ms! - 3000)).toBeLessThanOrEqual(10);
    expect(Math.abs(row!.latency_p95_ms! - 4800)).toBeLessThanOrEqual(10);
    // The node's columns stay empty: nobody reported them.
    expect(row).toMatchObject({ ingest_bitrate_bps: null, dropped_frames: null, encoder_speed: null, node_errors: null });
    // Written: the counter keeps no finished minute.
    expect(await pendingMinutes(id)).toBe(0);
  });

  it("a skewed spread: most players near 2 s, a tail at 12–20 s; p95 lands in the tail", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream("latency");
    const near = Array.from({ length: 900 }, (_, i) => ({ session_id: sessionId(), latency_ms: 1800 + (i % 9) * 50 }));
    const tail = Array.from({ length: 100 }, (_, i) => ({ session_id: sessionId(), latency_ms: 12_000 + i * 80 }));
    await beatAll([app], id, [...near, ...tail], { VIEWER_FLUSH_INTERVAL_S: "2" });
    const minute = minuteOf(Date.now()) - 3;
    await finishMinute(id, minute);
    const [row] = await rows(id);
    const sorted = [...near, ...tail].map((p) => p.latency_ms).sort((a, b) => a - b);
    expect(Math.abs(row!.latency_p50_ms! - exact(sorted, 0.5))).toBeLessThanOrEqual(250);
    expect(row!.latency_p95_ms!).toBeGreaterThanOrEqual(12_000);
    expect(Math.abs(row!.latency_p95_ms! - exact(sorted, 0.95))).toBeLessThanOrEqual(2000);
    expect(row).toMatchObject({ buffer_p10_s: null, buffer_samples: 0, player_errors: 0 });
  });

  it("a minute with only old players: viewers, and null player figures", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream("latency");
    await beatAll([app], id, Array.from({ length: 7 }, () => ({ session_id: sessionId() })));
    const minute = minuteOf(Date.now()) - 2;
    await finishMinute(id, minute);
    expect(await rows(id)).toEqual([expect.objectContaining({ minute, viewers: 7, latency_p50_ms: null, latency_p95_ms: null, buffer_p10_s: null, player_errors: null, player_reports: 0, errors: null })]);
  });

  it("400 naming the field for nonsense figures; nothing counted from a refused heartbeat", async () => {
    const { app, viewers } = createEdgeApp();
    const { id } = await liveStream("latency");
    const s = sessionId();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ latency_ms: -1 }, "latency_ms"],
      [{ latency_ms: 600_001 }, "latency_ms"],
      [{ latency_ms: "2000" }, "latency_ms"],
      [{ latency_ms: null }, "latency_ms"],
      [{ buffer_s: -0.5 }, "buffer_s"],
      [{ buffer_s: 601 }, "buffer_s"],
      [{ errors: 1.5 }, "errors"],
      [{ errors: -1 }, "errors"],
      [{ errors: 1001 }, "errors"],
      [{ latency: 2000 }, "latency"],
    ];
    for (const [extra, field] of cases) {
      const r = await beat(app, id, { session_id: s, ...extra });
      expect(r.status, JSON.stringify(extra)).toBe(400);
      expect(r.body?.fields, JSON.stringify(extra)).toHaveProperty([field]);
      await r.done;
    }
    expect(viewers.pendingFor(id)).toBe(0);
    expect((await counter(id).stats()).records).toBe(0);
    // The edges of the ranges are fine.
    const ok = await beat(app, id, { session_id: s, latency_ms: 0, buffer_s: 600, errors: 1000 });
    expect(ok.status).toBe(204);
    await ok.done;
  });

  it("edges behind a control plane forward the figures with the batch; the flush endpoint checks them", async () => {
    const controlPlane = createEdgeApp();
    const forward = async (req: Request) => {
      const ctx = createExecutionContext();
      const res = await controlPlane.app.fetch(req, testEnv(), ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const edge2 = createEdgeApp({ forward });
    const { id } = await liveStream("latency");
    await beatAll([edge2.app], id, Array.from({ length: 20 }, (_, i) => ({ session_id: sessionId(), latency_ms: 2000 + i, errors: 1 })), { CONTROL_PLANE_URL: "http://control-plane.test", EDGE_ID: "edge-2" });
    const minute = minuteOf(Date.now()) - 2;
    await finishMinute(id, minute);
    expect((await rows(id))[0]).toMatchObject({ viewers: 20, latency_samples: 20, player_errors: 20, latency_p50_ms: expect.any(Number) });

    const good = { edge: "edge-9", sessions: [[sessionId(), 1000]] };
    const bad: unknown[] = [
      { latency: [1], buffer: [], errors: 0, reports: 1 },
      { latency: new Array(44).fill(0), buffer: new Array(20).fill(0), errors: 0, reports: -1 },
      { latency: new Array(44).fill(0), buffer: new Array(20).fill(0), errors: 5_000, reports: 1 },
      { latency: [5, ...new Array(43).fill(0)], buffer: new Array(20).fill(0), errors: 0, reports: 1 },
      { latency: new Array(44).fill(0), buffer: new Array(20).fill(0), errors: 0, reports: 1, more: 1 },
      "figures",
    ];
    for (const player of bad) {
      const r = await api.call<{ fields: Record<string, string> }>("POST", flushPath(id), { json: { ...good, player }, token: ADMIN() });
      expect(r.status, JSON.stringify(player)).toBe(400);
      expect(r.body.fields).toHaveProperty("player");
    }
  });
});

describe("one row, two reporters", () => {
  it("a node report and the counter's minute merge into one row, whichever lands first, each column set once", async () => {
    const node = await nodeToken();
    const report = { seconds: 10, ingest_bytes: 2_500_000, dropped_frames: 3, encoder_speed: 1.5, errors: 2 };

    // Node first: its row exists when the counter writes the minute.
    const a = await liveStream("merge");
    const r = await api.call<{ minute: string }>("POST", "/api/v1/nodes/stats", { token: node.token, json: { streams: [{ stream_id: a.id, ...report }] } });
    expect(r.status).toBe(200);
    const minute = minuteOf(Date.now()) - 4;
    await db().prepare("UPDATE stream_analytics SET minute = ?2 WHERE stream_id = ?1").bind(a.id, minute).run();
    const { app } = createEdgeApp();
    await beatAll([app], a.id, Array.from({ length: 10 }, (_, i) => ({ session_id: sessionId(), latency_ms: 3000, buffer_s: 2, errors: i < 3 ? 1 : 0 })));
    await finishMinute(a.id, minute);

    // Counter first: the node's report adds to the row the counter wrote.
    const b = await liveStream("merge");
    await beatAll([app], b.id, Array.from({ length: 10 }, (_, i) => ({ session_id: sessionId(), latency_ms: 3000, buffer_s: 2, errors: i < 3 ? 1 : 0 })));
    await finishMinute(b.id, minute);
    expect((await rows(b.id))[0]).toMatchObject({ viewers: 10, ingest_bitrate_bps: null });
    // The route dates a report by the control plane's clock (now), so the node's statement is run
    // for the counter's past minute directly: the merge SQL is the point.
    await nodeReportStatement(db(), minute, { streamId: b.id, seconds: 10, ingestBytes: 2_500_000, droppedFrames: 3, encoderSpeed: 1.5, errors: 2 }).run();

    for (const id of [a.id, b.id]) {
      const stored = await rows(id);
      expect(stored, id).toHaveLength(1);
      expect(stored[0], id).toMatchObject({
        minute,
        viewers: 10,
        latency_p50_ms: expect.any(Number),
        latency_samples: 10,
        buffer_samples: 10,
        player_errors: 3,
        player_reports: 10,
        ingest_bitrate_bps: 2_000_000,
        dropped_frames: 3,
        encoder_speed: 1.5,
        node_errors: 2,
        node_reports: 1,
        errors: 5,
      });
    }
    // The counter writing its minute again (a retried batch) changes nothing, the node's columns included.
    const before = await rows(a.id);
    await playerMinuteStatement(db(), a.id, {
      minute,
      viewers: before[0]!.viewers!,
      latencyP50Ms: before[0]!.latency_p50_ms,
      latencyP95Ms: before[0]!.latency_p95_ms,
      latencySamples: 10,
      bufferP10S: before[0]!.buffer_p10_s,
      bufferSamples: 10,
      playerErrors: 3,
      playerReports: 10,
    }).run();
    expect(await rows(a.id)).toEqual(before);
  });
});
