import { describe, expect, it } from "vitest";
import { FakeOrigin } from "../../test/support/edge/fake-origin.ts";
import { apiClient, setStreamState, testEnv } from "../../test/support/edge/api-client.ts";

type Created = { stream_id: string; stream_key: string; ingest_urls: { rtmp: string }; playback_url: string; status: string; stream: Record<string, unknown> };
type Fields = { error: string; fields: Record<string, string> };

const api = apiClient();

describe("POST /api/v1/streams", () => {
  it("creates an idle stream and shows its key once", async () => {
    const u = await api.signUp("creator");
    const r = await api.call<Created>("POST", "/api/v1/streams", {
      token: u.token,
      json: { title: "  Dark Souls first run  ", category: "Gaming", tags: ["DarkSouls", "first-run"], latency_mode: "standard", enable_recording: true, dvr_window: 3600 },
    });
    expect(r.status).toBe(201);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.headers.get("location")).toBe(`/api/v1/streams/${r.body.stream_id}`);
    expect(r.body.stream_id).toMatch(/^[a-z2-7]{12}$/);
    expect(r.body.stream_key).toMatch(new RegExp(`^sk_${r.body.stream_id}_[A-Za-z0-9_-]{43}$`));
    expect(r.body).toMatchObject({ ingest_urls: { rtmp: "rtmp://127.0.0.1:1935/live" }, playback_url: `/watch/${r.body.stream_id}`, status: "idle" });
    expect(r.body.stream).toMatchObject({
      title: "Dark Souls first run",
      category: "gaming",
      category_name: "Gaming",
      tags: ["darksouls", "first-run"],
      latency_mode: "standard",
      enable_recording: true,
      dvr_window: 3600,
      viewer_count: 0,
      user: { id: u.user.id, username: u.username },
    });

    // Never again: not to the owner, not in lists, not as a hash.
    const owner = await api.call("GET", `/api/v1/streams/${r.body.stream_id}`, { token: u.token });
    const list = await api.call("GET", `/api/v1/streams?user=${u.username}`);
    for (const text of [owner.text, list.text]) {
      expect(text).not.toContain(r.body.stream_key);
      expect(text).not.toContain("sk_");
      expect(text).not.toContain("hash");
    }
    const stored = await testEnv().DB!.prepare("SELECT stream_key_hash FROM streams WHERE id = ?1").bind(r.body.stream_id).first<{ stream_key_hash: string }>();
    expect(stored!.stream_key_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored!.stream_key_hash).not.toContain(r.body.stream_key.slice(-43));
  });

  it("defaults: low latency, no recording, a 2 h DVR window, 30-day retention, no category; the ingest URL comes from INGEST_RTMP_URL", async () => {
    const u = await api.signUp("defaults");
    const r = await api.call<Created>("POST", "/api/v1/streams", { token: u.token, json: { title: "x" } }, { INGEST_RTMP_URL: "rtmp://ingest.example/live" });
    expect(r.body.ingest_urls.rtmp).toBe("rtmp://ingest.example/live");
    expect(r.body.stream).toMatchObject({ latency_mode: "low", visibility: "public", enable_recording: false, dvr_window: 7200, recording_retention_days: 30, category: null, tags: [], description: "" });
    const kept = await api.call<Created>("POST", "/api/v1/streams", { token: u.token, json: { title: "y", recording_retention_days: 7 } });
    expect(kept.body.stream).toMatchObject({ recording_retention_days: 7 });
    const bad = await api.call<{ fields: Record<string, string> }>("POST", "/api/v1/streams", { token: u.token, json: { title: "z", recording_retention_days: 0 } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.fields)).toEqual(["recording_retention_days"]);
  });

  it("401 without or with a bad token, 403 for a viewer account", async () => {
    expect((await api.call("POST", "/api/v1/streams", { json: { title: "x" } })).status).toBe(401);
    expect((await api.call("POST", "/api/v1/streams", { token: "garbage", json: { title: "x" } })).status).toBe(401);
    const u = await api.signUp("viewer");
    const viewerToken = await api.withRole(u, "viewer");
    const r = await api.call("POST", "/api/v1/streams", { token: viewerToken, json: { title: "x" } });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ error: "a viewer account cannot create streams", code: "forbidden" });
  });

  it("400 naming every offending field", async () => {
    const u = await api.signUp("badinput");
    const missing = await api.call<Fields>("POST", "/api/v1/streams", { token: u.token, json: {} });
    expect(missing.status).toBe(400);
    expect(missing.body.fields).toEqual({ title: "required" });
    const bad = await api.call<Fields>("POST", "/api/v1/streams", {
      token: u.token,
      json: { title: "   ", description: 5, category: "no-such-category", tags: ["ok", "not ok!"], latency_mode: "ultra", enable_recording: "yes", dvr_window: -1, titel: "typo" },
    });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.body.fields).sort()).toEqual(["category", "description", "dvr_window", "enable_recording", "latency_mode", "tags", "title", "titel"].sort());
    expect(bad.body.fields).toMatchObject({
      title: "must not be empty",
      description: "must be a string",
      category: expect.stringContaining("unknown category"),
      tags: expect.stringContaining("item 1"),
      latency_mode: "must be one of: standard, low",
      enable_recording: "must be true or false",
      dvr_window: "must be from 0 to 14400",
      titel: "unknown field",
    });
    const more = await api.call<Fields>("POST", "/api/v1/streams", { token: u.token, json: { title: "t".repeat(141), tags: Array.from({ length: 11 }, (_, i) => `t${i}`), dvr_window: 1.5 } });
    expect(more.body.fields).toEqual({ title: "must be at most 140 characters", tags: "must have at most 10 items", dvr_window: "must be an integer" });
  });

  it("400 for bad JSON, 413 over 16 KiB (before any validation)", async () => {
    const u = await api.signUp("badjson");
    const bad = await api.call("POST", "/api/v1/streams", { token: u.token, raw: "{title: 'x'}" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: "request body is not valid JSON" });
    const big = await api.call("POST", "/api/v1/streams", { token: u.token, json: { title: "x", description: "d".repeat(20_000) } });
    expect(big.status).toBe(413);
  });
});

