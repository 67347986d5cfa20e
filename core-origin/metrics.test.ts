import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { createOrigin } from "./app.ts";
import { LocalDirStorage } from "./store/storage-driver.ts";
import { metricValue, NODE_SECRET, Pusher, SINGLE, turns, type TestOrigin, originPerTest } from "../test/support/origin-harness.ts";

let t: TestOrigin;
let p: Pusher;

originPerTest("demo", { manifest: SINGLE }, (o, pusher) => ((t = o), (p = pusher)));

const scrape = async (o: { request(p: string): Response | Promise<Response> } = t) => (await o.request("/metrics")).text();
const series = (text: string, name: string): string[] => text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe("cascade_origin_http_requests_total", () => {
  it("counts every answer by route class and exact status", async () => {
    await p.pushSegment(0);
    await t.request("/live/demo/360p/index.m3u8");
    await t.request("/live/demo/360p/part0.1.m4s");
    await t.request("/live/demo/360p/part9.0.m4s");
    await t.request("/nowhere");
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "push_manifest", status: "201" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "push_part", status: "200" })).toBe(4);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "push_segment", status: "200" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "playlist", status: "200" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "part", status: "200" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "part", status: "404" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "other", status: "404" })).toBe(1);
    // The scrape before this one counted too.
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "metrics", status: "200" })).toBeGreaterThanOrEqual(1);
  });

  it("counts push rejections with their status, next to push_rejected_total", async () => {
    await p.part("360p", 0, 1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "push_part", status: "400" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_push_rejected_total", { status: "400" })).toBe(1);
    await t.request("/ingest/v1/streams/demo", { method: "PUT", body: "{}" });
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "push_manifest", status: "401" })).toBe(1);
  });
});

describe("blocking waits", () => {
  it("a blocking playlist request that a push satisfies is observed as ready, with its wait", async () => {
    await p.pushPart(0, 0);
    const pending = t.request("/live/demo/360p/index.m3u8?_HLS_msn=0&_HLS_part=1");
    for (let i = 0; i < 50 && t.origin.registry.get("demo")!.renditions.get("360p")!.waiterCount === 0; i++) await turns(1);
    expect(await metricValue(t, "cascade_origin_blocked_requests")).toBe(1);
    await p.pushPart(0, 1);
    expect((await pending).status).toBe(200);
    expect(await metricValue(t, "cascade_origin_blocking_wait_seconds_count", { kind: "playlist", outcome: "ready" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_blocked_requests")).toBe(0);
  });

  it("a viewer that hangs up is an aborted wait and a 499, not a 5xx", async () => {
    await p.pushPart(0, 0);
    const hint = t.origin.registry.get("demo")!.renditions.get("360p")!.nextPart()!;
    const abort = new AbortController();
    const pending = t.request(`/live/demo/360p/part${hint.msn}.${hint.part}.m4s`, { signal: abort.signal });
    for (let i = 0; i < 50 && t.origin.registry.get("demo")!.renditions.get("360p")!.waiterCount === 0; i++) await turns(1);
    abort.abort();
    await pending;
    expect(await metricValue(t, "cascade_origin_blocking_wait_seconds_count", { kind: "part", outcome: "aborted" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_http_requests_total", { route: "part", status: "499" })).toBe(1);
    const text = await scrape();
    expect(series(text, "cascade_origin_http_requests_total").filter((l) => /status="5\d\d"/.test(l))).toEqual([]);
  });
});

describe("per-stream gauges", () => {
  it("live-edge age and part target exist per live stream and rendition, and go when the stream ends", async () => {
    await p.pushPart(0, 0);
    let text = await scrape();
    const age = series(text, "cascade_origin_live_edge_age_seconds");
    expect(age).toHaveLength(1);
    expect(age[0]).toMatch(/^cascade_origin_live_edge_age_seconds\{stream="demo",rendition="360p"\} \d/);
    expect(await metricValue(t, "cascade_origin_part_target_seconds", { stream: "demo" })).toBe(SINGLE.partTarget);
    expect(await metricValue(t, "cascade_origin_parts_held", { stream: "demo" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_memory_media_bytes", { stream: "demo" })).toBeGreaterThan(0);
    await p.end();
    text = await scrape();
    expect(series(text, "cascade_origin_live_edge_age_seconds")).toEqual([]);
    expect(series(text, "cascade_origin_part_target_seconds")).toEqual([]);
    // What an ended stream still holds in memory is still reported: it is real memory.
    expect(series(text, "cascade_origin_segments_held")).toHaveLength(1);
  });

  it("counts pushed media bytes by rendition type", async () => {
    await p.pushPart(0, 0);
    const bytes = [...p.pushed.values()][0]!.byteLength;
    expect(await metricValue(t, "cascade_origin_push_bytes_total", { rendition_type: "video" })).toBe(bytes);
  });
});

describe("storage metrics", () => {
  it("times calls, counts bytes written and counts failures by operation", async () => {
    await p.pushSegment(0);
    await t.storage.idle();
    const written = await metricValue(t, "cascade_origin_storage_written_bytes_total");
    // The init segment and the segment at least.
    expect(written).toBeGreaterThan([...p.pushed.values()].reduce((a, b) => a + b.byteLength, 0));
    expect(await metricValue(t, "cascade_origin_storage_operation_seconds_count", { op: "put" })).toBeGreaterThanOrEqual(2);
    expect(await metricValue(t, "cascade_origin_storage_errors_total", { op: "put" })).toBe(0);
  });

  it("a failing disk shows as storage errors", async () => {
    const base = await mkdtemp(path.join(tmpdir(), "cascade-origin-metrics-"));
    class FailingPuts extends LocalDirStorage {
      override put(): Promise<void> {
        return Promise.reject(new Error("disk full"));
      }
    }
    const origin = createOrigin({
      host: "127.0.0.1",
      port: 0,
      nodeSecret: NODE_SECRET,
      storageDir: base,
      storage: new FailingPuts(base),
      memorySegments: 8,
      playlistSegments: 15,
      dvrWindowS: 0,
      logger: pino({ level: "silent" }),
    });
    try {
      const q = new Pusher({ ...t, request: async (u, init) => origin.app.request(u, init) }, "demo", SINGLE);
      await q.announce();
      await q.pushSegment(0);
      await turns(10);
      const text = await scrape(origin.app);
      const errors = series(text, "cascade_origin_storage_errors_total").find((l) => l.includes('op="put"'));
      expect(Number(errors?.split(" ").pop())).toBeGreaterThanOrEqual(2);
    } finally {
      origin.close();
      await rm(base, { recursive: true, force: true });
    }
  });
});
