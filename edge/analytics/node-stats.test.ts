import { describe, expect, it } from "vitest";
import { signNodeToken } from "../../shared/tokens.ts";
import { api, db, liveStream, nodeToken, rows } from "../../test/support/edge/analytics.ts";

type Fields = { error: string; fields: Record<string, string> };
const PATH = "/api/v1/nodes/stats";
const figures = (streamId: string, o: Record<string, unknown> = {}) => ({ stream_id: streamId, seconds: 10, ingest_bytes: 5_000_000, dropped_frames: 2, encoder_speed: 1.25, errors: 1, ...o });

describe("POST /api/v1/nodes/stats: a transcoder's per-stream figures", () => {
  it("stores each report into the minute it arrived in, adding up reports: bitrate, drops, weighted speed, errors", async () => {
    const node = await nodeToken();
    const reports = [figures, figures, (id: string) => figures(id, { seconds: 5, ingest_bytes: 1_250_000, dropped_frames: 0, encoder_speed: 0.5, errors: 0 })];
    // Three reports in one minute; should the clock cross a minute boundary between them, again with a fresh stream.
    for (let attempt = 0; ; attempt++) {
      const { id } = await liveStream("nodestats");
      const minutes = new Set<string>();
      for (const report of reports) {
        const r = await api.call<{ minute: string; streams: number; node_id: string }>("POST", PATH, { token: node.token, json: { streams: [report(id)] } });
        expect(r.status).toBe(200);
        expect(r.body).toMatchObject({ node_id: node.id, ok: true, streams: 1, minute: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/) });
        minutes.add(r.body.minute);
      }
      if (minutes.size > 1 && attempt < 2) continue;
      const stored = await rows(id);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({
        minute: Date.parse([...minutes][0]!) / 60_000,
        ingest_bytes: 11_250_000,
        ingest_seconds: 25,
        // 11.25 MB × 8 / 25 s
        ingest_bitrate_bps: 3_600_000,
        dropped_frames: 4,
        // (1.25 × 10 + 1.25 × 10 + 0.5 × 5) / 25
        encoder_speed: 1.1,
        node_errors: 2,
        node_reports: 3,
        errors: 2,
        viewers: null,
        latency_p50_ms: null,
      });
      break;
    }
  });

  it("encoder_speed null (no encoder run in the period) leaves the speed out of the average", async () => {
    const { id } = await liveStream("nodestats");
    const node = await nodeToken();
    expect((await api.call("POST", PATH, { token: node.token, json: { streams: [figures(id, { encoder_speed: null })] } })).status).toBe(200);
    expect((await rows(id))[0]).toMatchObject({ encoder_speed: null, ingest_bitrate_bps: 4_000_000 });
  });

  it("401 without or with a bad node token, a user token included; 503 without NODE_SECRET; nothing written", async () => {
    const { id, owner } = await liveStream("nodestats");
    const foreign = await signNodeToken("another-secret-0123456789", "node-x");
    for (const token of [null, "garbage", foreign, owner.token]) {
      const r = await api.call("POST", PATH, { token, json: { streams: [figures(id)] } });
      expect(r.status, String(token)).toBe(401);
      expect(r.body).toMatchObject({ error: expect.any(String) });
    }
    const node = await nodeToken();
    expect((await api.call("POST", PATH, { token: node.token, json: { streams: [figures(id)] } }, { NODE_SECRET: "" })).status).toBe(503);
    expect(await rows(id)).toEqual([]);
  });

  it("400 naming every bad field, and nothing written for any stream of a report with one bad item", async () => {
    const { id } = await liveStream("nodestats");
    const other = await liveStream("nodestats");
    const node = await nodeToken();
    const cases: Array<[unknown, string]> = [
      [{}, "streams"],
      [{ streams: [] }, "streams"],
      [{ streams: "x" }, "streams"],
      [{ streams: [figures(id)], extra: 1 }, "extra"],
      [{ streams: [42] }, "streams[0]"],
      [{ streams: [figures("Not A Stream")] }, "streams[0].stream_id"],
      [{ streams: [figures(id), figures(id)] }, "streams[1].stream_id"],
      [{ streams: [figures(id, { seconds: 0 })] }, "streams[0].seconds"],
      [{ streams: [figures(id, { seconds: 601 })] }, "streams[0].seconds"],
      [{ streams: [figures(id, { seconds: "10" })] }, "streams[0].seconds"],
      [{ streams: [figures(id, { ingest_bytes: -1 })] }, "streams[0].ingest_bytes"],
      [{ streams: [figures(id, { ingest_bytes: 1.5 })] }, "streams[0].ingest_bytes"],
      [{ streams: [figures(id, { ingest_bytes: 2_000_000_000 })] }, "streams[0].ingest_bytes"],
      [{ streams: [figures(id, { dropped_frames: 10_001 })] }, "streams[0].dropped_frames"],
      [{ streams: [figures(id, { encoder_speed: -0.1 })] }, "streams[0].encoder_speed"],
      [{ streams: [figures(id, { encoder_speed: 1001 })] }, "streams[0].encoder_speed"],
      [{ streams: [figures(id, { errors: 1.5 })] }, "streams[0].errors"],
      [{ streams: [figures(id, { errors: 10_001 })] }, "streams[0].errors"],
      [{ streams: [figures(id, { rung: "720p" })] }, "streams[0].rung"],
      [{ streams: [figures(other.id), figures(id, { errors: -1 })] }, "streams[1].errors"],
    ];
    for (const [json, field] of cases) {
      const r = await api.call<Fields>("POST", PATH, { token: node.token, json });
      expect(r.status, JSON.stringify(json)).toBe(400);
      expect(r.body.fields, JSON.stringify(json)).toHaveProperty([field]);
    }
    // Not JSON: numbers like NaN or Infinity cannot even be sent.
    const nan = await api.call<Fields>("POST", PATH, { token: node.token, raw: `{"streams":[{"stream_id":"${id}","seconds":NaN}]}` });
    expect(nan.status).toBe(400);
    expect(nan.body.error).toBe("request body is not valid JSON");
    expect(await rows(id)).toEqual([]);
    expect(await rows(other.id)).toEqual([]);
  });

  it("400 for a stream the control plane does not know or gave to another node; the node it was given to may report", async () => {
    const { id } = await liveStream("nodestats");
    const mine = await nodeToken();
    const theirs = await nodeToken();
    await db().prepare("UPDATE streams SET node_id = ?2 WHERE id = ?1").bind(id, mine.id).run();
    const unknown = await api.call<Fields>("POST", PATH, { token: mine.token, json: { streams: [figures(id), figures("no-such-stream-anywhere")] } });
    expect(unknown.status).toBe(400);
    expect(unknown.body.fields).toEqual({ "streams[1].stream_id": "no stream no-such-stream-anywhere" });
    const foreign = await api.call<Fields>("POST", PATH, { token: theirs.token, json: { streams: [figures(id)] } });
    expect(foreign.status).toBe(400);
    expect(foreign.body.fields).toEqual({ "streams[0].stream_id": `stream ${id} is assigned to another node` });
    expect(await rows(id)).toEqual([]);
    expect((await api.call("POST", PATH, { token: mine.token, json: { streams: [figures(id)] } })).status).toBe(200);
    expect(await rows(id)).toHaveLength(1);
  });
});