describe("GET /api/v1/streams/:id", () => {
  it("shows the public view to anyone and more to the owner and admins", async () => {
    const owner = await api.signUp("owner");
    const other = await api.signUp("other");
    const admin = await api.signUp("admin");
    const adminToken = await api.withRole(admin, "admin");
    const s = await api.createStream(owner.token, { title: "Public view", enable_recording: true });
    const anon = await api.call("GET", `/api/v1/streams/${s.stream_id}`);
    expect(anon.status).toBe(200);
    expect(anon.body).toMatchObject({ stream_id: s.stream_id, title: "Public view", status: "idle", user: { username: owner.username } });
    expect(anon.body).not.toHaveProperty("ingest_urls");
    expect(anon.body).not.toHaveProperty("enable_recording");
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}`, { token: other.token })).body).not.toHaveProperty("ingest_urls");
    for (const token of [owner.token, adminToken]) {
      const r = await api.call("GET", `/api/v1/streams/${s.stream_id}`, { token });
      expect(r.body).toMatchObject({ enable_recording: true, dvr_window: 7200, recording_retention_days: 30, ingest_urls: { rtmp: "rtmp://127.0.0.1:1935/live" } });
      expect(r.text).not.toContain("sk_");
    }
  });

  it("404 for an unknown stream, 400 for an impossible id, 401 for a bad token", async () => {
    expect((await api.call("GET", "/api/v1/streams/zzzzzzzzzzzz")).status).toBe(404);
    const bad = await api.call<Fields>("GET", "/api/v1/streams/Not_Valid!");
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toHaveProperty("id");
    expect((await api.call("GET", "/api/v1/streams/zzzzzzzzzzzz", { token: "bad" })).status).toBe(401);
  });
});

describe("PATCH /api/v1/streams/:id", () => {
  it("updates what the owner or an admin sends, validating every field", async () => {
    const owner = await api.signUp("patcher");
    const s = await api.createStream(owner.token, { title: "Before" });
    const r = await api.call("PATCH", `/api/v1/streams/${s.stream_id}`, { token: owner.token, json: { title: "After", category: "music", tags: ["synth"], description: "New words" } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ title: "After", category: "music", tags: ["synth"], description: "New words", latency_mode: "low" });
    const cleared = await api.call("PATCH", `/api/v1/streams/${s.stream_id}`, { token: owner.token, json: { category: null } });
    expect(cleared.body).toMatchObject({ category: null, title: "After" });
    const admin = await api.signUp("patchadmin");
    const adminToken = await api.withRole(admin, "admin");
    expect((await api.call("PATCH", `/api/v1/streams/${s.stream_id}`, { token: adminToken, json: { title: "By admin" } })).body).toMatchObject({ title: "By admin" });
  });

  it("401, 403 for another user, 404, 400 for empty/unknown/invalid fields, 409 for pipeline settings while live", async () => {
    const owner = await api.signUp("patchmatrix");
    const other = await api.signUp("intruder");
    const s = await api.createStream(owner.token);
    const path = `/api/v1/streams/${s.stream_id}`;
    expect((await api.call("PATCH", path, { json: { title: "x" } })).status).toBe(401);
    const forbidden = await api.call("PATCH", path, { token: other.token, json: { title: "x" } });
    expect(forbidden.status).toBe(403);
    expect((await api.call("PATCH", "/api/v1/streams/zzzzzzzzzzzz", { token: owner.token, json: { title: "x" } })).status).toBe(404);
    const empty = await api.call<Fields>("PATCH", path, { token: owner.token, json: {} });
    expect(empty.status).toBe(400);
    expect(empty.body.fields).toHaveProperty("body");
    const invalid = await api.call<Fields>("PATCH", path, { token: owner.token, json: { status: "live", latency_mode: 1 } });
    expect(invalid.body.fields).toEqual({ status: "unknown field", latency_mode: "must be one of: standard, low" });
    expect((await api.call("PATCH", path, { token: owner.token, raw: "nope" })).status).toBe(400);
    expect((await api.call("PATCH", path, { token: owner.token, json: { description: "x".repeat(17_000) } })).status).toBe(413);

    await setStreamState(s.stream_id, { status: "live" });
    const locked = await api.call<Fields>("PATCH", path, { token: owner.token, json: { latency_mode: "standard", dvr_window: 60, title: "Still fine" } });
    expect(locked.status).toBe(409);
    expect(locked.body.fields).toEqual({ latency_mode: "cannot change while the stream is live", dvr_window: "cannot change while the stream is live" });
    expect((await api.call("PATCH", path, { token: owner.token, json: { title: "Live title" } })).body).toMatchObject({ title: "Live title" });
  });
});

describe("stream keys", () => {
  it("rotation shows a new key once and the old key stops working", async () => {
    const owner = await api.signUp("rotator");
    const s = await api.createStream(owner.token);
    const r = await api.call<{ stream_id: string; stream_key: string; key_rotated_at: string }>("POST", `/api/v1/streams/${s.stream_id}/key`, { token: owner.token });
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    expect(r.body.stream_key).not.toBe(s.stream_key);
    expect(r.body.stream_key.startsWith(`sk_${s.stream_id}_`)).toBe(true);
    expect(Date.parse(r.body.key_rotated_at)).toBeGreaterThan(0);
    const nodeToken = await nodeTokenFor("rotation-node");
    const check = (key: string) => api.call<{ allowed: boolean }>("POST", "/api/v1/ingest/authorize", { token: nodeToken, json: { stream_key: key } });
    expect((await check(s.stream_key)).body.allowed).toBe(false);
    expect((await check(r.body.stream_key)).body).toMatchObject({ allowed: true, stream_id: s.stream_id });
  });

  it("401, 403, 404, and 409 once the stream has ended", async () => {
    const owner = await api.signUp("keymatrix");
    const other = await api.signUp("keythief");
    const s = await api.createStream(owner.token);
    const path = `/api/v1/streams/${s.stream_id}/key`;
    expect((await api.call("POST", path)).status).toBe(401);
    expect((await api.call("POST", path, { token: other.token })).status).toBe(403);
    expect((await api.call("POST", "/api/v1/streams/zzzzzzzzzzzz/key", { token: owner.token })).status).toBe(404);
    expect((await api.call("POST", `/api/v1/streams/${s.stream_id}/stop`, { token: owner.token })).status).toBe(200);
    expect((await api.call("POST", path, { token: owner.token })).status).toBe(409);
  });
});

describe("POST /api/v1/streams/:id/stop and events", () => {
  it("ends the stream, records stream_ended, and 409s a second stop", async () => {
    const owner = await api.signUp("stopper");
    const s = await api.createStream(owner.token);
    await setStreamState(s.stream_id, { status: "live", viewer_count: 12 });
    const r = await api.call<{ stream_id: string; status: string; ended_at: string }>("POST", `/api/v1/streams/${s.stream_id}/stop`, { token: owner.token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stream_id: s.stream_id, status: "ended" });
    const after = await api.call("GET", `/api/v1/streams/${s.stream_id}`);
    expect(after.body).toMatchObject({ status: "ended", ended_at: r.body.ended_at, viewer_count: 0, peak_viewers: 12 });
    const again = await api.call("POST", `/api/v1/streams/${s.stream_id}/stop`, { token: owner.token });
    expect(again.status).toBe(409);
    expect(again.body).toEqual({ error: "the stream has already ended", code: "conflict" });
    const events = await api.call<{ events: Array<Record<string, unknown>>; next_cursor: string | null }>("GET", `/api/v1/streams/${s.stream_id}/events`, { token: owner.token });
    expect(events.status).toBe(200);
    expect(events.body.events).toHaveLength(1);
    expect(events.body.events[0]).toMatchObject({ event_type: "stream_ended", severity: "info", details: { by: owner.user.id, previous_status: "live" }, timestamp: r.body.ended_at });
    expect(events.body.next_cursor).toBeNull();
  });

  it("401, 403 and 404 for stop and events", async () => {
    const owner = await api.signUp("stopmatrix");
    const other = await api.signUp("stopother");
    const s = await api.createStream(owner.token);
    for (const [method, suffix] of [["POST", "stop"], ["GET", "events"]] as const) {
      expect((await api.call(method, `/api/v1/streams/${s.stream_id}/${suffix}`)).status).toBe(401);
      expect((await api.call(method, `/api/v1/streams/${s.stream_id}/${suffix}`, { token: other.token })).status).toBe(403);
      expect((await api.call(method, `/api/v1/streams/zzzzzzzzzzzz/${suffix}`, { token: owner.token })).status).toBe(404);
    }
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}`)).body).toMatchObject({ status: "idle" });
  });

  it("goes through the pluggable lifecycle (the saga's seam)", async () => {
    const owner = await api.signUp("seam");
    const s = await api.createStream(owner.token);
    const calls: string[] = [];
    const custom = apiClient({ lifecycle: () => ({ stop: async (_db, stream, by) => (calls.push(`${stream.id}:${by.username}`), { ok: true, endedAt: "2030-01-01T00:00:00.000Z" }) }) });
    const r = await custom.call("POST", `/api/v1/streams/${s.stream_id}/stop`, { token: owner.token });
    expect(r.body).toEqual({ stream_id: s.stream_id, status: "ended", ended_at: "2030-01-01T00:00:00.000Z" });
    expect(calls).toEqual([`${s.stream_id}:${owner.username}`]);
    // The stand-in did not touch D1.
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}`)).body).toMatchObject({ status: "idle" });
  });

  it("pages through events newest first with an opaque cursor", async () => {
    const owner = await api.signUp("eventpager");
    const s = await api.createStream(owner.token);
    const db = testEnv().DB!;
    for (let i = 0; i < 5; i++) {
      await db
        .prepare("INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at) VALUES (?1, 'bitrate_change', 'info', ?2, '{}', ?3)")
        .bind(s.stream_id, `event ${i}`, new Date().toISOString())
        .run();
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { events: Array<{ message: string }>; next_cursor: string | null } } = await api.call("GET", `/api/v1/streams/${s.stream_id}/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: owner.token });
      seen.push(...page.body.events.map((e) => e.message));
      cursor = page.body.next_cursor;
    } while (cursor);
    expect(seen).toEqual(["event 4", "event 3", "event 2", "event 1", "event 0"]);
    const bad = await api.call<Fields>("GET", `/api/v1/streams/${s.stream_id}/events?limit=0&cursor=xyz`, { token: owner.token });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({ limit: "must be from 1 to 100", cursor: "invalid cursor" });
  });
});

