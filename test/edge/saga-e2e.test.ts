/**
 * The go-live saga end to end, with the real stack: origin and transcoder (this process), one edge
 * Worker in workerd (`wrangler dev`) serving the control plane with D1 and the StreamControl
 * object. Sign up, create a stream, publish with ffmpeg using the returned key → the node asks the
 * edge to authorise it, which starts the saga → status `live`; full-text search finds it and a
 * follower has the in-app notification (the Queue consumer runs inside `wrangler dev`); stop → `ended`.
 */
import { describe, expect, it } from "vitest";
import WebSocket from "ws";
import { waitFor } from "../live-path/harness.ts";
import { edgeApi, sagaStackForFile, signUp } from "../support/saga-stack.ts";

const JWT_SECRET = "jwt-secret-for-the-saga-e2e-0123456789";

const stack = sagaStackForFile({ name: "saga", jwtSecret: JWT_SECRET });

const api = edgeApi(() => stack.edge.url);

describe("go-live saga end to end", () => {
  it("sign up, create a stream, publish with its key → live, found by search, follower notified; stop → ended", async () => {
    const username = `saga_${Date.now().toString(36)}`;
    const token = await signUp(api, username);
    // A second user follows the streamer before the go-live.
    const fanToken = await signUp(api, `fan_${Date.now().toString(36)}`);
    expect((await api("PUT", `/api/v1/follows/${username}`, undefined, fanToken)).status).toBe(201);
    // A word only this run's title has, for the search.
    const word = `zephyr${Math.random().toString(36).slice(2, 8).replace(/[^a-z]/g, "q")}`;
    const created = await api<{ stream_id: string; stream_key: string; ingest_urls: { rtmp: string } }>("POST", "/api/v1/streams", { title: `Saga end to end ${word}`, category: "gaming" }, token);
    expect(created.status).toBe(201);
    const id = created.body.stream_id;
    // The follower sits in the stream's chat before it goes live (token as subprotocol, as browsers do).
    const chatFrames: Array<Record<string, unknown>> = [];
    const chat = new WebSocket(`${stack.edge.url.replace(/^http/, "ws")}/api/v1/streams/${id}/chat`, ["cascade-chat", fanToken]);
    chat.on("message", (data) => {
      const parsed = JSON.parse(String(data)) as Record<string, unknown> | Array<Record<string, unknown>>;
      chatFrames.push(...(Array.isArray(parsed) ? parsed : [parsed]));
    });
    await waitFor("chat welcome", async () => chatFrames.find((f) => f.event === "welcome") ?? null, 10_000);
    expect(chatFrames[0]).toMatchObject({ type: "system", event: "welcome", can_write: true, user: { badges: ["follower"] } });
    stack.publish(created.body.stream_key);
    const live = await waitFor(
      "status live",
      async () => {
        const s = await api<{ status: string }>("GET", `/api/v1/streams/${id}`);
        return s.body.status === "live" ? s.body : null;
      },
      90_000,
    );
    expect(live.status).toBe("live");
    const saga = await api<{ phase: string; completed: string[]; node_id: string }>("GET", `/api/v1/streams/${id}/saga`, undefined, token);
    expect(saga.body).toMatchObject({ phase: "live", completed: ["validate_event", "reserve_capacity", "configure_encoders", "warmup_cdn", "go_live"], node_id: "saga-node" });
    // Discovery: FTS5 search finds the live stream by a word of its title.
    const found = await api<{ streams: Array<{ stream_id: string; status: string; user: { username: string } }>; total_results: number }>("GET", `/api/v1/streams/search?q=${word}`);
    expect(found.status).toBe(200);
    expect(found.body.streams.map((s) => s.stream_id)).toEqual([id]);
    expect(found.body.streams[0]).toMatchObject({ status: "live", user: { username } });
    // The directory page (D1) lists it, and finds it with its search box.
    for (const page of ["/", `/?q=${word}`]) {
      const html = await (await fetch(`${stack.edge.url}${page}`)).text();
      expect(html, page).toContain(`<a href="/watch/${id}"><span class="badge">LIVE</span><span class="entry"><span class="title">Saga end to end ${word}</span><span class="by">${username} · Gaming</span>`);
    }
    // The go_live fan-out: NOTIFY_QUEUE → this Worker's queue consumer → an in-app notification.
    const notified = await waitFor(
      "the follower's notification",
      async () => {
        const r = await api<{ notifications: Array<{ type: string; stream_id: string; read: boolean }>; unread_count: number }>("GET", "/api/v1/notifications", undefined, fanToken);
        return r.body.notifications?.find((n) => n.stream_id === id) ? r.body : null;
      },
      30_000,
    );
    expect(notified.notifications.filter((n) => n.stream_id === id)).toEqual([expect.objectContaining({ type: "stream_started", stream_id: id, read: false })]);
    expect(notified.unread_count).toBeGreaterThanOrEqual(1);
    // The streamer gets no notification of their own go-live.
    expect((await api<{ notifications: unknown[] }>("GET", "/api/v1/notifications", undefined, token)).body.notifications).toEqual([]);
    // warmup_cdn opened the chat room: the follower's socket was told the stream went live.
    expect(chatFrames.some((f) => f.type === "system" && f.event === "stream_live")).toBe(true);
    // Back-to-back messages from one socket arrive in the order sent.
    for (let i = 0; i < 10; i++) chat.send(JSON.stringify({ type: "message", text: `hello ${i}` }));
    await waitFor("ten chat messages", async () => (chatFrames.filter((f) => f.type === "message").length >= 10 ? true : null), 10_000);
    expect(chatFrames.filter((f) => f.type === "message").map((f) => f.text)).toEqual(Array.from({ length: 10 }, (_, i) => `hello ${i}`));
    const stop = await api<{ status: string }>("POST", `/api/v1/streams/${id}/stop`, undefined, token);
    expect(stop.status).toBe(200);
    await waitFor("stream_ended in chat", async () => chatFrames.find((f) => f.type === "system" && f.event === "stream_ended") ?? null, 20_000);
    chat.close();
    expect((await api<{ status: string }>("GET", `/api/v1/streams/${id}`)).body.status).toBe("ended");
    const events = await api<{ events: Array<{ event_type: string }> }>("GET", `/api/v1/streams/${id}/events`, undefined, token);
    expect(events.body.events.map((e) => e.event_type)).toEqual(expect.arrayContaining(["stream_started", "stream_ended"]));
    // The node ended the pipeline.
    await waitFor("the pipeline ended", async () => !stack.node.pipelines.has(id) || stack.node.pipelines.get(id)!.state === "ended", 20_000);
  }, 240_000);
});
