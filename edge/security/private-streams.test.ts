/**
 * Issue 7 security suite: private and unlisted streams in the control-plane API. Visibility is
 * validated like every other field, private streams are a 404 to everyone but their owner and
 * admins, hidden streams are never listed, searched or counted, and minting a playback URL has an
 * exact auth matrix that changes nothing on refusal.
 */
import { describe, expect, it } from "vitest";
import { issueUserToken } from "../accounts/user-token.ts";
import { CapturingQueue, seedFollowers } from "../../test/support/edge/fanout-measure.ts";
import { enqueueFanout } from "../notifications/notify-seam.ts";
import { apiClient, setStreamState, testEnv } from "../../test/support/edge/api-client.ts";

type Fields = { error: string; fields: Record<string, string> };
type StreamList = { streams: Array<{ stream_id: string; visibility: string }>; next_cursor: string | null; total_results?: number };

/** The origin's live list as `/` and `/api/v1/live` see it. */
const originList: { body: unknown } = { body: [] };
const api = apiClient({ upstream: async () => Response.json(originList.body) });
const word = () => `pv${Math.random().toString(36).slice(2, 10)}`;

const streamRow = (id: string) => testEnv().DB!.prepare("SELECT * FROM streams WHERE id = ?1").bind(id).first<Record<string, unknown>>();
const streamCount = async (userId: string) =>
  (await testEnv().DB!.prepare("SELECT count(*) AS n FROM streams WHERE user_id = ?1").bind(userId).first<{ n: number }>())!.n;

describe("visibility on create and patch", () => {
  it("defaults to public, accepts the three values, and shows them to the owner", async () => {
    const u = await api.signUp("vis");
    const plain = await api.call<{ stream: { visibility: string } }>("POST", "/api/v1/streams", { token: u.token, json: { title: "Plain" } });
    expect(plain.body.stream.visibility).toBe("public");
    for (const visibility of ["public", "unlisted", "private"]) {
      const r = await api.call<{ stream_id: string; stream: { visibility: string } }>("POST", "/api/v1/streams", { token: u.token, json: { title: visibility, visibility } });
      expect(r.status).toBe(201);
      expect(r.body.stream.visibility).toBe(visibility);
      expect((await streamRow(r.body.stream_id))!.visibility).toBe(visibility);
    }
  });

  it("400 naming the field for anything else, with nothing created or changed", async () => {
    const u = await api.signUp("visbad");
    const before = await streamCount(u.user.id);
    for (const visibility of ["secret", "PRIVATE", " private", "", null, 1, true, ["private"], { private: true }]) {
      const r = await api.call<Fields>("POST", "/api/v1/streams", { token: u.token, json: { title: "Nope", visibility } });
      expect(r.status, JSON.stringify(visibility)).toBe(400);
      expect(r.body.fields).toEqual({ visibility: "must be one of: public, unlisted, private" });
    }
    expect(await streamCount(u.user.id)).toBe(before);

    const s = await api.createStream(u.token, { title: "Keep", visibility: "unlisted" });
    const row = await streamRow(s.stream_id);
    const bad = await api.call<Fields>("PATCH", `/api/v1/streams/${s.stream_id}`, { token: u.token, json: { title: "Changed", visibility: "hidden" } });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({ visibility: "must be one of: public, unlisted, private" });
    expect(await streamRow(s.stream_id)).toEqual(row);
    // Another user cannot change it either.
    const other = await api.signUp("visother");
    expect((await api.call("PATCH", `/api/v1/streams/${s.stream_id}`, { token: other.token, json: { visibility: "public" } })).status).toBe(403);
    expect(await streamRow(s.stream_id)).toEqual(row);
    // While live it may change (it is not a pipeline setting).
    await setStreamState(s.stream_id, { status: "live" });
    const ok = await api.call<{ visibility: string }>("PATCH", `/api/v1/streams/${s.stream_id}`, { token: u.token, json: { visibility: "private" } });
    expect(ok.status).toBe(200);
    expect(ok.body.visibility).toBe("private");
  });
});

