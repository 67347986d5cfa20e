import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { apiClient, setStreamState, testEnv } from "../../test/support/edge/api-client.ts";
import { flushPath } from "../do/viewer-counter/client.ts";

// No origin behind these tests: playback's quality lookup gets a 404 rather than a DNS failure.
const api = apiClient({ upstream: async () => new Response("no origin in this test", { status: 404 }) });
type App = ReturnType<typeof createEdgeApp>["app"];

/** Short flush interval so the batched flushes land within a test. */
const FAST: Partial<WorkerEnv> = { VIEWER_FLUSH_INTERVAL_S: "0.3" };
const sessionId = () => crypto.randomUUID().replaceAll("-", "");
const counter = (id: string) => env.VIEWER_COUNTER!.get(env.VIEWER_COUNTER!.idFromName(id));
const stats = (id: string) => counter(id).stats();

/** A heartbeat into `app`; `done` settles when the request's waitUntil work (its flush, if any) has. */
const beat = async (app: App, streamId: string, body: unknown, o: { env?: Partial<WorkerEnv>; raw?: string } = {}) => {
  const ctx = createExecutionContext();
  const req = new Request(`http://edge.test/api/v1/streams/${streamId}/heartbeat`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: o.raw ?? JSON.stringify(body),
  });
  const res = await app.fetch(req, { ...testEnv(), ...FAST, ...o.env }, ctx);
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : null, done: waitOnExecutionContext(ctx) };
};

/** Every session beats once on its app, all at the same time (as many players would); waits for the flushes. */
const beatAll = async (apps: App[], streamId: string, sessions: string[], e: Partial<WorkerEnv> = {}) => {
  const results = await Promise.all(sessions.map((s, i) => beat(apps[i % apps.length]!, streamId, { session_id: s }, { env: e })));
  expect(results.every((r) => r.status === 204)).toBe(true);
  await Promise.all(results.map((r) => r.done));
};

const liveStream = async () => {
  const owner = await api.signUp("viewers");
  const s = await api.createStream(owner.token, { title: "Viewer count test", category: "gaming" });
  await setStreamState(s.stream_id, { status: "live" });
  return { owner, id: s.stream_id };
};

const streamRow = (id: string) => testEnv().DB!.prepare("SELECT status, viewer_count, peak_viewers FROM streams WHERE id = ?1").bind(id).first<{ status: string; viewer_count: number; peak_viewers: number }>();

/** Ages sessions in the counter's storage, as if their last heartbeat were `ms` earlier. */
const age = (id: string, sessions: string[], ms: number) =>
  runInDurableObject(counter(id), (_instance, state) => {
    for (const s of sessions) state.storage.sql.exec("UPDATE sessions SET last_seen = last_seen - ?1 WHERE session_id = ?2", ms, s);
  });

describe("viewer counts: heartbeats over three edge isolates", () => {
  it("1,000 sessions spread over 3 isolates count 1,000 (exact), with a handful of counter calls", async () => {
    const apps = [createEdgeApp(), createEdgeApp(), createEdgeApp()];
    const { id } = await liveStream();
    const sessions = Array.from({ length: 1000 }, sessionId);
    await beatAll(apps.map((a) => a.app), id, sessions);
    // A third of them beat again, each on another isolate than before (a player re-routed to another edge).
    await beatAll(apps.map((a) => a.app), id, sessions.filter((_, i) => i % 3 === 0).reverse());

    const st = await stats(id);
    expect(st.viewers).toBe(1000);
    expect(st.peak).toBe(1000);
    expect(Math.abs(st.viewers - 1000) / 1000).toBeLessThanOrEqual(0.01);
    // Each isolate: its first heartbeat at once, the rest batched — a few calls each, not 1,333.
    const flushes = apps.map((a) => a.viewers.flushes);
    expect(st.records).toBe(flushes.reduce((a, b) => a + b, 0));
    for (const f of flushes) expect(f).toBeLessThanOrEqual(4);
    expect(Object.values(st.edges).reduce((a, b) => a + b, 0)).toBe(st.records);

    const read = await api.call<{ viewers: number; peak: number }>("GET", `/api/v1/streams/${id}/viewers`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ viewers: 1000, peak: 1000 });
  });

  it("1,000 heartbeats on one isolate within the interval cause at most 2 counter calls", async () => {
    const { app, viewers } = createEdgeApp();
    const { id } = await liveStream();
    await beatAll([app], id, Array.from({ length: 1000 }, sessionId), { VIEWER_FLUSH_INTERVAL_S: "2" });
    const st = await stats(id);
    expect(st).toMatchObject({ viewers: 1000, records: viewers.flushes });
    expect(st.records).toBeLessThanOrEqual(2);
  });

  it("a session counts for 60 s after its last heartbeat; the peak stays; the alarm prunes", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream();
    const sessions = Array.from({ length: 50 }, sessionId);
    await beatAll([app], id, sessions);
    expect(await counter(id).counts()).toMatchObject({ viewers: 50, peak: 50 });
    await age(id, sessions.slice(0, 20), 59_000);
    expect((await counter(id).counts()).viewers).toBe(50);
    await age(id, sessions.slice(0, 20), 1_001);
    expect(await counter(id).counts()).toMatchObject({ viewers: 30, peak: 50 });
    await runDurableObjectAlarm(counter(id));
    expect(await stats(id)).toMatchObject({ viewers: 30, stored_sessions: 30, peak: 50 });
    // A heartbeat brings an expired session back.
    await beatAll([app], id, sessions.slice(0, 1));
    expect((await counter(id).counts()).viewers).toBe(31);
  });
});

