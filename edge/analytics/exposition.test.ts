import { describe, expect, it } from "vitest";
import { setStreamState } from "../../test/support/edge/api-client.ts";
import { exposedMinute, renderExposition } from "./exposition.ts";
import { EDGE_METRIC_NAMES } from "./metric-names.ts";
import { nodeReportStatement, playerMinuteStatement } from "./store.ts";
import { ADMIN, api, db, liveStream } from "../../test/support/edge/analytics.ts";

const METRICS = "/api/v1/edge/metrics";

/** Samples of the exposition as `{ "name{labels}": value }`, and each name's TYPE. */
const parse = (text: string) => {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const help = /^# HELP (\S+) .+$/.exec(line);
    if (help) {
      helps.add(help[1]!);
      continue;
    }
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    expect(m, line).not.toBeNull();
    samples.set(`${m![1]}{${m![2]}}`, Number(m![3]));
  }
  return { samples, types, helps };
};

describe("GET /api/v1/edge/metrics: Prometheus exposition", () => {
  it("every live stream's latest complete minute, with HELP and TYPE for each name in EDGE_METRIC_NAMES", async () => {
    const full = await liveStream("expo");
    const quiet = await liveStream("expo");
    const ended = await liveStream("expo");
    await setStreamState(ended.id, { status: "ended" });
    const m = exposedMinute(Date.now());
    await nodeReportStatement(db(), m, { streamId: full.id, seconds: 60, ingestBytes: 45_000_000, droppedFrames: 12, encoderSpeed: 0.98, errors: 1 }).run();
    await playerMinuteStatement(db(), full.id, { minute: m, viewers: 42, latencyP50Ms: 2400, latencyP95Ms: 4100, latencySamples: 120, bufferP10S: 1.25, bufferSamples: 120, playerErrors: 2, playerReports: 120 }).run();
    // A minute earlier and the current one are not the exposed minute.
    await playerMinuteStatement(db(), quiet.id, { minute: m - 1, viewers: 99, latencyP50Ms: 1, latencyP95Ms: 1, latencySamples: 1, bufferP10S: 1, bufferSamples: 1, playerErrors: 0, playerReports: 1 }).run();
    await playerMinuteStatement(db(), ended.id, { minute: m, viewers: 7, latencyP50Ms: 1, latencyP95Ms: 1, latencySamples: 1, bufferP10S: 1, bufferSamples: 1, playerErrors: 0, playerReports: 1 }).run();

    const r = await api.call("GET", METRICS, { token: ADMIN() });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(r.text.endsWith("\n")).toBe(true);
    const { samples, types, helps } = parse(r.text);
    for (const name of Object.values(EDGE_METRIC_NAMES)) {
      expect(types.get(name), name).toBe("gauge");
      expect(helps.has(name), name).toBe(true);
    }
    const s = `stream="${full.id}"`;
    expect(samples.get(`cascade_stream_viewers{${s}}`)).toBe(42);
    expect(samples.get(`cascade_stream_latency_seconds{${s},quantile="0.5"}`)).toBe(2.4);
    expect(samples.get(`cascade_stream_latency_seconds{${s},quantile="0.95"}`)).toBe(4.1);
    expect(samples.get(`cascade_stream_player_buffer_seconds{${s}}`)).toBe(1.25);
    expect(samples.get(`cascade_stream_errors{${s}}`)).toBe(3);
    expect(samples.get(`cascade_stream_encoder_speed{${s}}`)).toBe(0.98);
    expect(samples.get(`cascade_stream_ingest_bitrate_bps{${s}}`)).toBe(6_000_000);
    expect(samples.get(`cascade_stream_dropped_frames{${s}}`)).toBe(12);
    // Live without a row for the minute: no viewer was counted, and nothing else is claimed.
    const q = `stream="${quiet.id}"`;
    expect(samples.get(`cascade_stream_viewers{${q}}`)).toBe(0);
    expect([...samples.keys()].filter((k) => k.includes(q))).toEqual([`cascade_stream_viewers{${q}}`]);
    // Not live: not exposed.
    expect(r.text).not.toContain(ended.id);
  });

  it("the admin token, compared in constant time: 401 without or with a wrong one (a user token too); 503 unset", async () => {
    const { owner } = await liveStream("expo");
    for (const token of [null, "wrong", `${ADMIN()}x`, owner.token]) {
      const r = await api.call<{ error: string }>("GET", METRICS, { token });
      expect(r.status, String(token)).toBe(401);
      expect(r.headers.get("www-authenticate")).toBe("Bearer");
      expect(r.body.error).toEqual(expect.any(String));
    }
    expect((await api.call("GET", METRICS, { token: ADMIN() }, { EDGE_ADMIN_TOKEN: undefined })).status).toBe(503);
  });

  it("renders label values safely and leaves out figures nobody reported", () => {
    const text = renderExposition([
      { stream_id: 'a"b\\c', row: { minute: 1, viewers: 3, ingest_bitrate_bps: null, dropped_frames: 0, encoder_speed: null, latency_p50_ms: null, latency_p95_ms: 1500, buffer_p10_s: null, errors: null } },
    ]);
    expect(text).toContain('cascade_stream_viewers{stream="a\\"b\\\\c"} 3');
    expect(text).toContain('cascade_stream_latency_seconds{stream="a\\"b\\\\c",quantile="0.95"} 1.5');
    expect(text).toContain('cascade_stream_dropped_frames{stream="a\\"b\\\\c"} 0');
    expect(text).not.toContain('quantile="0.5"');
    expect(text).not.toMatch(/^cascade_stream_(errors|encoder_speed|ingest_bitrate_bps|player_buffer_seconds)\{/m);
  });

  it("the exposed minute is the previous one once the counter has had time to write it", () => {
    const minute = 28_333_334;
    expect(exposedMinute(minute * 60_000 + 40_000)).toBe(minute - 1);
    expect(exposedMinute(minute * 60_000 + 5_000)).toBe(minute - 2);
  });

  it("EDGE_METRIC_NAMES names exactly the agreed series", () => {
    expect(Object.values(EDGE_METRIC_NAMES).sort()).toEqual(
      [
        "cascade_stream_viewers",
        "cascade_stream_latency_seconds",
        "cascade_stream_player_buffer_seconds",
        "cascade_stream_errors",
        "cascade_stream_encoder_speed",
        "cascade_stream_ingest_bitrate_bps",
        "cascade_stream_dropped_frames",
      ].sort(),
    );
  });
});
