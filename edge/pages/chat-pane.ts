import { BUFFER_S_MAX, ERRORS_MAX, LATENCY_MS_MAX } from "../analytics/player-stats.ts";
import { HISTORY_ON_JOIN, MAX_MESSAGE_CHARS } from "../chat/protocol.ts";
import type { ChatData } from "./client/page-data.ts";
import { escapeHtml } from "./html.ts";

/**
 * The watch page's chat pane and viewer count: markup, style and the settings its browser script
 * (client/chat.js: the chat protocol of edge/chat/protocol.ts over the stream's WebSocket, the chat
 * REST routes, the viewer heartbeats) reads from the page's data island.
 */

/** Seconds between viewer heartbeats (the counter forgets a session after 60 s without one). */
export const HEARTBEAT_INTERVAL_S = 20;
/** Most messages kept on the page; older ones are dropped from the top (and can be loaded again). */
export const CHAT_MAX_MESSAGES = 500;
/** Slow-mode choices offered to moderators, in seconds (0: off). */
export const SLOW_MODE_CHOICES = [0, 3, 10, 30, 60, 120, 300] as const;
/** Timeouts offered in the moderation menu, in seconds. */
export const TIMEOUT_CHOICES = [60, 600] as const;

export const CHAT_STYLE = `
  .layout { display: grid; grid-template-columns: minmax(0, 1fr) 340px; gap: 16px; align-items: stretch; }
  .chat-wrap { position: relative; min-height: 420px; }
  .chat { position: absolute; inset: 0; display: flex; flex-direction: column; background: #15181d; border: 1px solid #262b33; border-radius: 8px; overflow: hidden; }
  @media (max-width: 900px) {
    .layout { grid-template-columns: minmax(0, 1fr); }
    .chat-wrap { min-height: 0; height: 460px; }
  }
  .chat-head { display: flex; align-items: center; gap: 8px; padding: 8px 12px; border-bottom: 1px solid #262b33; }
  .chat-head h2 { font-size: .95rem; margin: 0; font-weight: 600; }
  #chat-slow { font-size: .75rem; padding: 2px 6px; border-radius: 4px; background: #3a3320; color: #f0d890; margin-left: auto; }
  #chat-status { font-size: .8rem; color: #9aa3ad; padding: 6px 12px; margin: 0; }
  .chat-mod { display: flex; gap: 8px; align-items: center; padding: 6px 12px; border-bottom: 1px solid #262b33; font-size: .8rem; }
  .chat-mod button, .chat-mod select { padding: 3px 8px; font-size: .8rem; }
  .chat-scroll { flex: 1 1 0; min-height: 0; overflow-y: auto; padding: 6px 0; }
  #chat-older { display: block; margin: 4px auto 8px; font-size: .8rem; padding: 3px 10px; }
  #chat-list { list-style: none; margin: 0; padding: 0 12px; font-size: .9rem; line-height: 1.4; }
  #chat-list li { position: relative; padding: 3px 24px 3px 0; overflow-wrap: anywhere; }
  #chat-list .ts { color: #6f7782; font-size: .75rem; margin-right: 6px; font-variant-numeric: tabular-nums; }
  #chat-list .name { font-weight: 600; color: #9ab8ff; }
  .chat-badge { display: inline-block; margin-right: 4px; padding: 0 4px; border-radius: 3px; font-size: .68rem; font-weight: 700; line-height: 1.5;
    vertical-align: 1px; text-transform: uppercase; background: #3a3f47; color: #fff; }
  .chat-badge-broadcaster { background: #c62828; }
  .chat-badge-moderator { background: #2e7d32; }
  .chat-badge-follower { background: #6a3fb5; text-transform: none; }
  #chat-list .emote { height: 1.6em; vertical-align: middle; }
  #chat-list li.deleted .text, #chat-list li.notice { color: #7d858f; font-style: italic; font-size: .82rem; }
  .msg-menu { position: absolute; right: 0; top: 2px; padding: 0 6px; line-height: 1.3; font-size: .9rem; opacity: .5; }
  #chat-list li:hover .msg-menu, .msg-menu:focus { opacity: 1; }
  #chat-menu { position: absolute; right: 12px; z-index: 5; display: flex; flex-direction: column; min-width: 160px; padding: 4px;
    background: #1e232a; border: 1px solid #3a3f47; border-radius: 6px; box-shadow: 0 6px 18px rgba(0,0,0,.5); }
  #chat-menu .menu-title { margin: 2px 6px 4px; font-size: .75rem; color: #9aa3ad; overflow-wrap: anywhere; }
  #chat-menu button { text-align: left; border: 0; background: none; padding: 5px 8px; font-size: .85rem; }
  #chat-menu button:hover, #chat-menu button:focus { background: #2c323b; }
  #chat-menu button.danger { color: #ff9b9b; }
  #chat-error { margin: 0; padding: 6px 12px; font-size: .82rem; color: #ff9b9b; border-top: 1px solid #262b33; }
  #chat-form { display: flex; flex-direction: column; gap: 6px; padding: 8px 12px 10px; border-top: 1px solid #262b33; }
  #chat-input { width: 100%; box-sizing: border-box; background: #0d0f12; color: inherit; border: 1px solid #3a3f47; border-radius: 6px; padding: 7px 9px; font: inherit; }
  .chat-send-row { display: flex; align-items: center; gap: 8px; }
  #chat-count { font-size: .75rem; color: #9aa3ad; font-variant-numeric: tabular-nums; margin-right: auto; }
  #chat-count.over { color: #ff6b6b; font-weight: 700; }
  #chat-signin { margin: 0; font-size: .82rem; }
  #chat-signin a { color: #9ab8ff; }
  .viewers { font-variant-numeric: tabular-nums; }
`;

