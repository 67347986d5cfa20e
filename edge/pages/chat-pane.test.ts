import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { createEdgeApp } from "../app.ts";
import { HISTORY_ON_JOIN, MAX_MESSAGE_CHARS } from "../chat/protocol.ts";
import { BUFFER_S_MAX, ERRORS_MAX, LATENCY_MS_MAX } from "../analytics/player-stats.ts";
import { CHAT_MAX_MESSAGES, chatPaneMarkup, HEARTBEAT_INTERVAL_S, TIMEOUT_CHOICES } from "./chat-pane.ts";
import type { WatchPageData } from "./client/page-data.ts";
import { CHAT_SCRIPT } from "./client-scripts.ts";
import { contentSecurityPolicy } from "./html.ts";
import { watchPage } from "./watch-page.ts";

/** The page's JSON data island, as the browser scripts read it. */
const pageData = (html: string): WatchPageData => {
  const islands = [...html.matchAll(/<script type="application\/json" id="page-data">(.*?)<\/script>/gs)];
  expect(islands).toHaveLength(1);
  return JSON.parse(islands[0]![1]!) as WatchPageData;
};

const edgeEnv = env as unknown as Env;

const get = async (path: string) => {
  const upstream = async () => Response.json([]);
  const { app } = createEdgeApp({ upstream });
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`http://edge.test${path}`), { ...edgeEnv, ORIGIN_URL: "http://origin.test" }, ctx);
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
};

/** The CSP as a map: directive → its sources. */
const directives = (csp: string): Record<string, string[]> =>
  Object.fromEntries(
    csp
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name!, sources]),
  );