describe("who sees a private stream", () => {
  it("owner and admins see it; anyone else gets 404, also for playback info and recordings", async () => {
    const owner = await api.signUp("privowner");
    const other = await api.signUp("privother");
    const admin = await api.signUp("privadmin");
    const adminToken = await api.withRole(admin, "admin");
    const s = await api.createStream(owner.token, { title: "Secret", visibility: "private" });
    for (const token of [owner.token, adminToken]) {
      const r = await api.call<{ visibility: string; ingest_urls?: unknown }>("GET", `/api/v1/streams/${s.stream_id}`, { token });
      expect(r.status).toBe(200);
      expect(r.body.visibility).toBe("private");
    }
    for (const token of [null, other.token]) {
      for (const path of ["", "/playback", "/recordings"]) {
        const r = await api.call("GET", `/api/v1/streams/${s.stream_id}${path}`, { token });
        expect({ path, status: r.status, error: r.body.error }).toEqual({ path, status: 404, error: "stream not found" });
      }
    }
    const playback = await api.call<{ visibility: string; playback_urls: { hls: string | null } }>("GET", `/api/v1/streams/${s.stream_id}/playback`, { token: owner.token });
    expect(playback.status).toBe(200);
    expect(playback.body.visibility).toBe("private");
    expect(playback.body.playback_urls.hls).toBeNull();
    // An unlisted stream is found by its link.
    const unlisted = await api.createStream(owner.token, { title: "By link", visibility: "unlisted" });
    expect((await api.call("GET", `/api/v1/streams/${unlisted.stream_id}`)).status).toBe(200);
    expect((await api.call<{ playback_urls: { hls: string } }>("GET", `/api/v1/streams/${unlisted.stream_id}/playback`)).body.playback_urls.hls).toBe(`/hls/${unlisted.stream_id}/master.m3u8`);
  });

  it("GET …/visibility answers what the delivery routes need, and nothing for unknown ids", async () => {
    const owner = await api.signUp("visq");
    const s = await api.createStream(owner.token, { title: "Q", visibility: "private" });
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}/visibility`)).body).toEqual({ stream_id: s.stream_id, visibility: "private" });
    expect((await api.call("GET", "/api/v1/streams/demo/visibility")).body).toEqual({ stream_id: "demo", visibility: null });
    expect((await api.call("GET", "/api/v1/streams/Not%20An%20Id/visibility")).status).toBe(400);
  });
});

describe("hidden streams are never listed", () => {
  it("not in search, browse, lists, the directory, category counts or /api/v1/live; the owner's own list has them", async () => {
    const owner = await api.signUp("hider");
    const w = word();
    const ids: Record<string, string> = {};
    for (const visibility of ["public", "unlisted", "private"]) {
      const s = await api.createStream(owner.token, { title: `${w} ${visibility}`, category: "science-technology", visibility });
      await setStreamState(s.stream_id, { status: "live", viewer_count: 1_000_000 });
      ids[visibility] = s.stream_id;
    }
    const found = async (path: string, token: string | null = null) => {
      const r = await api.call<StreamList>("GET", path, { token });
      expect(r.status, path).toBe(200);
      return r.body.streams.map((s) => s.stream_id).filter((id) => Object.values(ids).includes(id)).sort();
    };
    expect(await found(`/api/v1/streams/search?q=${w}`)).toEqual([ids.public]);
    expect(await found(`/api/v1/streams/search?q=${w}`, owner.token)).toEqual([ids.public]);
    expect(await found(`/api/v1/streams/search?q=${w}&status=any`)).toEqual([ids.public]);
    expect((await api.call<StreamList>("GET", `/api/v1/streams/search?q=${w}`)).body.total_results).toBe(1);
    expect(await found("/api/v1/streams/search?min_viewers=999999&limit=50")).toEqual([ids.public]);
    expect(await found(`/api/v1/streams?user=${owner.username}`)).toEqual([ids.public]);
    expect(await found("/api/v1/streams?status=live&category=science-technology&limit=100")).toEqual([ids.public]);
    const other = await api.signUp("peeker");
    expect(await found(`/api/v1/streams?user=${owner.username}`, other.token)).toEqual([ids.public]);
    // The creator page lists the owner's own streams, hidden ones included.
    expect(await found(`/api/v1/streams?user=${owner.username}`, owner.token)).toEqual(Object.values(ids).sort());

    const directory = await api.call("GET", `/?q=${w}`);
    expect(directory.status).toBe(200);
    expect(directory.text).toContain(`/watch/${ids.public}`);
    expect(directory.text).not.toContain(ids.unlisted!);
    expect(directory.text).not.toContain(ids.private!);
    const top = await api.call("GET", "/");
    expect(top.text).not.toContain(ids.private!);

    // Category counts: ending the hidden streams (a million viewers each) changes nothing; ending the public one does.
    const counts = async () => {
      const r = await api.call<{ categories: Array<{ slug: string; live_streams: number; viewers: number }> }>("GET", "/api/v1/categories");
      const c = r.body.categories.find((x) => x.slug === "science-technology")!;
      return { live_streams: c.live_streams, viewers: c.viewers };
    };
    const before = await counts();
    await setStreamState(ids.unlisted!, { status: "ended" });
    await setStreamState(ids.private!, { status: "ended" });
    expect(await counts()).toEqual(before);
    await setStreamState(ids.public!, { status: "ended" });
    const after = await counts();
    expect(before.live_streams - after.live_streams).toBe(1);
    expect(before.viewers - after.viewers).toBe(1_000_000);

    // The origin knows nothing of visibility: its live list is filtered through D1.
    originList.body = [ids.public, ids.unlisted, ids.private, "demo"].map((id) => ({ id, startedAt: new Date().toISOString(), renditions: ["360p"] }));
    const live = await api.call<Array<{ id: string }>>("GET", "/api/v1/live");
    expect(live.body.map((s) => s.id).sort()).toEqual([ids.public, "demo"].sort());
    const fallback = await api.call("GET", "/", {}, { DB: undefined });
    expect(fallback.status).toBe(200);
    originList.body = [];
  });
});

describe("POST /api/v1/streams/:id/playback-token", () => {
  const mintPath = (id: string) => `/api/v1/streams/${id}/playback-token`;

  it("auth matrix: 401 without, with a bad or an expired token; 404 (private) / 403 (public) for someone else; owner and admin 200", async () => {
    const owner = await api.signUp("minter");
    const other = await api.signUp("notminter");
    const admin = await api.signUp("mintadmin");
    const adminToken = await api.withRole(admin, "admin");
    const priv = await api.createStream(owner.token, { title: "P", visibility: "private" });
    const pub = await api.createStream(owner.token, { title: "Q" });
    const before = [await streamRow(priv.stream_id), await streamRow(pub.stream_id)];
    const expired = (await issueUserToken(testEnv().JWT_SECRET!, { id: owner.user.id, username: owner.username, role: "streamer" }, Math.floor(Date.now() / 1000) - 2 * 86_400)).token;
    const forged = (await issueUserToken("some-other-secret-0123456789abcdef0123", { id: owner.user.id, username: owner.username, role: "admin" })).token;

    const cases: Array<[string, Record<string, string>, string, number, string]> = [
      ["none", {}, priv.stream_id, 401, "authentication required: send Authorization: Bearer <token>"],
      ["not bearer", { authorization: `Basic ${btoa("a:b")}` }, priv.stream_id, 401, "the Authorization header must be `Bearer <token>`"],
      ["garbage", { authorization: "Bearer not.a.jwt" }, priv.stream_id, 401, "invalid token"],
      ["forged", { authorization: `Bearer ${forged}` }, priv.stream_id, 401, "invalid token"],
      ["expired", { authorization: `Bearer ${expired}` }, priv.stream_id, 401, "token expired"],
      ["other on private", { authorization: `Bearer ${other.token}` }, priv.stream_id, 404, "stream not found"],
      ["other on public", { authorization: `Bearer ${other.token}` }, pub.stream_id, 403, "only the stream's owner or an admin may mint playback URLs"],
      ["unknown stream", { authorization: `Bearer ${owner.token}` }, "zzzzzzzzzzzz", 404, "stream not found"],
      ["bad stream id", { authorization: `Bearer ${owner.token}` }, "Bad.Id", 400, "invalid stream id"],
    ];
    for (const [name, headers, id, status, error] of cases) {
      const r = await api.call("POST", mintPath(id), { headers, json: { ttl_s: 120 } });
      expect({ name, status: r.status, error: r.body.error }).toEqual({ name, status, error });
      expect(r.body).not.toHaveProperty("token");
      if (status === 401) expect(r.headers.get("www-authenticate")).toBe('Bearer realm="cascade"');
    }
    expect([await streamRow(priv.stream_id), await streamRow(pub.stream_id)]).toEqual(before);

    for (const token of [owner.token, adminToken]) {
      const r = await api.call<{ token: string; url: string; expires_at: string }>("POST", mintPath(priv.stream_id), { token, json: { ttl_s: 120 } });
      expect(r.status).toBe(200);
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(r.body.url).toBe(`/hls/${priv.stream_id}/~${r.body.token}/master.m3u8`);
      const ttl = Date.parse(r.body.expires_at) / 1000 - Date.now() / 1000;
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);
    }
    // No body at all is the default lifetime (an hour).
    const bare = await api.call<{ expires_at: string }>("POST", mintPath(priv.stream_id), { token: owner.token });
    expect(bare.status).toBe(200);
    expect(Date.parse(bare.body.expires_at) / 1000 - Date.now() / 1000).toBeGreaterThan(3500);
    expect([await streamRow(priv.stream_id), await streamRow(pub.stream_id)]).toEqual(before);
  });

  it("validates the body: 400 naming each bad field", async () => {
    const owner = await api.signUp("mintbody");
    const s = await api.createStream(owner.token, { title: "B", visibility: "private" });
    const cases: Array<[unknown, Record<string, string>]> = [
      [{ ttl_s: 59 }, { ttl_s: "must be from 60 to 86400" }],
      [{ ttl_s: 86_401 }, { ttl_s: "must be from 60 to 86400" }],
      [{ ttl_s: "3600" }, { ttl_s: "must be an integer" }],
      [{ ttl_s: 90.5 }, { ttl_s: "must be an integer" }],
      [{ viewer_id: "has space" }, { viewer_id: "must be 1–64 letters, digits, '-' or '_'" }],
      [{ viewer_id: "x".repeat(65) }, { viewer_id: "must be at most 64 characters" }],
      [{ recording_id: "../etc" }, { recording_id: `must match ${"^[a-z0-9]{8,64}$"}` }],
      [{ ttl: 60, ttl_s: 0 }, { ttl: "unknown field", ttl_s: "must be from 60 to 86400" }],
    ];
    for (const [json, fields] of cases) {
      const r = await api.call<Fields>("POST", mintPath(s.stream_id), { token: owner.token, json });
      expect({ json, status: r.status, fields: r.body.fields }).toEqual({ json, status: 400, fields });
    }
    const notJson = await api.call("POST", mintPath(s.stream_id), { token: owner.token, raw: "{ttl_s: 60" });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error).toBe("request body is not valid JSON");
    const unknownRecording = await api.call("POST", mintPath(s.stream_id), { token: owner.token, json: { recording_id: "zzzzzzzzzzzz" } });
    expect(unknownRecording.status).toBe(404);
    expect(unknownRecording.body.error).toBe("recording not found");
  });
});

describe("go-live announcements", () => {
  it("followers are told of a public go-live only; unlisted and private ones are not announced", async () => {
    const owner = await api.signUp("announcer");
    await seedFollowers(testEnv().DB!, owner.user.id, 3);
    for (const [visibility, followers] of [["public", 3], ["unlisted", 0], ["private", 0]] as const) {
      const s = await api.createStream(owner.token, { title: visibility, visibility });
      await setStreamState(s.stream_id, { status: "live" });
      const notify = new CapturingQueue();
      const plan = await enqueueFanout({ ...testEnv(), NOTIFY_QUEUE: notify, WEBHOOK_QUEUE: new CapturingQueue() }, s.stream_id);
      expect({ visibility, followers: plan.followers, messages: notify.drain().length }).toEqual({ visibility, followers, messages: followers ? 1 : 0 });
    }
  });
});

describe("a private stream's chat", () => {
  it("is read by the owner, admins and signed viewers only; anyone else is told the stream does not exist", async () => {
    const owner = await api.signUp("chatpriv");
    const other = await api.signUp("chatpeek");
    const s = await api.createStream(owner.token, { title: "Quiet room", visibility: "private" });
    const history = `/api/v1/streams/${s.stream_id}/chat/messages`;
    expect((await api.call("GET", history, { token: owner.token })).status).toBe(200);
    for (const token of [null, other.token]) {
      const r = await api.call("GET", history, { token });
      expect({ status: r.status, error: r.body.error }).toEqual({ status: 404, error: "stream not found" });
    }
    const upgrade = { upgrade: "websocket" };
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}/chat`, { headers: upgrade })).status).toBe(404);
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}/chat?token=${other.token}`, { headers: upgrade })).status).toBe(404);

    const minted = await api.call<{ token: string }>("POST", `/api/v1/streams/${s.stream_id}/playback-token`, { token: owner.token, json: {} });
    expect((await api.call("GET", `${history}?playback_token=${minted.body.token}`)).status).toBe(200);
    expect((await api.call("GET", `${history}?playback_token=${minted.body.token.slice(0, -2)}AA`)).status).toBe(404);
    // A public stream's chat stays open to all.
    const pub = await api.createStream(owner.token, { title: "Open room" });
    expect((await api.call("GET", `/api/v1/streams/${pub.stream_id}/chat/messages`)).status).toBe(200);
  });
});

describe("what surrounds a private stream: its details, viewer count and chat emotes", () => {
  it("owner, admins and holders of a playback token read them (and its emotes); anyone else gets 404; none is shared-cached", async () => {
    const owner = await api.signUp("cntpriv");
    const other = await api.signUp("cntpeek");
    const s = await api.createStream(owner.token, { title: "Counted quietly", visibility: "private" });
    const minted = await api.call<{ token: string }>("POST", `/api/v1/streams/${s.stream_id}/playback-token`, { token: owner.token, json: {} });
    const forged = `${minted.body.token.slice(0, -2)}AA`;
    for (const path of [`/api/v1/streams/${s.stream_id}/viewers`, `/api/v1/streams/${s.stream_id}`, `/api/v1/streams/${s.stream_id}/chat/emotes`]) {
      for (const token of [null, other.token]) {
        const r = await api.call("GET", path, { token });
        expect({ path, status: r.status, error: r.body.error }).toEqual({ path, status: 404, error: "stream not found" });
      }
      expect((await api.call("GET", `${path}?playback_token=${forged}`)).status, path).toBe(404);
      expect((await api.call("GET", path, { token: owner.token })).status, path).toBe(200);
      const signed = await api.call<{ stream_id?: string; ingest_urls?: unknown }>("GET", `${path}?playback_token=${minted.body.token}`);
      expect(signed.status, path).toBe(200);
      if (!path.endsWith("/emotes")) expect(signed.body.stream_id).toBe(s.stream_id);
      // A signed viewer sees what the public would, never the owner's view.
      expect(signed.body.ingest_urls).toBeUndefined();
    }
    const count = await api.call("GET", `/api/v1/streams/${s.stream_id}/viewers`, { token: owner.token });
    expect(count.headers.get("cache-control")).toBe("private, max-age=5");
    expect((await api.call("GET", `/api/v1/streams/${s.stream_id}/chat/emotes`, { token: owner.token })).headers.get("cache-control")).toBe("private, max-age=10");
    const pub = await api.createStream(owner.token, { title: "Counted openly" });
    const open = await api.call("GET", `/api/v1/streams/${pub.stream_id}/viewers`);
    expect(open.status).toBe(200);
    expect(open.headers.get("cache-control")).toBe("public, max-age=5");
  });
});

describe("heartbeats of a private stream", () => {
  const counted = async (id: string) => {
    const r = await api.call<{ records: number }>("GET", `/api/v1/edge/viewers/${id}/stats`, { token: testEnv().EDGE_ADMIN_TOKEN! });
    return r.body.records;
  };
  const FAST = { VIEWER_FLUSH_INTERVAL_S: "0.05" };
  const session = () => crypto.randomUUID().replaceAll("-", "");

  it("count only from its owner, admins and playback-token holders; anyone else gets 404 and nothing is counted", async () => {
    const owner = await api.signUp("hbpriv");
    const other = await api.signUp("hbpeek");
    const s = await api.createStream(owner.token, { title: "Counted privately", visibility: "private" });
    await setStreamState(s.stream_id, { status: "live" });
    const minted = await api.call<{ token: string }>("POST", `/api/v1/streams/${s.stream_id}/playback-token`, { token: owner.token, json: {} });
    const path = `/api/v1/streams/${s.stream_id}/heartbeat`;
    const forged = `${minted.body.token.slice(0, -2)}AA`;
    const before = await counted(s.stream_id);
    for (const [label, url, token] of [
      ["anonymous", path, null],
      ["another user", path, other.token],
      ["forged token", `${path}?playback_token=${forged}`, null],
    ] as const) {
      const r = await api.call("POST", url, { token, json: { session_id: session() } }, FAST);
      expect({ label, status: r.status, error: r.body.error }).toEqual({ label, status: 404, error: "stream not found" });
    }
    // Each call waits for its flush (50 ms interval): a refused beat that was batched would be in the counter now.
    expect(await counted(s.stream_id)).toBe(before);

    // A stream token for another stream does not open this one either.
    const elsewhere = await api.createStream(owner.token, { title: "Other private", visibility: "private" });
    const otherToken = await api.call<{ token: string }>("POST", `/api/v1/streams/${elsewhere.stream_id}/playback-token`, { token: owner.token, json: {} });
    expect((await api.call("POST", `${path}?playback_token=${otherToken.body.token}`, { json: { session_id: session() } }, FAST)).status).toBe(404);

    expect((await api.call("POST", `${path}?playback_token=${minted.body.token}`, { json: { session_id: session() } }, FAST)).status).toBe(204);
    expect((await api.call("POST", path, { token: owner.token, json: { session_id: session() } }, FAST)).status).toBe(204);
    expect(await counted(s.stream_id)).toBe(before + 2);
    // Public streams (and ids the control plane does not know: the origin's local keys) stay open to all.
    const pub = await api.createStream(owner.token, { title: "Counted openly" });
    expect((await api.call("POST", `/api/v1/streams/${pub.stream_id}/heartbeat`, { json: { session_id: session() } }, FAST)).status).toBe(204);
    expect((await api.call("POST", "/api/v1/streams/demo/heartbeat", { json: { session_id: session() } }, FAST)).status).toBe(204);
  });
});
