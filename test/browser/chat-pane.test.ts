/**
 * The watch page's chat pane in a real browser: Debian's Chromium (playwright-core) against one edge
 * Worker in workerd (`wrangler dev`, D1 migrated, the ChatRoom and ViewerCounter objects) in front of
 * a real core-origin. Chat does not need the stream to be live: the stream is created over the API
 * and never published, so the player says "offline" beside a working chat.
 *
 * Three browser contexts, each its own localStorage: the broadcaster (session from
 * POST /api/v1/sessions), a second signed-in user, and an anonymous reader.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { SESSION_STORAGE_KEY } from "../../edge/pages/app-shell.ts";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { NODE_SECRET, waitFor } from "../live-path/harness.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { CHROMIUM, closeBrowserStack, haveChromium } from "../support/chromium.ts";

const chromiumHere = haveChromium("test/browser/chat-pane.test.ts");

const ROOT = path.resolve(import.meta.dirname, "../..");
const JWT_SECRET = "jwt-secret-for-the-chat-pane-test-0123456789";
const PASSWORD = "correct horse battery";
/** A 1x1 PNG, as an emote image that needs no network. */
const EMOTE_PNG = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const XSS = "<img src=x onerror=alert(1)>";

/** What the page exposes on `window.cascadeChat` (see edge/pages/client/chat.js). */
interface ChatState {
  state: "connecting" | "open" | "closed" | "unavailable";
  user: { id: string; username: string; badges: string[] } | null;
  canWrite: boolean;
  canModerate: boolean;
  slowMode: number;
  viewers: { viewers: number; peak: number } | null;
  messages: number;
  emotes: number;
  reconnects: number;
  errors: { at: string; code: string; message: string }[];
}

interface Session {
  token: string;
  expires_at: string;
  user: { id: string; username: string };
}

const chatState = (page: Page): Promise<ChatState> => page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { cascadeChat: unknown }).cascadeChat)) as ChatState);

/** The texts of the messages shown, in order (an emote image reads as its code). */
const shownTexts = (page: Page): Promise<string[]> => page.evaluate(() => {
  const read = (e: Element) => [...e.childNodes].map((n) => (n instanceof HTMLImageElement ? n.alt : (n.textContent ?? ""))).join("");
  return [...document.querySelectorAll("#chat-list li.msg[data-id] .text")].map(read);
});

