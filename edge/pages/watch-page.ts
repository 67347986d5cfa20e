import { CHAT_STYLE, chatData, chatPaneMarkup } from "./chat-pane.ts";
import type { PlaybackData, WatchPageData } from "./client/page-data.ts";
import { CHAT_SCRIPT, PLAYER_SCRIPT } from "./client-scripts.ts";
import { HLS_JS_PATH } from "./hls-asset.ts";
import { escapeHtml, pageDataIsland } from "./html.ts";
import { SESSION_STORAGE_KEY } from "./app-shell.ts";
import { PLAYBACK_TTL_MAX_S } from "../../shared/playback-token.ts";

const STYLE = `
  :root { color-scheme: dark; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
  body { margin: 0; background: #0d0f12; color: #e8eaed; }
  header { display: flex; align-items: center; gap: 12px; padding: 10px 16px; }
  header a { color: #9ab; text-decoration: none; }
  h1 { font-size: 1.1rem; margin: 0; font-weight: 600; }
  .badge { font-size: .75rem; font-weight: 700; padding: 2px 6px; border-radius: 4px; background: #444; }
  body[data-state="playing"] .badge { background: #d22; }
  body[data-state="playing"][data-behind="1"] .badge { background: #444; }
  #golive { background: #d22; border-color: #d22; color: #fff; font-weight: 600; }
  .controls .behind { font-variant-numeric: tabular-nums; color: #bbb; }
  body:not([data-state="playing"]) #stats { display: none; }
  main { max-width: 1640px; margin: 0 auto; padding: 0 16px 24px; }
  .stage { position: relative; background: #000; aspect-ratio: 16 / 9; margin: 0 auto; width: min(100%, calc((100vh - 130px) * 16 / 9)); }
  video { width: 100%; height: 100%; display: block; background: #000; }
  #message { position: absolute; left: 50%; top: 50%; transform: translate(-50%, -50%); background: rgba(0,0,0,.7);
    padding: 12px 18px; border-radius: 8px; font-size: 1.05rem; text-align: center; pointer-events: none; }
  #play { position: absolute; left: 50%; top: 62%; transform: translateX(-50%); font-size: 1.2rem; padding: 10px 22px; }
  #stats { position: absolute; top: 8px; left: 8px; margin: 0; padding: 8px 10px; background: rgba(0,0,0,.65);
    font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, monospace; border-radius: 6px; pointer-events: none; }
  .controls { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 10px 0; }
  .controls .latency { font-variant-numeric: tabular-nums; }
  #latency { font-weight: 700; }
  button, select { background: #23272e; color: inherit; border: 1px solid #3a3f47; border-radius: 6px; padding: 6px 10px; font: inherit; }
  button:hover, select:hover { border-color: #5a6270; }
  [hidden] { display: none !important; }
${CHAT_STYLE}`;

export interface WatchPageOptions {
  /** CSP nonce for the inline script and style (the route sends the matching header). */
  nonce?: string;
  /** How this page plays (edge/routes/pages.ts decides); the public `/hls/<id>/master.m3u8` unless given. */
  playback?: WatchPlayback;
}

/**
 * signed: a verified signed master playlist URL. private: no usable URL; `message` is shown, and the
 * page asks the API for one when `askOwner` (the owner's session may get one).
 */
export type WatchPlayback = { kind: "public" } | { kind: "signed"; src: string; token: string } | { kind: "private"; message: string; askOwner: boolean };

const playbackData = (p: WatchPlayback = { kind: "public" }): PlaybackData => ({
  src: p.kind === "signed" ? p.src : null,
  gate: p.kind === "private" ? p.message : null,
  askOwner: p.kind === "private" && p.askOwner,
  ownerTtl: PLAYBACK_TTL_MAX_S,
  // What a 403 from the playlist means here: a signed URL past its expiry, or a stream made private meanwhile.
  expiredMessage: p.kind === "public" ? "This stream is private." : "This playback link has expired. Ask the broadcaster for a new one.",
});

/** What the player (client/player.js) and the chat pane (client/chat.js) read from the page. */
const watchData = (streamId: string, playback: WatchPlayback | undefined): WatchPageData => ({
  sessionKey: SESSION_STORAGE_KEY,
  streamId,
  playback: playbackData(playback),
  chat: chatData(playback?.kind === "signed" ? playback.token : null),
});

/** The player page for one stream. The id must already be valid (shared/ids.ts); it is escaped anyway. */
export const watchPage = (streamId: string, options: WatchPageOptions = {}): string => {
  const id = escapeHtml(streamId);
  const nonce = options.nonce ? ` nonce="${escapeHtml(options.nonce)}"` : "";
  const noscriptSrc = escapeHtml(options.playback?.kind === "signed" ? options.playback.src : `/hls/${streamId}/master.m3u8`);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${id} · Cascade live</title>
<link rel="icon" href="data:,">
<style${nonce}>${STYLE}</style>
</head>
<body data-state="loading">
<header>
  <a href="/">← Live streams</a>
  <h1>${id}</h1>
  <span class="badge" id="badge">LIVE</span>
</header>
<main>
<div class="layout">
<div class="player-col">
  <div class="stage">
    <video id="video" muted autoplay playsinline controls></video>
    <p id="message" role="status" aria-live="polite">Loading…</p>
    <button id="play" type="button" hidden>▶ Play</button>
    <pre id="stats" aria-label="Playback statistics"></pre>
  </div>
  <div class="controls">
    <span class="latency">Latency <span id="latency" title="Capture-to-display: now minus the program date-time of the frame on screen">–</span></span>
    <span class="behind" id="behind" role="status" hidden></span>
    <button id="golive" type="button" title="Jump to the live edge" hidden>Go live ⏭</button>
    <label>Quality <select id="quality" disabled><option value="-1">Auto</option></select></label>
    <button id="unmute" type="button" aria-pressed="false">Unmute</button>
    <button id="stats-toggle" type="button" aria-pressed="true">Stats</button>
    <span class="viewers" id="viewers" role="status" hidden></span>
  </div>
</div>
${chatPaneMarkup(streamId)}
</div>
  <noscript><p>The player needs JavaScript. Playlist: <a href="${noscriptSrc}">${noscriptSrc}</a></p></noscript>
</main>
${pageDataIsland(watchData(streamId, options.playback))}
<script src="${escapeHtml(HLS_JS_PATH)}"></script>
<script${nonce}>
${PLAYER_SCRIPT}</script>
<script${nonce}>
${CHAT_SCRIPT}</script>
</body>
</html>
`;
};