describe("GET /api/v1/streams/:id/playback", () => {
  it("gives the HLS URL, chat URL and viewer count; qualities from the master playlist while live", async () => {
    const owner = await api.signUp("player");
    const s = await api.createStream(owner.token, { title: "Watch me" });
    const origin = new FakeOrigin(s.stream_id);
    origin.publish(0, 0);
    const client = apiClient({ upstream: origin.fetch });
    const idle = await client.call("GET", `/api/v1/streams/${s.stream_id}/playback`);
    expect(idle.status).toBe(200);
    expect(idle.body).toEqual({
      stream_id: s.stream_id,
      status: "idle",
      visibility: "public",
      title: "Watch me",
      user: { id: owner.user.id, username: owner.username },
      viewer_count: 0,
      viewers: { current: 0, peak: 0 },
      started_at: null,
      playback_urls: { hls: `/hls/${s.stream_id}/master.m3u8` },
      watch_url: `/watch/${s.stream_id}`,
      qualities: [],
      chat_url: `/api/v1/streams/${s.stream_id}/chat`,
    });
    expect(origin.total()).toBe(0);
    await setStreamState(s.stream_id, { status: "live", viewer_count: 7 });
    const live = await client.call("GET", `/api/v1/streams/${s.stream_id}/playback`);
    expect(live.body).toMatchObject({ status: "live", viewer_count: 7, qualities: [{ name: "360p", bandwidth: 800000, resolution: "640x360", fps: null, codecs: "avc1.64001e,mp4a.40.2" }] });
    // Through the edge's cache: a second lookup does not reach the origin again.
    await client.call("GET", `/api/v1/streams/${s.stream_id}/playback`);
    expect(origin.count(`/live/${s.stream_id}/master.m3u8`)).toBe(1);
    expect((await client.call("GET", "/api/v1/streams/zzzzzzzzzzzz/playback")).status).toBe(404);
  });

  it("live without a master playlist yet: no qualities", async () => {
    const owner = await api.signUp("noplaylist");
    const s = await api.createStream(owner.token);
    const origin = new FakeOrigin(s.stream_id);
    origin.playlistStatus = 404;
    await setStreamState(s.stream_id, { status: "live" });
    const r = await apiClient({ upstream: origin.fetch }).call("GET", `/api/v1/streams/${s.stream_id}/playback`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "live", qualities: [] });
  });
});

const nodeTokenFor = async (nodeId: string) => {
  const { signNodeToken } = await import("../../shared/tokens.ts");
  return signNodeToken(testEnv().NODE_SECRET!, nodeId);
};