describe.skipIf(!chromiumHere)("chat pane on the watch page, in Chromium", () => {
  let origin: Origin;
  let edge: EdgeProcess;
  let browser: Browser;
  let stateDir = "";
  let storageDir = "";
  let streamId = "";
  let owner: Session;
  let fan: Session;
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];
  const foreign: string[] = [];
  const dialogs: string[] = [];

  let originPort = 0;
  /** The edge on `port`, its state (D1, Durable Objects) in stateDir: a restart keeps the chat. */
  const startEdge = (port: number) =>
    startEdgeProcess({
      index: 1,
      port,
      originUrl: `http://127.0.0.1:${originPort}`,
      adminToken: EDGE_ADMIN_TOKEN,
      stateDir,
      root: ROOT,
      secrets: { JWT_SECRET, NODE_SECRET },
      // Heartbeats reach the counter within a second, so its count reaches chat quickly.
      vars: { VIEWER_FLUSH_INTERVAL_S: "1" },
    });

  const api = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${edge.url}${p}`, {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
  };

  /** A page in its own context, signed in as `session` (localStorage, as /login leaves it) or anonymous. */
  const openWatch = async (session: Session | null): Promise<Page> => {
    const context = await browser.newContext();
    contexts.push(context);
    if (session) {
      await context.addInitScript(([key, value]) => localStorage.setItem(key, value), [SESSION_STORAGE_KEY, JSON.stringify(session)] as const);
    }
    const page = await context.newPage();
    page.on("console", (m) => {
      if (/content security policy/i.test(m.text())) problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("dialog", (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    page.on("request", (r) => {
      const url = r.url();
      if (!url.startsWith(edge.url) && !url.startsWith(edge.url.replace(/^http/, "ws")) && !url.startsWith("data:") && !url.startsWith("blob:")) foreign.push(url);
    });
    await page.goto(`${edge.url}/watch/${streamId}`);
    await page.waitForFunction(() => (window as unknown as { cascadeChat?: { state: string } }).cascadeChat?.state === "open", null, { timeout: 15_000 });
    return page;
  };

  const send = async (page: Page, text: string) => {
    await page.fill("#chat-input", text);
    await page.click("#chat-send");
  };

  const waitForText = (page: Page, text: string, timeout = 10_000) =>
    waitFor(`"${text}" on the page`, async () => (await shownTexts(page)).includes(text), timeout);

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "cascade-chat-pane-"));
    storageDir = mkdtempSync(path.join(tmpdir(), "cascade-chat-pane-origin-"));
    const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
    origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: NODE_SECRET, storageDir, memorySegments: 8, playlistSegments: 15, logger });
    const [{ port }, edgePort] = await Promise.all([origin.listen(), freePort()]);
    originPort = port;
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    edge = startEdge(edgePort);
    [, browser] = await Promise.all([edge.ready(90_000), chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })]);

    const suffix = Date.now().toString(36);
    for (const name of [`host_${suffix}`, `fan_${suffix}`]) {
      expect((await api("POST", "/api/v1/users", { username: name, password: PASSWORD })).status).toBe(201);
    }
    // Signed in the way /login does it: POST /api/v1/sessions, kept in localStorage.
    const login = async (username: string) => {
      const r = await api<Session>("POST", "/api/v1/sessions", { username, password: PASSWORD });
      expect(r.status).toBe(200);
      return { token: r.body.token, expires_at: r.body.expires_at, user: r.body.user };
    };
    owner = await login(`host_${suffix}`);
    fan = await login(`fan_${suffix}`);
    const created = await api<{ stream_id: string }>("POST", "/api/v1/streams", { title: "Chat pane test", category: "gaming" }, owner.token);
    expect(created.status).toBe(201);
    streamId = created.body.stream_id;
  }, 180_000);

  afterAll(async () => {
    await closeBrowserStack({ contexts, browser, edge, origin, dirs: [stateDir, storageDir] });
  });

  it("exchanges messages both ways, escaped; shows history on join; the broadcaster deletes a message from the menu; shows the viewer count", async () => {
    const host = await openWatch(owner);
    const viewer = await openWatch(fan);

    const hostState = await chatState(host);
    expect(hostState.user).toMatchObject({ id: owner.user.id, username: owner.user.username, badges: expect.arrayContaining(["broadcaster"]) });
    expect(hostState).toMatchObject({ canWrite: true, canModerate: true });
    expect(await host.isVisible("#chat-mod")).toBe(true);
    const viewerState = await chatState(viewer);
    expect(viewerState).toMatchObject({ canWrite: true, canModerate: false, user: { id: fan.user.id } });
    expect(await viewer.isVisible("#chat-mod")).toBe(false);
    expect(await viewer.isVisible("#chat-signin")).toBe(false);

    // The character counter follows the input (code points: one emoji counts once).
    await viewer.fill("#chat-input", "hi 👋");
    expect(await viewer.textContent("#chat-count")).toBe("4/500");
    await viewer.fill("#chat-input", "x".repeat(501));
    expect(await viewer.textContent("#chat-count")).toBe("501/500");
    expect(await viewer.isDisabled("#chat-send")).toBe(true);

    // Broadcaster → viewer, with the broadcaster badge.
    await send(host, "hello from the host");
    await waitForText(viewer, "hello from the host");
    const hostLine = viewer.locator("#chat-list li.msg", { hasText: "hello from the host" });
    expect(await hostLine.locator(".name").textContent()).toBe(owner.user.username);
    expect(await hostLine.locator(".chat-badge-broadcaster").getAttribute("title")).toBe("Broadcaster");

    // Viewer → broadcaster: markup arrives as text, never as an element.
    await send(viewer, XSS);
    await waitForText(host, XSS);
    await waitForText(viewer, XSS);
    for (const page of [host, viewer]) {
      expect(await page.locator("#chat-list img").count()).toBe(0);
      const line = page.locator("#chat-list li.msg", { hasText: "onerror" });
      expect(await line.locator(".text").evaluate((e) => e.innerHTML)).toBe("&lt;img src=x onerror=alert(1)&gt;");
    }

    // An emote set by the broadcaster (system emotes_changed → refetch) renders as an image with its code.
    const emote = await api("PUT", `/api/v1/streams/${streamId}/chat/emotes/Cascade`, { image_url: EMOTE_PNG }, owner.token);
    expect(emote.status).toBe(201);
    await viewer.waitForFunction(() => (window as unknown as { cascadeChat: { emotes: number } }).cascadeChat.emotes === 1, null, { timeout: 10_000 });
    await send(viewer, "nice Cascade stream");
    await waitForText(host, "nice Cascade stream");
    const img = host.locator("#chat-list li.msg", { hasText: "nice" }).locator("img.emote");
    expect(await img.getAttribute("alt")).toBe("Cascade");
    expect(await img.getAttribute("title")).toBe("Cascade");
    expect(await img.getAttribute("src")).toBe(EMOTE_PNG);

    // An error frame shows inline: the same text again within the repeat window.
    await send(viewer, "nice Cascade stream");
    await viewer.waitForFunction(() => !document.getElementById("chat-error")!.hidden, null, { timeout: 10_000 });
    expect(await viewer.textContent("#chat-error")).toMatch(/already|just sent|duplicate/i);
    expect((await chatState(viewer)).errors.map((e) => e.code)).toContain("duplicate_message");

    // History on join: a third, anonymous page gets everything so far, read-only, with a sign-in link.
    const reader = await openWatch(null);
    expect(await shownTexts(reader)).toEqual(["hello from the host", XSS, "nice Cascade stream"]);
    const readerState = await chatState(reader);
    expect(readerState).toMatchObject({ user: null, canWrite: false, canModerate: false });
    expect(await reader.isDisabled("#chat-input")).toBe(true);
    expect(await reader.isVisible("#chat-signin")).toBe(true);
    expect(await reader.getAttribute("#chat-signin a", "href")).toBe(`/login?next=${encodeURIComponent(`/watch/${streamId}`)}`);
    expect(await reader.locator("#chat-list .msg-menu").count()).toBe(0);

    // The broadcaster deletes the viewer's message from its moderation menu: it goes on every page.
    const target = host.locator("#chat-list li.msg[data-id]", { hasText: "onerror" });
    await target.hover();
    await target.locator(".msg-menu").click();
    expect(await host.locator("#chat-menu button").allTextContents()).toEqual(expect.arrayContaining(["Delete message", "Timeout 1 min", "Timeout 10 min", "Ban", "Make moderator"]));
    await host.click("#chat-menu button:has-text('Delete message')");
    for (const page of [viewer, reader, host]) {
      await page.waitForFunction(() => ![...document.querySelectorAll("#chat-list li.msg[data-id] .text")].some((e) => (e.textContent ?? "").includes("onerror")), null, { timeout: 10_000 });
      expect(await shownTexts(page)).toEqual(["hello from the host", "nice Cascade stream"]);
    }

    // Slow mode from the moderator bar: the indicator appears on the other pages.
    await host.selectOption("#chat-slow-select", "10");
    await viewer.waitForFunction(() => !document.getElementById("chat-slow")!.hidden, null, { timeout: 10_000 });
    expect(await viewer.textContent("#chat-slow")).toBe("Slow mode: 10 s");
    expect((await chatState(reader)).slowMode).toBe(10);
    await host.selectOption("#chat-slow-select", "0");
    await viewer.waitForFunction(() => document.getElementById("chat-slow")!.hidden, null, { timeout: 10_000 });

    // Viewer count: a heartbeat for the stream reaches the counter, which pushes the count to chat.
    await api("POST", `/api/v1/streams/${streamId}/heartbeat`, { session_id: `chatpanetest${Date.now().toString(36)}` });
    await viewer.waitForFunction(() => /^[1-9]\d* watching$/.test(document.getElementById("viewers")!.textContent ?? ""), null, { timeout: 20_000 });
    expect(await viewer.isVisible("#viewers")).toBe(true);

    expect(dialogs).toEqual([]);
    expect(problems).toEqual([]);
    expect(foreign).toEqual([]);
  }, 120_000);

  it("makes the viewer a moderator from the menu, and the clear control empties every page", async () => {
    const host = await openWatch(owner);
    const viewer = await openWatch(fan);
    expect((await chatState(viewer)).canModerate).toBe(false);
    const line = host.locator("#chat-list li.msg[data-id]", { hasText: "nice" });
    await line.hover();
    await line.locator(".msg-menu").click();
    await host.click("#chat-menu button:has-text('Make moderator')");
    // moderator_added reaches the viewer's socket: its page gains the moderation controls.
    await viewer.waitForFunction(() => (window as unknown as { cascadeChat: { canModerate: boolean } }).cascadeChat.canModerate, null, { timeout: 10_000 });
    expect(await viewer.isVisible("#chat-mod")).toBe(true);
    expect(await viewer.locator("#chat-list .msg-menu").count()).toBeGreaterThan(0);

    await host.click("#chat-clear");
    for (const page of [host, viewer]) {
      await page.waitForFunction(() => document.querySelectorAll("#chat-list li.msg[data-id]").length === 0, null, { timeout: 10_000 });
      expect(await page.textContent("#chat-list")).toContain("cleared");
    }
    expect(problems).toEqual([]);
  }, 60_000);

  it("shows the rate limit inline with its retry time, a timeout from the menu, and loads older messages when scrolled to the top", async () => {
    const host = await openWatch(owner);
    const viewer = await openWatch(fan);
    // The viewer sends until the room's per-user rate limit refuses one (20 per 30 s).
    const errorsBefore = (await chatState(viewer)).errors.length;
    let refused = "";
    for (let i = 0; i < 25 && !refused; i++) {
      await send(viewer, `burst ${i}`);
      // Either the message comes back or an error frame does.
      await viewer.waitForFunction(
        ([text, n]) => {
          const chat = (window as unknown as { cascadeChat: { errors: unknown[] } }).cascadeChat;
          return chat.errors.length > n || [...document.querySelectorAll("#chat-list li.msg[data-id] .text")].some((e) => e.textContent === text);
        },
        [`burst ${i}`, errorsBefore] as const,
        { timeout: 5_000 },
      );
      if ((await chatState(viewer)).errors.length > errorsBefore) refused = `burst ${i}`;
    }
    expect(refused).toMatch(/^burst (1[89]|2[0-4])$/);
    await viewer.waitForFunction(() => !document.getElementById("chat-error")!.hidden, null, { timeout: 5_000 });
    expect(await viewer.textContent("#chat-error")).toMatch(/^You are sending messages too fast — you can chat again in \d+ s\.$/);
    expect((await chatState(viewer)).errors.map((e) => e.code)).toContain("rate_limited");
    // The refused text is back in the box, and sending waits for the retry time.
    expect(await viewer.inputValue("#chat-input")).toBe(refused);
    expect(await viewer.isDisabled("#chat-send")).toBe(true);

    // A timeout from the broadcaster's menu: a notice for everyone, the send box blocked for the viewer.
    const line = host.locator("#chat-list li.msg[data-id]", { hasText: "burst 0" });
    await line.hover();
    await line.locator(".msg-menu").click();
    await host.click("#chat-menu button:has-text('Timeout 1 min')");
    await viewer.waitForFunction(() => /timed out for 1 min/.test(document.getElementById("chat-list")!.textContent ?? ""), null, { timeout: 10_000 });
    await viewer.waitForFunction(() => /^You are timed out — you can chat again in (1 min|\d+ s)\.$/.test(document.getElementById("chat-error")!.textContent ?? ""), null, { timeout: 10_000 });
    expect(await viewer.isDisabled("#chat-send")).toBe(true);

    // More than a join's worth of history: five more users send 20 messages each (from the browser).
    const suffix = Date.now().toString(36);
    const tokens: string[] = [];
    for (let u = 0; u < 5; u++) {
      const r = await api<{ token: string }>("POST", "/api/v1/users", { username: `bulk${u}_${suffix}`, password: PASSWORD });
      expect(r.status).toBe(201);
      tokens.push(r.body.token);
    }
    const sent = await host.evaluate(
      ({ tokens, streamId }) =>
        Promise.all(
          tokens.map(
            (token, u) =>
              new Promise<number>((resolve, reject) => {
                const ws = new WebSocket(`ws://${location.host}/api/v1/streams/${streamId}/chat`, ["cascade-chat", token]);
                let mine = 0;
                ws.onerror = () => reject(new Error("socket error"));
                ws.onmessage = (event) => {
                  const data: unknown = JSON.parse(String(event.data));
                  for (const f of (Array.isArray(data) ? data : [data]) as Array<{ type: string; event?: string; text?: string; code?: string }>) {
                    if (f.type === "system" && f.event === "welcome") for (let i = 0; i < 20; i++) ws.send(JSON.stringify({ type: "message", text: `bulk ${u}.${i}` }));
                    if (f.type === "error") reject(new Error(f.code));
                    if (f.type === "message" && f.text?.startsWith(`bulk ${u}.`) && ++mine === 20) {
                      ws.close();
                      resolve(mine);
                    }
                  }
                };
              }),
          ),
        ),
      { tokens, streamId },
    );
    expect(sent).toEqual([20, 20, 20, 20, 20]);
    const all = (await api<{ messages: Array<{ text: string }>; next_before: string | null }>("GET", `/api/v1/streams/${streamId}/chat/messages?limit=100`)).body;
    expect(all.messages.length).toBe(100);

    const reader = await openWatch(null);
    const joined = await shownTexts(reader);
    // The five senders interleave, so the page's order is the room's stored order (the history API's).
    expect(joined).toEqual(all.messages.map((m) => m.text));
    expect(await reader.isVisible("#chat-older")).toBe(true);
    // Scrolled to the top: the page asks for the messages before its oldest one, and keeps the order.
    await reader.evaluate(() => {
      const el = document.getElementById("chat-scroll")!;
      el.scrollTop = 0;
      el.dispatchEvent(new Event("scroll"));
    });
    await waitFor("older messages", async () => (await shownTexts(reader)).length > 100, 10_000);
    const texts = await shownTexts(reader);
    expect(texts.slice(-100)).toEqual(joined);
    expect(texts).toContain("burst 0");
    expect(new Set(texts).size).toBe(texts.length);
    const bursts = texts.filter((t) => t.startsWith("burst ")).map((t) => Number(t.slice(6)));
    expect(bursts).toEqual([...bursts].sort((a, b) => a - b));
    expect(problems).toEqual([]);
  }, 90_000);

  // Last: it restarts the edge.
  it("reconnects with backoff when the socket drops (edge restarted) and chats again", async () => {
    const host = await openWatch(owner);
    const reader = await openWatch(null);
    await send(host, "before the restart");
    await waitForText(reader, "before the restart");
    const port = Number(new URL(edge.url).port);
    await edge.stop();
    await host.waitForFunction(() => (window as unknown as { cascadeChat: { state: string } }).cascadeChat.state !== "open", null, { timeout: 10_000 });
    expect(await host.textContent("#chat-status")).toMatch(/Chat disconnected — reconnecting in \d+ s…|Reconnecting to chat…/);
    expect(await host.isDisabled("#chat-input")).toBe(true);
    edge = startEdge(port);
    await edge.ready(90_000);
    for (const page of [host, reader]) {
      await page.waitForFunction(() => (window as unknown as { cascadeChat: { state: string } }).cascadeChat.state === "open", null, { timeout: 45_000 });
      expect((await chatState(page)).reconnects).toBeGreaterThan(0);
      // The welcome's history again: the room kept its messages across the restart.
      expect(await shownTexts(page)).toContain("before the restart");
    }
    await send(host, "after the restart");
    await waitForText(reader, "after the restart");
    expect(problems).toEqual([]);
  }, 150_000);
});
