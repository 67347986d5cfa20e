/**
 * CORS as the code has it: playlists, media, VOD and `/api/v1/live` are open to every origin
 * (`*`, never with credentials); the control-plane API and the pages send no CORS headers at all, so
 * a page on another origin cannot call the API with a token (its preflight gets a 404 with no
 * `Access-Control-Allow-*`). Header injection: user input (titles, URLs, subprotocols, join
 * headers) never becomes a response header or a forged identity.
 */
import { createExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { apiClient, testEnv } from "../../test/support/edge/api-client.ts";
import { api, buildFixture, type Fixture } from "../../test/support/edge/security-fixture.ts";
import { pathOf, ROUTES } from "../../test/support/edge/route-cases.ts";
import { snapshot } from "../../test/support/edge/security-state.ts";

let f: Fixture;
beforeAll(async () => {
  f = await buildFixture();
});

const EVIL = "https://evil.example";
const corsHeaders = (h: Headers) => [...h.keys()].filter((k) => k.startsWith("access-control-"));

const preflight = (path: string, requestHeaders = "authorization, content-type", method = "POST") =>
  api.call("OPTIONS", path, { headers: { origin: EVIL, "access-control-request-method": method, "access-control-request-headers": requestHeaders } });

describe("CORS: open delivery", () => {
  const open = [
    { prefix: "/hls", path: () => `/hls/${f.streamId}/master.m3u8`, expose: "Age,Content-Length,X-Cascade-Cache" },
    { prefix: "/vod", path: () => `/vod/${f.recordingId}/master.m3u8`, expose: "Accept-Ranges,Content-Length,Content-Range,ETag,X-Cascade-Cache" },
  ];
  for (const o of open) {
    it(`${o.prefix}: any origin reads, without credentials, errors included`, async () => {
      const r = await api.call("GET", o.path(), { headers: { origin: EVIL } });
      // The fixture's stream has no playlist and its recording is not ready: a JSON 404, readable cross-origin.
      expect(r.status).toBe(404);
      expect(r.headers.get("access-control-allow-origin")).toBe("*");
      expect(r.headers.get("access-control-expose-headers")).toBe(o.expose);
      expect(r.headers.get("access-control-allow-credentials")).toBeNull();
    });

    it(`${o.prefix}: a preflight gets GET/HEAD/OPTIONS for a day, never credentials`, async () => {
      const r = await preflight(o.path(), "range", "GET");
      expect(r.status).toBe(204);
      expect(r.headers.get("access-control-allow-origin")).toBe("*");
      expect(r.headers.get("access-control-allow-methods")).toBe("GET,HEAD,OPTIONS");
      expect(r.headers.get("access-control-allow-headers")).toBe("range");
      expect(r.headers.get("access-control-max-age")).toBe("86400");
      expect(r.headers.get("access-control-allow-credentials")).toBeNull();
    });
  }

  it("/api/v1/live is open to every origin (the list of live streams is public)", async () => {
    // An origin with nothing live: the list is empty but answered.
    const live = apiClient({ upstream: async () => Response.json([]) });
    const r = await live.call("GET", "/api/v1/live", { headers: { origin: EVIL } });
    expect(r.status).toBe(200);
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-allow-credentials")).toBeNull();
  });
});

describe("CORS: the API and the pages are same-origin only", () => {
  const apiRoutes = ROUTES.filter((r) => r.pattern.startsWith("/api/v1/") && r.pattern !== "/api/v1/live");

  it("no API response carries a CORS header, whatever the Origin", async () => {
    for (const route of apiRoutes.filter((r) => r.method === "GET" && r.access !== "websocket")) {
      const r = await api.call("GET", pathOf(route, f), { token: f.owner.token, headers: { origin: EVIL } });
      expect(corsHeaders(r.headers), `${route.pattern} → ${r.status}`).toEqual([]);
    }
  });

  it("a credentialed preflight from another origin is a JSON 404 with no Access-Control-Allow-*; nothing changes", async () => {
    const before = await snapshot(f);
    for (const route of apiRoutes) {
      const r = await preflight(pathOf(route, f), "authorization, content-type", route.method);
      expect(r.status, route.pattern).toBe(404);
      expect(r.body, route.pattern).toMatchObject({ error: "not found" });
      expect(corsHeaders(r.headers), route.pattern).toEqual([]);
    }
    expect(await snapshot(f)).toEqual(before);
  });

  it("pages send no CORS headers, and do send nosniff, no-referrer and a CSP", async () => {
    for (const path of ["/", "/login", "/creator", `/watch/${f.streamId}`]) {
      const r = await api.call("GET", path, { headers: { origin: EVIL } });
      expect(corsHeaders(r.headers), path).toEqual([]);
      expect(r.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(r.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(r.headers.get("content-security-policy"), path).toMatch(/^default-src 'none'/);
    }
  });
});

describe("header injection", () => {
  const INJECTED = "\r\nSet-Cookie: session=stolen\r\nX-Injected: 1";
  const clean = (h: Headers, what: string) => {
    expect(h.get("set-cookie"), what).toBeNull();
    expect(h.get("x-injected"), what).toBeNull();
    for (const [k, v] of h) expect(`${k}: ${v}`, what).not.toMatch(/[\r\n\0]|stolen/);
  };

  it("a stream title and description with CR/LF stay data: never a header, never a split response", async () => {
    const created = await api.call<{ stream_id: string; stream: { title: string } }>("POST", "/api/v1/streams", {
      token: f.owner.token,
      json: { title: `Title${INJECTED}`, description: `Desc${INJECTED}` },
    });
    // Control characters in a title are kept as text (JSON-escaped) — refusing them would be stricter.
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/v1/streams/${created.body.stream_id}`);
    clean(created.headers, "create");
    for (const path of [`/api/v1/streams/${created.body.stream_id}`, `/api/v1/streams/${created.body.stream_id}/playback`, `/watch/${created.body.stream_id}`, "/", "/api/v1/streams?limit=5"]) {
      const r = await api.call("GET", path, { token: f.owner.token });
      expect(r.status, path).toBe(200);
      clean(r.headers, path);
    }
  });

  it("a webhook URL with CR/LF or tabs is stored without them (the URL parser drops them) and signed headers stay fixed", async () => {
    const r = await api.call<{ webhook: { id: string; url: string } }>("POST", "/api/v1/webhooks", {
      token: f.other.token,
      json: { url: "https://hooks.example.com/a\r\nX-Injected:\t1", events: ["stream_started"] },
    });
    expect(r.status).toBe(201);
    expect(r.body.webhook.url).toBe("https://hooks.example.com/aX-Injected:1");
    expect(r.headers.get("location")).toBe(`/api/v1/webhooks/${r.body.webhook.id}`);
    clean(r.headers, "webhook create");
  });

  it("an emote URL with CR/LF or spaces is a 400 naming image_url; nothing is stored", async () => {
    const before = await snapshot(f);
    for (const image_url of [`https://emotes.example.com/a.png${INJECTED}`, "https://emotes.example.com/a b.png", "https://emotes.example.com/\ta.png"]) {
      const r = await api.call<{ fields: Record<string, string> }>("PUT", `/api/v1/streams/${f.streamId}/chat/emotes/SecInject`, { token: f.owner.token, json: { image_url } });
      expect(r.status, JSON.stringify(image_url)).toBe(400);
      expect(r.body.fields.image_url).toBe("must not contain whitespace or control characters");
    }
    expect(await snapshot(f)).toEqual(before);
  });

  it("a client cannot forge the chat join header: the room sees who the token says, not what the client sent", async () => {
    const { app } = api;
    const forged = JSON.stringify({ streamId: f.streamId, shard: 0, shards: 1, ownerId: f.owner.user.id, user: { id: f.owner.user.id, username: f.owner.username, badges: ["broadcaster"] }, canModerate: true, staff: true });
    const res = await app.fetch(
      new Request(`http://edge.test/api/v1/streams/${f.streamId}/chat`, { headers: { upgrade: "websocket", "x-cascade-chat-join": forged, "x-cascade-chat-protocol": "evil" } }),
      testEnv(),
      createExecutionContext(),
    );
    expect(res.status).toBe(101);
    const ws = res.webSocket!;
    const first = new Promise<Record<string, unknown>>((resolve) => ws.addEventListener("message", (e) => resolve(JSON.parse(e.data as string) as Record<string, unknown>), { once: true }));
    ws.accept();
    const welcome = await first;
    ws.close();
    expect(welcome).toMatchObject({ event: "welcome", user: null, can_write: false, can_moderate: false });
    expect(res.headers.get("sec-websocket-protocol")).toBeNull();
  });

  it("the chat upgrade answers the cascade-chat subprotocol, never echoing the token offered beside it", async () => {
    const { app } = api;
    const res = await app.fetch(
      new Request(`http://edge.test/api/v1/streams/${f.streamId}/chat`, { headers: { upgrade: "websocket", "sec-websocket-protocol": `cascade-chat, ${f.other.token}` } }),
      testEnv(),
      createExecutionContext(),
    );
    expect(res.status).toBe(101);
    expect(res.headers.get("sec-websocket-protocol")).toBe("cascade-chat");
    res.webSocket!.accept();
    res.webSocket!.close();
  });
});