/** The pane's markup (no user data: the script fills it). */
export const chatPaneMarkup = (streamId: string): string => {
  const next = escapeHtml(`/login?next=${encodeURIComponent(`/watch/${streamId}`)}`);
  return `<div class="chat-wrap">
  <aside class="chat" id="chat" aria-label="Chat">
    <div class="chat-head"><h2>Chat</h2><span id="chat-slow" hidden></span></div>
    <div class="chat-mod" id="chat-mod" hidden>
      <button id="chat-clear" type="button">Clear chat</button>
      <label>Slow mode <select id="chat-slow-select">${SLOW_MODE_CHOICES.map((s) => `<option value="${s}">${s === 0 ? "Off" : s < 60 ? `${s} s` : `${s / 60} min`}</option>`).join("")}</select></label>
    </div>
    <p id="chat-status" role="status">Connecting to chat…</p>
    <div class="chat-scroll" id="chat-scroll">
      <button id="chat-older" type="button" hidden>Load older messages</button>
      <ol id="chat-list" aria-live="polite" aria-relevant="additions"></ol>
    </div>
    <p id="chat-error" role="alert" hidden></p>
    <form id="chat-form" autocomplete="off">
      <input id="chat-input" type="text" aria-label="Chat message" placeholder="Send a message" disabled>
      <div class="chat-send-row">
        <span id="chat-count" aria-live="off">0/${MAX_MESSAGE_CHARS}</span>
        <p id="chat-signin" hidden><a href="${next}">Sign in to chat</a></p>
        <button id="chat-send" type="submit" disabled>Chat</button>
      </div>
    </form>
    <div id="chat-menu" role="menu" aria-label="Moderation" hidden></div>
  </aside>
</div>`;
};

/** The chat script's settings (client/chat.js). @param playbackToken the signed watch link's token, for a private stream (null: none) */
export const chatData = (playbackToken: string | null = null): ChatData => ({
  playbackToken,
  maxChars: MAX_MESSAGE_CHARS,
  historyOnJoin: HISTORY_ON_JOIN,
  maxMessages: CHAT_MAX_MESSAGES,
  heartbeatMs: HEARTBEAT_INTERVAL_S * 1000,
  timeouts: TIMEOUT_CHOICES,
  latencyMsMax: LATENCY_MS_MAX,
  bufferSMax: BUFFER_S_MAX,
  errorsMax: ERRORS_MAX,
});