describe("viewer counts: bad heartbeats change nothing", () => {
  it("400 naming the field for a bad session id, JSON or stream id; 413 for an oversize body", async () => {
    const { app, viewers } = createEdgeApp();
    const { id } = await liveStream();
    const cases: Array<[unknown, string | undefined, number, string | null]> = [
      [{ session_id: "short" }, undefined, 400, "session_id"],
      [{ session_id: "x".repeat(65) }, undefined, 400, "session_id"],
      [{ session_id: "has spaces in it 0123" }, undefined, 400, "session_id"],
      [{ session_id: 1234567890123456 }, undefined, 400, "session_id"],
      [{}, undefined, 400, "session_id"],
      [{ session_id: sessionId(), extra: 1 }, undefined, 400, "extra"],
      [null, "{not json", 400, null],
      [null, "[1,2]", 400, null],
      [null, "", 400, null],
      [null, JSON.stringify({ session_id: sessionId(), pad: "x".repeat(2000) }), 413, null],
    ];
    for (const [body, raw, status, field] of cases) {
      const r = await beat(app, id, body, { raw });
      expect(r.status, JSON.stringify(body ?? raw)).toBe(status);
      if (field) expect((r.body as { fields: Record<string, string> }).fields).toHaveProperty(field);
      await r.done;
    }
    const badId = await beat(app, "Not_A_Stream!", { session_id: sessionId() });
    expect(badId.status).toBe(400);
    expect(badId.body).toMatchObject({ fields: { id: expect.any(String) } });
    expect(viewers.flushes).toBe(0);
    expect(viewers.pendingFor(id)).toBe(0);
    expect((await stats(id)).records).toBe(0);
  });

  it("without a counter binding: 503, and the playback figures fall back to D1", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream();
    await setStreamState(id, { viewer_count: 7 });
    const r = await beat(app, id, { session_id: sessionId() }, { env: { VIEWER_COUNTER: undefined } });
    expect(r.status).toBe(503);
    const p = await api.call<{ viewers: unknown }>("GET", `/api/v1/streams/${id}/playback`, {}, { VIEWER_COUNTER: undefined });
    expect(p.body.viewers).toEqual({ current: 7, peak: 7 });
  });
});

