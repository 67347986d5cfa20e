import { describe, expect, it } from "vitest";
import { streamEvent } from "../../shared/events.ts";
import { StreamReporter } from "./stream-reports.ts";

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

const fakeFetch = (statuses: number[]) => {
  const seen: Array<{ url: string; auth: string | null; body: Record<string, unknown> }> = [];
  let i = 0;
  const f = (async (url: string, init: RequestInit) => {
    seen.push({ url, auth: new Headers(init.headers).get("authorization"), body: JSON.parse(init.body as string) as Record<string, unknown> });
    const status = statuses[Math.min(i++, statuses.length - 1)]!;
    if (status === 0) throw new TypeError("fetch failed");
    return new Response("{}", { status });
  }) as unknown as typeof fetch;
  return { f, seen };
};

describe("StreamReporter", () => {
  it("posts the events the saga acts on, in order per stream, with the node token; skips the rest", async () => {
    const { f, seen } = fakeFetch([200]);
    const r = new StreamReporter({ baseUrl: "http://cp.test/", nodeToken: "node-1.sig", logger: quiet, fetch: f });
    r.report(streamEvent("connection_lost", "s1", "warning", { reason: "eof" }));
    r.report(streamEvent("frame_drop", "s1", "warning"));
    r.report(streamEvent("connection_restored", "s1", "info"));
    r.report(streamEvent("quality_changed", "s1", "warning", { dropped: "720p" }));
    r.report(streamEvent("stream_failed", "s1", "error", { reason: "ffmpeg exited 5 times in a row", stderr: "Option not found" }));
    await r.flush();
    expect(seen.map((s) => s.body.type)).toEqual(["connection_lost", "connection_restored", "quality_changed", "stream_failed"]);
    expect(seen[3]!.body).toMatchObject({ severity: "error", data: { reason: "ffmpeg exited 5 times in a row", stderr: "Option not found" } });
    expect(seen[0]).toMatchObject({ url: "http://cp.test/api/v1/nodes/events", auth: "Bearer node-1.sig", body: { stream_id: "s1", severity: "warning", data: { reason: "eof" } } });
    expect(r.sent).toBe(4);
  });

  it("retries network errors and 5xx, ignores 404 (a stream from the local key list)", async () => {
    const retried = fakeFetch([0, 503, 200]);
    const r = new StreamReporter({ baseUrl: "http://cp.test", nodeToken: "t", logger: quiet, fetch: retried.f });
    r.report(streamEvent("stream_ended", "s2", "info"));
    await r.flush();
    expect(retried.seen).toHaveLength(3);
    expect(r.sent).toBe(1);
    const unknown = fakeFetch([404]);
    const r2 = new StreamReporter({ baseUrl: "http://cp.test", nodeToken: "t", logger: quiet, fetch: unknown.f });
    r2.report(streamEvent("stream_started", "demo", "info"));
    await r2.flush();
    expect(unknown.seen).toHaveLength(1);
    expect(r2.sent).toBe(0);
  });
});
