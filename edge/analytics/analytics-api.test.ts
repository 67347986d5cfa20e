import { describe, expect, it } from "vitest";
import { minuteOf } from "./player-minutes.ts";
import { nodeReportStatement, playerMinuteStatement } from "./store.ts";
import { api, db, liveStream } from "../../test/support/edge/analytics.ts";
import type { AnalyticsRow } from "./store.ts";

/** A minute as the API answers it: the stored row with its minute as an ISO string. */
type Minute = Omit<AnalyticsRow, "minute"> & { minute: string };
type Analytics = { stream_id: string; from: string; to: string; minutes: Minute[] };
type Fields = { error: string; fields: Record<string, string> };

const iso = (minute: number) => new Date(minute * 60_000).toISOString();
const path = (id: string, q = "") => `/api/v1/streams/${id}/analytics${q}`;

/** Figures for two minutes of a stream, written as the node and the counter write them. */
const seed = async (id: string, m: number) => {
  await nodeReportStatement(db(), m, { streamId: id, seconds: 60, ingestBytes: 45_000_000, droppedFrames: 12, encoderSpeed: 1.04, errors: 1 }).run();
  await playerMinuteStatement(db(), id, { minute: m, viewers: 42, latencyP50Ms: 2400, latencyP95Ms: 4100, latencySamples: 120, bufferP10S: 1.2, bufferSamples: 120, playerErrors: 2, playerReports: 120 }).run();
  // The next minute: only players reported.
  await playerMinuteStatement(db(), id, { minute: m + 1, viewers: 40, latencyP50Ms: 2500, latencyP95Ms: 3900, latencySamples: 110, bufferP10S: 1.5, bufferSamples: 110, playerErrors: 0, playerReports: 110 }).run();
};

describe("GET /api/v1/streams/:id/analytics", () => {
  it("answers every minute of the range, oldest first, with nulls where no report came", async () => {
    const { owner, id } = await liveStream("an_api");
    const m = minuteOf(Date.now()) - 30;
    await seed(id, m);
    const r = await api.call<Analytics>("GET", path(id, `?from=${iso(m - 1)}&to=${iso(m + 3)}`), { token: owner.token });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body).toEqual({
      stream_id: id,
      from: iso(m - 1),
      to: iso(m + 3),
      minutes: [
        { minute: iso(m - 1), viewers: null, ingest_bitrate_bps: null, dropped_frames: null, encoder_speed: null, latency_p50_ms: null, latency_p95_ms: null, buffer_p10_s: null, errors: null },
        { minute: iso(m), viewers: 42, ingest_bitrate_bps: 6_000_000, dropped_frames: 12, encoder_speed: 1.04, latency_p50_ms: 2400, latency_p95_ms: 4100, buffer_p10_s: 1.2, errors: 3 },
        { minute: iso(m + 1), viewers: 40, ingest_bitrate_bps: null, dropped_frames: null, encoder_speed: null, latency_p50_ms: 2500, latency_p95_ms: 3900, buffer_p10_s: 1.5, errors: 0 },
        { minute: iso(m + 2), viewers: null, ingest_bitrate_bps: null, dropped_frames: null, encoder_speed: null, latency_p50_ms: null, latency_p95_ms: null, buffer_p10_s: null, errors: null },
      ],
    });
    // A range inside minutes takes every minute it touches; offsets are understood.
    const within = await api.call<Analytics>("GET", path(id, `?from=${encodeURIComponent(new Date(m * 60_000 + 30_000).toISOString().replace("Z", "+00:00"))}&to=${iso(m + 1)}`), { token: owner.token });
    expect(within.status).toBe(200);
    expect(within.body.minutes.map((x) => x.minute)).toEqual([iso(m)]);
  });

  it("defaults to the last hour; from alone means the hour after it (up to now)", async () => {
    const { owner, id } = await liveStream("an_api");
    const before = Date.now();
    const r = await api.call<Analytics>("GET", path(id), { token: owner.token });
    expect(r.status).toBe(200);
    const to = Date.parse(r.body.to);
    expect(to).toBeGreaterThanOrEqual(before);
    expect(to - Date.parse(r.body.from)).toBe(3_600_000);
    expect(r.body.minutes.length).toBeGreaterThanOrEqual(60);
    expect(r.body.minutes.length).toBeLessThanOrEqual(61);
    const m = minuteOf(before) - 600;
    const fromOnly = await api.call<Analytics>("GET", path(id, `?from=${iso(m)}`), { token: owner.token });
    expect(fromOnly.body).toMatchObject({ from: iso(m), to: iso(m + 60) });
    expect(fromOnly.body.minutes).toHaveLength(60);
  });

  it("owner, admin and platform moderators read it; anyone else signed in gets 403, nobody signed in 401, no stream 404", async () => {
    const { owner, id } = await liveStream("an_api");
    const stranger = await api.signUp("an_other");
    const admin = await api.signUp("an_admin");
    const mod = await api.signUp("an_mod");
    const viewer = await api.signUp("an_viewer");
    const adminToken = await api.withRole(admin, "admin");
    const modToken = await api.withRole(mod, "moderator");
    const viewerToken = await api.withRole(viewer, "viewer");
    const matrix: Array<[string | null, number]> = [
      [owner.token, 200],
      [adminToken, 200],
      [modToken, 200],
      [stranger.token, 403],
      [viewerToken, 403],
      [null, 401],
      ["not-a-token", 401],
    ];
    for (const [token, status] of matrix) {
      const r = await api.call<Fields>("GET", path(id), { token });
      expect(r.status, String(token)).toBe(status);
      if (status !== 200) expect(r.body.error).toEqual(expect.any(String));
    }
    expect((await api.call("GET", path("no-such-stream-here"), { token: owner.token })).status).toBe(404);
    expect((await api.call<Fields>("GET", path("Bad!Id"), { token: owner.token })).status).toBe(400);
  });

  it("400 naming the parameter: not ISO, impossible dates, from ≥ to, over 7 days, unknown parameters", async () => {
    const { owner, id } = await liveStream("an_api");
    const now = Date.now();
    const d = (ms: number) => new Date(ms).toISOString();
    const cases: Array<[string, string]> = [
      ["?from=yesterday", "from"],
      ["?from=1700000000000", "from"],
      ["?from=2025-01-17", "from"],
      ["?from=2025-01-17 10:00:00Z", "from"],
      ["?to=2025-02-30T10:00:00Z", "to"],
      ["?to=2025-01-17T24:00:00Z", "to"],
      ["?from=", "from"],
      [`?from=${d(now - 3_600_000)}&to=${d(now - 3_600_000)}`, "from"],
      [`?from=${d(now)}&to=${d(now - 60_000)}`, "from"],
      [`?from=${d(now - 7 * 86_400_000 - 60_000)}&to=${d(now)}`, "to"],
      [`?from=${d(now + 3_600_000)}`, "from"],
      ["?limit=10", "limit"],
    ];
    for (const [q, field] of cases) {
      const r = await api.call<Fields>("GET", path(id, q), { token: owner.token });
      expect(r.status, q).toBe(400);
      expect(r.body.fields, q).toHaveProperty([field]);
    }
    // Exactly 7 days is allowed.
    const week = await api.call<Analytics>("GET", path(id, `?from=${d(now - 7 * 86_400_000)}&to=${d(now)}`), { token: owner.token });
    expect(week.status).toBe(200);
    expect(week.body.minutes.length).toBeGreaterThanOrEqual(7 * 1440);
  });
});