describe("watch page: chat pane and viewer count", () => {
  it("has the chat pane beside the player: list, send box with counter, sign-in link, moderation controls, viewer count", async () => {
    const { res, text } = await get("/watch/demo");
    expect(res.status).toBe(200);
    // Layout: the player column and the chat column in one grid, which stacks on narrow screens.
    expect(text).toContain('<div class="layout">');
    expect(text).toMatch(/<aside class="chat" id="chat" aria-label="Chat">/);
    expect(text).toContain("@media (max-width: 900px)");
    expect(text).toContain('<ol id="chat-list" aria-live="polite"');
    expect(text).toContain('<input id="chat-input" type="text" aria-label="Chat message"');
    expect(text).toContain(`<span id="chat-count" aria-live="off">0/${MAX_MESSAGE_CHARS}</span>`);
    expect(text).toContain('<a href="/login?next=%2Fwatch%2Fdemo">Sign in to chat</a>');
    expect(text).toContain('<button id="chat-older" type="button" hidden>Load older messages</button>');
    // Moderator bar (hidden until the welcome says can_moderate) and the per-message menu.
    expect(text).toMatch(/<div class="chat-mod" id="chat-mod" hidden>\s*<button id="chat-clear" type="button">Clear chat<\/button>/);
    expect(text).toContain('<option value="0">Off</option><option value="3">3 s</option>');
    expect(text).toContain('<div id="chat-menu" role="menu" aria-label="Moderation" hidden></div>');
    expect(text).toContain('<span class="viewers" id="viewers" role="status" hidden></span>');
    // The player is still there, untouched.
    expect(text).toContain('<video id="video" muted autoplay playsinline controls></video>');
    expect(text).toContain("window.cascadePlayer");
  });

  it("runs the chat script under the page's nonce, after the player, speaking the chat protocol", async () => {
    const { res, text } = await get("/watch/demo");
    const csp = res.headers.get("content-security-policy")!;
    const nonce = /'nonce-([^']+)'/.exec(csp)![1]!;
    const scripts = [...text.matchAll(/<script( [^>]*)?>/g)].map((m) => m[1] ?? "");
    // The data island (never run), hls.js from this origin, then the player and the chat, both nonce'd.
    expect(scripts).toEqual([' type="application/json" id="page-data"', expect.stringMatching(/^ src="\/assets\/hls-/), ` nonce="${nonce}"`, ` nonce="${nonce}"`]);
    const chat = text.slice(text.lastIndexOf(`<script nonce="${nonce}">`));
    expect(chat).toContain(CHAT_SCRIPT);
    expect(pageData(text)).toMatchObject({
      streamId: "demo",
      chat: {
        playbackToken: null,
        maxChars: MAX_MESSAGE_CHARS,
        historyOnJoin: HISTORY_ON_JOIN,
        maxMessages: CHAT_MAX_MESSAGES,
        heartbeatMs: HEARTBEAT_INTERVAL_S * 1000,
        timeouts: [...TIMEOUT_CHOICES],
        latencyMsMax: LATENCY_MS_MAX,
        bufferSMax: BUFFER_S_MAX,
        errorsMax: ERRORS_MAX,
      },
    });
    expect(chat).toContain('new WebSocket(url, session ? ["cascade-chat", session.token] : ["cascade-chat"])');
    expect(chat).toContain('"/api/v1/streams/" + encodeURIComponent(STREAM_ID)');
    expect(chat).toContain('BASE + "/chat/messages?limit=50&before="');
    expect(chat).toContain('BASE + "/chat/emotes"');
    expect(chat).toContain('BASE + "/chat/moderators/"');
    expect(chat).toContain('withAccess(BASE + "/heartbeat"), playerFigures({ session_id: viewerSessionId() })');
    expect(chat).toContain("var HEARTBEAT_MS = CONFIG.heartbeatMs;");
    // A socket message may be one frame or an array of frames.
    expect(chat).toContain("Array.isArray(data) ? data : [data]");
    for (const type of ["message", "delete", "timeout", "ban", "clear", "slow_mode", "viewer_count", "error"]) expect(chat).toContain(`case "${type}":`);
    for (const code of ["rate_limited", "slow_mode", "duplicate_message", "timed_out", "banned"]) expect(chat).toContain(`${code}: "`);
    // User data only ever goes into text nodes and attributes.
    expect(text).not.toContain("innerHTML");
    expect(text).not.toContain("insertAdjacentHTML");
    expect(text).not.toContain("document.write");
    expect(text).not.toMatch(/https?:\/\//);
  });

  it("allows what the chat needs and nothing more: same-origin connections (WebSocket too), emote images over https: and data:", async () => {
    const { res } = await get("/watch/demo");
    const d = directives(res.headers.get("content-security-policy")!);
    expect(d["default-src"]).toEqual(["'none'"]);
    expect(d["script-src"]).toEqual(["'self'", expect.stringMatching(/^'nonce-[A-Za-z0-9+/=]+'$/)]);
    expect(d["style-src"]).toEqual(["'self'", expect.stringMatching(/^'nonce-/)]);
    // 'self' covers ws:/wss: to this host (CSP3); no other host, no scheme-wide ws:.
    expect(d["connect-src"]).toEqual(["'self'"]);
    expect(d["img-src"]).toEqual(["'self'", "data:", "https:"]);
    expect(d["media-src"]).toEqual(["'self'", "blob:"]);
    expect(d["worker-src"]).toEqual(["'self'", "blob:"]);
    expect(d["form-action"]).toEqual(["'none'"]);
    expect(d["frame-ancestors"]).toEqual(["'none'"]);
    expect(d["base-uri"]).toEqual(["'none'"]);
    expect(Object.values(d).flat()).not.toContain("'unsafe-inline'");
    expect(Object.values(d).flat()).not.toContain("'unsafe-eval'");
    // Remote images are the watch page's alone.
    for (const path of ["/login", "/creator"]) {
      const other = directives((await get(path)).res.headers.get("content-security-policy")!);
      expect(other["img-src"], path).toEqual(["'self'", "data:"]);
    }
    expect(directives(contentSecurityPolicy())["img-src"]).toEqual(["'self'", "data:"]);
  });

  it("escapes the stream id in the pane's markup and the page's data", () => {
    const evil = `x"></a><script>alert(1)</script>`;
    const markup = chatPaneMarkup(evil);
    expect(markup).not.toContain("<script>");
    expect(markup).toContain('href="/login?next=%2Fwatch%2Fx%22%3E%3C%2Fa%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
    const html = watchPage(evil, { playback: { kind: "signed", src: "/hls/x/master.m3u8?token=t", token: "</script><script>alert(2)" } });
    expect(html).not.toContain("<script>alert(1)");
    expect(html).not.toContain("<script>alert(2)");
    expect(html).toContain(String.raw`"streamId":"x\"\u003e\u003c/a\u003e\u003cscript\u003ealert(1)\u003c/script\u003e"`);
    expect(pageData(html)).toMatchObject({ streamId: evil, chat: { playbackToken: "</script><script>alert(2)" } });
  });
});