describe("viewer counts: edges behind a control plane (CONTROL_PLANE_URL)", () => {
  it("an edge flushes its batch to the control plane's flush endpoint, which records it", async () => {
    const controlPlane = createEdgeApp();
    const sent: Request[] = [];
    const lookups: Request[] = [];
    const forward = async (req: Request) => {
      // A private stream's heartbeats are refused: the edge asks the control plane for visibility.
      (new URL(req.url).pathname.endsWith("/visibility") ? lookups : sent).push(req.clone());
      const ctx = createExecutionContext();
      const res = await controlPlane.app.fetch(req, testEnv(), ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    const edge2 = createEdgeApp({ forward });
    const { id } = await liveStream();
    const sessions = Array.from({ length: 300 }, sessionId);
    const e = { CONTROL_PLANE_URL: "http://control-plane.test", EDGE_ID: "edge-2" };
    // The first beat learns the stream's visibility; the isolate then keeps it.
    await beatAll([edge2.app], id, sessions.slice(0, 1), e);
    expect(lookups.length).toBe(1);
    await beatAll([edge2.app], id, sessions.slice(1), e);
    expect(lookups.length).toBe(1);
    expect(new URL(lookups[0]!.url).pathname).toBe(`/api/v1/streams/${id}/visibility`);

    // Heartbeats are edge-local: only flushes went to the control plane, each one authenticated.
    expect(sent.length).toBe(edge2.viewers.flushes);
    expect(sent.length).toBeLessThanOrEqual(3);
    for (const req of sent) {
      expect(req.method).toBe("POST");
      expect(new URL(req.url).href).toBe(`http://control-plane.test${flushPath(id)}`);
      expect(req.headers.get("authorization")).toBe(`Bearer ${testEnv().EDGE_ADMIN_TOKEN}`);
    }
    const st = await stats(id);
    expect(st).toMatchObject({ viewers: 300, records: sent.length, edges: { "edge-2": sent.length } });
    expect(controlPlane.viewers.flushes).toBe(0);
  });

  it("the flush and stats endpoints want the admin token and a valid batch", async () => {
    const { id } = await liveStream();
    const token = testEnv().EDGE_ADMIN_TOKEN!;
    const good = { edge: "edge-9", sessions: [[sessionId(), 1000]] };
    expect((await api.call("POST", flushPath(id), { json: good })).status).toBe(401);
    expect((await api.call("POST", flushPath(id), { json: good, token: "wrong-token" })).status).toBe(401);
    expect((await api.call("GET", `/api/v1/edge/viewers/${id}/stats`)).status).toBe(401);
    for (const [bad, field] of [
      [{ ...good, sessions: [["short", 1]] }, "sessions"],
      [{ ...good, sessions: [[sessionId(), -1]] }, "sessions"],
      [{ ...good, sessions: [[sessionId(), 60_001]] }, "sessions"],
      [{ ...good, sessions: "nope" }, "sessions"],
      [{ ...good, edge: "bad edge" }, "edge"],
      [{ ...good, more: true }, "more"],
    ] as const) {
      const r = await api.call<{ fields: Record<string, string> }>("POST", flushPath(id), { json: bad, token });
      expect(r.status, JSON.stringify(bad)).toBe(400);
      expect(r.body.fields).toHaveProperty(field);
    }
    expect((await stats(id)).records).toBe(0);
    const ok = await api.call<{ viewers: number }>("POST", flushPath(id), { json: good, token });
    expect(ok.status).toBe(200);
    expect(ok.body.viewers).toBe(1);
    const s = await api.call<{ records: number; edges: Record<string, number> }>("GET", `/api/v1/edge/viewers/${id}/stats`, { token });
    expect(s.body).toMatchObject({ records: 1, edges: { "edge-9": 1 } });
  });
});

describe("viewer counts: where they show", () => {
  it("the playback API carries viewers { current, peak } from the counter", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream();
    await beatAll([app], id, Array.from({ length: 12 }, sessionId));
    const p = await api.call<{ viewer_count: number; viewers: { current: number; peak: number } }>("GET", `/api/v1/streams/${id}/playback`);
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ viewer_count: 12, viewers: { current: 12, peak: 12 } });
  });

  it("the alarm writes viewer_count and peak_viewers to D1 while live, and leaves an ended stream's zero alone", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream();
    const sessions = Array.from({ length: 40 }, sessionId);
    await beatAll([app], id, sessions);
    await runDurableObjectAlarm(counter(id));
    expect(await streamRow(id)).toMatchObject({ viewer_count: 40, peak_viewers: 40 });

    // A big drop goes to D1 at the next alarm, without waiting 30 s.
    await age(id, sessions.slice(0, 30), 61_000);
    await runDurableObjectAlarm(counter(id));
    expect(await streamRow(id)).toMatchObject({ viewer_count: 10, peak_viewers: 40 });

    // Ended (the lifecycle zeroes the count): viewers still heartbeating do not put it back.
    await testEnv().DB!.prepare("UPDATE streams SET status = 'ended', viewer_count = 0 WHERE id = ?1").bind(id).run();
    await beatAll([app], id, Array.from({ length: 25 }, sessionId));
    await runDurableObjectAlarm(counter(id));
    expect(await streamRow(id)).toMatchObject({ status: "ended", viewer_count: 0, peak_viewers: 40 });
  });

  it("the alarm pushes viewer_count frames to the stream's chat sockets", async () => {
    const { app } = createEdgeApp();
    const { id } = await liveStream();
    const res = await app.fetch(new Request(`http://edge.test/api/v1/streams/${id}/chat`, { headers: { upgrade: "websocket" } }), testEnv(), createExecutionContext());
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const frames: Array<Record<string, unknown>> = [];
    ws.addEventListener("message", (e) => {
      const data = JSON.parse(e.data as string) as Record<string, unknown> | Array<Record<string, unknown>>;
      frames.push(...(Array.isArray(data) ? data : [data]));
    });
    ws.accept();
    await beatAll([app], id, Array.from({ length: 5 }, sessionId));
    await runDurableObjectAlarm(counter(id));
    const deadline = Date.now() + 5000;
    while (!frames.some((f) => f.type === "viewer_count") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(frames.find((f) => f.type === "viewer_count")).toMatchObject({ type: "viewer_count", viewers: 5, peak: 5 });
    ws.close(1000);
  });
});
