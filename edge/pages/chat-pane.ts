import { BUFFER_S_MAX, ERRORS_MAX, LATENCY_MS_MAX } from "../analytics/player-stats.ts";
import { HISTORY_ON_JOIN, MAX_MESSAGE_CHARS } from "../chat/protocol.ts";
import { CLIENT_PRELUDE } from "./app-shell.ts";
import { escapeHtml, scriptJson } from "./html.ts";

/**
 * The watch page's chat pane and viewer count: markup, style and a plain browser script (no build
 * step, like the player's). The script speaks the chat protocol of edge/chat/protocol.ts over
 * `GET /api/v1/streams/<id>/chat` (a WebSocket; the session's token travels as a subprotocol beside
 * `cascade-chat`), uses the chat REST routes for older messages, emotes and moderators, and sends
 * the viewer heartbeats (`POST /api/v1/streams/<id>/heartbeat`) while the stream plays.
 *
 * Everything that comes from users (names, messages, emote codes) is written with textContent /
 * text nodes, never innerHTML; emote images only load from https:, data:image/ or this origin.
 *
 * State for people and for tests: `window.cascadeChat` =
 *   { state: "connecting"|"open"|"closed"|"unavailable", user: {id,username,badges}|null, canWrite,
 *     canModerate, slowMode, viewers: {viewers,peak}|null, messages: number, emotes: number,
 *     reconnects, heartbeats, errors: [{ at, code, message }] }
 */

/** Seconds between viewer heartbeats (the counter forgets a session after 60 s without one). */
export const HEARTBEAT_INTERVAL_S = 20;
/** Most messages kept on the page; older ones are dropped from the top (and can be loaded again). */
export const CHAT_MAX_MESSAGES = 500;
/** Slow-mode choices offered to moderators, in seconds (0: off). */
export const SLOW_MODE_CHOICES = [0, 3, 10, 30, 60, 120, 300] as const;
/** Timeouts offered in the moderation menu, in seconds. */
export const TIMEOUT_CHOICES = [60, 600] as const;

const CHAT_SCRIPT = String.raw`
  var MAX_CHARS = ${MAX_MESSAGE_CHARS};
  var HISTORY_ON_JOIN = ${HISTORY_ON_JOIN};
  var MAX_MESSAGES = ${CHAT_MAX_MESSAGES};
  var HEARTBEAT_MS = ${HEARTBEAT_INTERVAL_S * 1000};
  var TIMEOUTS = ${JSON.stringify(TIMEOUT_CHOICES)};
  var BASE = "/api/v1/streams/" + encodeURIComponent(STREAM_ID);
  // A private stream watched through a signed link: its token opens the stream's chat and counts too.
  function withAccess(path) {
    return PLAYBACK_TOKEN ? path + (path.indexOf("?") < 0 ? "?" : "&") + "playback_token=" + encodeURIComponent(PLAYBACK_TOKEN) : path;
  }
  // Short labels rather than emoji: they render with any font.
  var BADGE_INFO = {
    broadcaster: { label: "Host", title: "Broadcaster" },
    moderator: { label: "Mod", title: "Moderator" },
    follower: { label: "\u2665", title: "Follower" }
  };

  var pane = $("chat");
  var listEl = $("chat-list");
  var scrollEl = $("chat-scroll");
  var olderEl = $("chat-older");
  var statusEl = $("chat-status");
  var slowEl = $("chat-slow");
  var errorEl = $("chat-error");
  var formEl = $("chat-form");
  var inputEl = $("chat-input");
  var countEl = $("chat-count");
  var sendEl = $("chat-send");
  var signinEl = $("chat-signin");
  var modBarEl = $("chat-mod");
  var clearEl = $("chat-clear");
  var slowSelectEl = $("chat-slow-select");
  var menuEl = $("chat-menu");
  var viewersEl = $("viewers");
  var video = $("video");

  var chat = {
    state: "connecting",
    user: null,
    canWrite: false,
    canModerate: false,
    slowMode: 0,
    viewers: null,
    messages: 0,
    emotes: 0,
    reconnects: 0,
    heartbeats: 0,
    errors: []
  };
  window.cascadeChat = chat;

  var ws = null;
  var attempts = 0;          // failed connections in a row (backoff)
  var reconnectTimer = 0;
  // Maps keyed by ids and codes from the server: no prototype, so no key is special.
  var dict = function () { return Object.create(null); };
  var messages = dict();     // id -> { msg, li }
  var names = dict();        // user id -> username, from messages seen
  var moderators = dict();   // user id -> true/false, from badges and moderator events
  var banned = dict();       // user id -> true, from ban frames seen
  var emotes = dict();       // code -> image URL
  var moreBefore = false;    // older messages may exist on the server
  var loadingOlder = false;
  var blockedUntil = 0;      // send disabled until (rate limit, slow mode, timeout)
  var blockedReason = "";
  var lastSent = "";
  var lastSentAt = 0;
  var streamOwnerId = null;
  var streamLive = false;

  // ---------------------------------------------------------------- small helpers

  function plural(n, one, many) { return n === 1 ? one : many; }
  function fmtSeconds(s) {
    s = Math.max(0, Math.ceil(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    if (s < 86400) return Math.floor(s / 3600) + " h" + (Math.floor(s / 60) % 60 ? " " + (Math.floor(s / 60) % 60) + " min" : "");
    return Math.floor(s / 86400) + " d";
  }
  function codePoints(s) { return Array.from(s).length; }
  function isBroadcaster() { return !!(chat.user && chat.user.badges && chat.user.badges.indexOf("broadcaster") >= 0); }
  function nameOf(userId, fallback) { return names[userId] || fallback || "a user"; }
  /** Only images from https:, data:image/ or this origin become emotes. */
  function safeImageUrl(u) {
    if (typeof u !== "string" || u === "") return null;
    if (/^data:image\/(png|gif|webp|jpeg|avif);/i.test(u)) return u;
    try {
      var url = new URL(u, location.href);
      if (url.protocol === "https:" || url.origin === location.origin) return url.href;
    } catch (e) { /* not a URL */ }
    return null;
  }
  function nearBottom() { return scrollEl.scrollHeight - scrollEl.scrollTop - scrollEl.clientHeight < 40; }
  function toBottom() { scrollEl.scrollTop = scrollEl.scrollHeight; }

  // ---------------------------------------------------------------- rendering

  /** Message text as text nodes, with whole-word emote codes as images. */
  function renderText(target, text) {
    while (target.firstChild) target.removeChild(target.firstChild);
    var parts = String(text).split(/(\s+)/);
    var buffer = "";
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (i % 2 === 0 && part !== "" && Object.prototype.hasOwnProperty.call(emotes, part)) {
        if (buffer) { target.appendChild(document.createTextNode(buffer)); buffer = ""; }
        var img = el("img", { class: "emote", alt: part, title: part, src: emotes[part], loading: "lazy", referrerpolicy: "no-referrer" });
        target.appendChild(img);
      } else buffer += part;
    }
    if (buffer) target.appendChild(document.createTextNode(buffer));
  }

  function renderBadges(target, badges) {
    (Array.isArray(badges) ? badges : []).forEach(function (b) {
      var info = BADGE_INFO[b];
      if (!info) return;
      var span = el("span", { class: "chat-badge chat-badge-" + b, title: info.title, "aria-label": info.title, role: "img" }, info.label);
      target.appendChild(span);
    });
  }

  function messageItem(m) {
    var li = el("li", { class: "msg", "data-id": m.id, "data-user": m.user_id });
    var time = el("time", { class: "ts", datetime: new Date(m.ts).toISOString() }, new Date(m.ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }));
    li.appendChild(time);
    var who = el("span", { class: "who" });
    renderBadges(who, m.badges);
    who.appendChild(el("span", { class: "name" }, m.username));
    li.appendChild(who);
    li.appendChild(document.createTextNode(": "));
    var text = el("span", { class: "text" });
    renderText(text, m.text);
    li.appendChild(text);
    if (chat.canModerate) {
      var more = el("button", { type: "button", class: "msg-menu", "aria-haspopup": "menu", "aria-label": "Moderate " + m.username, title: "Moderation" }, "\u22EF");
      li.appendChild(more);
    }
    return li;
  }

  function isMessage(m) {
    return m && typeof m.id === "string" && typeof m.user_id === "string" && typeof m.username === "string" && typeof m.text === "string" && typeof m.ts === "number";
  }

  function learn(m) {
    names[m.user_id] = m.username;
    if (Array.isArray(m.badges) && !(m.user_id in moderators)) moderators[m.user_id] = m.badges.indexOf("moderator") >= 0;
  }

  function countMessages() { chat.messages = listEl.querySelectorAll("li.msg").length; }

  /** Appends live messages (or prepends older ones), skipping ids already shown. */
  function addMessages(list, where) {
    var stick = nearBottom();
    var fragment = document.createDocumentFragment();
    list.forEach(function (m) {
      if (!isMessage(m) || messages[m.id]) return;
      learn(m);
      var li = messageItem(m);
      messages[m.id] = { msg: m, li: li };
      fragment.appendChild(li);
    });
    if (where === "top") {
      var before = scrollEl.scrollHeight;
      listEl.insertBefore(fragment, listEl.firstChild);
      scrollEl.scrollTop += scrollEl.scrollHeight - before;
    } else {
      listEl.appendChild(fragment);
      trim();
      if (stick) toBottom();
    }
    countMessages();
  }

  /** Keeps at most MAX_MESSAGES messages on the page (the oldest go; they can be loaded again). */
  function trim() {
    var items = listEl.querySelectorAll("li.msg");
    for (var i = 0; i < items.length - MAX_MESSAGES; i++) {
      var id = items[i].getAttribute("data-id");
      delete messages[id];
      listEl.removeChild(items[i]);
      moreBefore = true;
    }
    olderEl.hidden = !moreBefore;
  }

  function notice(text, kind) {
    var stick = nearBottom();
    listEl.appendChild(el("li", { class: "notice" + (kind ? " notice-" + kind : "") }, text));
    if (stick) toBottom();
  }

  function removeMessage(id) {
    var entry = messages[id];
    if (!entry) return;
    delete messages[id];
    var li = entry.li;
    li.className = "msg deleted";
    li.removeAttribute("data-id");
    while (li.firstChild) li.removeChild(li.firstChild);
    li.appendChild(el("span", { class: "text" }, "message deleted"));
    countMessages();
  }

  function clearList() {
    while (listEl.firstChild) listEl.removeChild(listEl.firstChild);
    messages = dict();
    moreBefore = false;
    olderEl.hidden = true;
    countMessages();
  }

  /** Re-renders every message (emotes changed, or the moderation menu appeared). */
  function rerenderAll() {
    Object.keys(messages).forEach(function (id) {
      var entry = messages[id];
      var li = messageItem(entry.msg);
      listEl.replaceChild(li, entry.li);
      entry.li = li;
    });
  }

  // ---------------------------------------------------------------- send box

  function showError(text) {
    errorEl.textContent = text || "";
    errorEl.hidden = !text;
  }

  function updateComposer() {
    var n = codePoints(inputEl.value);
    countEl.textContent = n + "/" + MAX_CHARS;
    countEl.classList.toggle("over", n > MAX_CHARS);
    var now = Date.now();
    var waiting = blockedUntil > now;
    var signedIn = !!loadSession();
    signinEl.hidden = signedIn;
    inputEl.disabled = !signedIn || !chat.canWrite || chat.state !== "open";
    sendEl.disabled = inputEl.disabled || waiting || n === 0 || n > MAX_CHARS || inputEl.value.trim() === "";
    if (!signedIn) inputEl.placeholder = "Sign in to chat";
    else if (chat.state !== "open") inputEl.placeholder = "Connecting to chat…";
    else if (!chat.canWrite) inputEl.placeholder = chat.user && banned[chat.user.id] ? "You are banned from this chat" : "You cannot chat here right now";
    else inputEl.placeholder = "Send a message";
    if (waiting && blockedReason) showError(blockedReason + " — you can chat again in " + fmtSeconds((blockedUntil - now) / 1000) + ".");
    else if (blockedReason && !waiting) { blockedReason = ""; showError(""); }
  }

  function blockFor(ms, reason) {
    blockedUntil = Math.max(blockedUntil, Date.now() + ms);
    blockedReason = reason;
    updateComposer();
  }

  inputEl.addEventListener("input", updateComposer);

  formEl.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = inputEl.value;
    if (sendEl.disabled || !ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify({ type: "message", text: text }));
    lastSent = text;
    lastSentAt = Date.now();
    inputEl.value = "";
    if (!blockedReason) showError("");
    // Slow mode applies to everyone but moderators: wait before the next message.
    if (chat.slowMode > 0 && !chat.canModerate) blockFor(chat.slowMode * 1000, "Slow mode");
    updateComposer();
    inputEl.focus();
  });

  // ---------------------------------------------------------------- incoming frames

  var ERROR_TEXT = {
    rate_limited: "You are sending messages too fast",
    slow_mode: "Slow mode is on",
    duplicate_message: "You just sent that message",
    timed_out: "You are timed out",
    banned: "You are banned from this chat",
    message_too_long: "That message is too long (at most " + MAX_CHARS + " characters)",
    empty_message: "Type a message first",
    unauthenticated: "Sign in to chat",
    forbidden: "You are not allowed to do that"
  };

  function onError(f) {
    var code = String(f.code || "error");
    chat.errors.push({ at: new Date().toISOString(), code: code, message: String(f.message || "") });
    if (chat.errors.length > 50) chat.errors.splice(0, chat.errors.length - 50);
    var base = ERROR_TEXT[code] || String(f.message || "Something went wrong");
    // Refused messages go back into the box (unless the user typed something new).
    var refused = code === "rate_limited" || code === "slow_mode" || code === "timed_out" || code === "message_too_long" || code === "banned";
    if (refused && inputEl.value === "" && lastSent && Date.now() - lastSentAt < 30000) { inputEl.value = lastSent; lastSent = ""; }
    if (code === "banned" && chat.user) { banned[chat.user.id] = true; chat.canWrite = false; }
    if (typeof f.retry_after_ms === "number" && f.retry_after_ms > 0) blockFor(f.retry_after_ms, base);
    else { blockedReason = ""; showError(/[.!?]$/.test(base) ? base : base + "."); }
    updateComposer();
  }

  function onWelcome(f) {
    attempts = 0;
    chat.state = "open";
    chat.user = f.user && typeof f.user.id === "string" ? { id: f.user.id, username: String(f.user.username), badges: Array.isArray(f.user.badges) ? f.user.badges : [] } : null;
    chat.canWrite = !!f.can_write;
    chat.canModerate = !!f.can_moderate;
    setSlowMode(typeof f.slow_mode_s === "number" ? f.slow_mode_s : 0, false);
    if (f.viewer_count && typeof f.viewer_count.viewers === "number") setViewers(f.viewer_count);
    // The welcome's history replaces what is shown: a reconnect may have missed deletes or a clear.
    clearList();
    var history = Array.isArray(f.history) ? f.history : [];
    addMessages(history, "bottom");
    moreBefore = history.length >= HISTORY_ON_JOIN;
    olderEl.hidden = !moreBefore;
    toBottom();
    modBarEl.hidden = !chat.canModerate;
    statusEl.textContent = "";
    statusEl.hidden = true;
    updateComposer();
  }

  function setSlowMode(seconds, announce) {
    chat.slowMode = Math.max(0, Number(seconds) || 0);
    slowEl.hidden = chat.slowMode === 0;
    slowEl.textContent = "Slow mode: " + fmtSeconds(chat.slowMode);
    slowEl.title = "One message every " + fmtSeconds(chat.slowMode);
    if (slowSelectEl.querySelector('option[value="' + chat.slowMode + '"]') === null) {
      slowSelectEl.appendChild(el("option", { value: String(chat.slowMode) }, fmtSeconds(chat.slowMode)));
    }
    slowSelectEl.value = String(chat.slowMode);
    if (announce) notice(chat.slowMode ? "Slow mode is on: one message every " + fmtSeconds(chat.slowMode) + "." : "Slow mode is off.");
  }

  function onSystem(f) {
    if (f.event === "welcome") return onWelcome(f);
    var me = chat.user && f.user_id === chat.user.id;
    if (f.event === "moderator_added" || f.event === "moderator_removed") {
      var added = f.event === "moderator_added";
      if (typeof f.user_id === "string") moderators[f.user_id] = added;
      if (typeof f.user_id === "string" && typeof f.username === "string") names[f.user_id] = f.username;
      notice(nameOf(f.user_id, f.username) + (added ? " is now a moderator." : " is no longer a moderator."));
      if (me) {
        var badges = chat.user.badges.filter(function (b) { return b !== "moderator"; });
        if (added) badges.push("moderator");
        chat.user.badges = badges;
        if (!isBroadcaster()) {
          chat.canModerate = added;
          modBarEl.hidden = !added;
          rerenderAll();
        }
      }
    } else if (f.event === "emotes_changed") {
      loadEmotes();
    } else if (f.event === "stream_live") {
      streamLive = true;
      notice("The stream is live.");
      heartbeatSoon();
    } else if (f.event === "stream_ended") {
      streamLive = false;
      notice("The stream has ended.");
    }
  }

  function onFrame(f) {
    if (!f || typeof f !== "object") return;
    switch (f.type) {
      case "message":
        addMessages([f], "bottom");
        if (chat.user && f.user_id === chat.user.id) { lastSent = ""; }
        break;
      case "system":
        onSystem(f);
        break;
      case "delete":
        removeMessage(f.message_id);
        break;
      case "clear":
        clearList();
        notice("The chat was cleared by a moderator.");
        break;
      case "slow_mode":
        setSlowMode(f.seconds, true);
        break;
      case "timeout":
        if (chat.user && f.user_id === chat.user.id) {
          if (Number(f.seconds) > 0) blockFor(Math.max(0, (Number(f.until) || 0) - Date.now()) || Number(f.seconds) * 1000, "You are timed out");
          else { blockedUntil = 0; updateComposer(); }
        }
        if (Number(f.seconds) > 0) notice(nameOf(f.user_id) + " was timed out for " + fmtSeconds(f.seconds) + ".");
        else notice(nameOf(f.user_id) + "'s timeout was lifted.");
        break;
      case "ban":
        if (f.banned === false) delete banned[f.user_id];
        else banned[f.user_id] = true;
        if (chat.user && f.user_id === chat.user.id) chat.canWrite = f.banned === false;
        notice(nameOf(f.user_id) + (f.banned === false ? " was unbanned." : " was banned."));
        updateComposer();
        break;
      case "viewer_count":
        setViewers(f);
        break;
      case "error":
        onError(f);
        break;
    }
  }

  // ---------------------------------------------------------------- the socket

  function connect() {
    clearTimeout(reconnectTimer);
    var session = loadSession();
    var url = (location.protocol === "https:" ? "wss:" : "ws:") + "//" + location.host + withAccess(BASE + "/chat");
    chat.state = "connecting";
    statusEl.textContent = attempts ? "Reconnecting to chat…" : "Connecting to chat…";
    statusEl.hidden = false;
    updateComposer();
    var socket;
    try {
      socket = new WebSocket(url, session ? ["cascade-chat", session.token] : ["cascade-chat"]);
    } catch (e) {
      return scheduleReconnect();
    }
    ws = socket;
    var welcomed = false;
    socket.onmessage = function (event) {
      if (ws !== socket || typeof event.data !== "string") return;
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      // One frame, or a JSON array of frames coalesced under load.
      var frames = Array.isArray(data) ? data : [data];
      for (var i = 0; i < frames.length; i++) {
        if (frames[i] && frames[i].event === "welcome") welcomed = true;
        try { onFrame(frames[i]); } catch (e) { chat.errors.push({ at: new Date().toISOString(), code: "client", message: String(e && e.message) }); }
      }
    };
    socket.onclose = function () {
      if (ws !== socket) return;
      ws = null;
      chat.state = "closed";
      // Refused before the welcome with a token: the session may have expired (the API clears it on 401).
      if (!welcomed && session && attempts >= 1) {
        api("GET", "/api/v1/me").then(scheduleReconnect, scheduleReconnect);
        return;
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    chat.state = "closed";
    var delay = Math.min(1000 * Math.pow(2, attempts), 30000) + Math.floor(Math.random() * 1000);
    attempts++;
    chat.reconnects++;
    statusEl.textContent = "Chat disconnected — reconnecting in " + Math.round(delay / 1000) + " s…";
    statusEl.hidden = false;
    updateComposer();
    clearTimeout(reconnectTimer);
    reconnectTimer = setTimeout(connect, delay);
  }

  function send(frame) {
    if (!ws || ws.readyState !== 1) { showError("Not connected to chat."); return false; }
    ws.send(JSON.stringify(frame));
    return true;
  }

  // ---------------------------------------------------------------- older messages

  function loadOlder() {
    if (loadingOlder || !moreBefore) return;
    var first = listEl.querySelector("li.msg[data-id]");
    if (!first) { moreBefore = false; olderEl.hidden = true; return; }
    loadingOlder = true;
    olderEl.disabled = true;
    olderEl.textContent = "Loading…";
    api("GET", withAccess(BASE + "/chat/messages?limit=50&before=" + encodeURIComponent(first.getAttribute("data-id")))).then(function (r) {
      if (r.status !== 200 || !r.body || !Array.isArray(r.body.messages)) throw new Error("HTTP " + r.status);
      addMessages(r.body.messages, "top");
      moreBefore = typeof r.body.next_before === "string" && r.body.messages.length > 0;
    }).catch(function () {
      showError("Could not load older messages.");
    }).then(function () {
      loadingOlder = false;
      olderEl.disabled = false;
      olderEl.textContent = "Load older messages";
      olderEl.hidden = !moreBefore;
    });
  }

  olderEl.addEventListener("click", loadOlder);
  scrollEl.addEventListener("scroll", function () { if (scrollEl.scrollTop < 20) loadOlder(); });

  // ---------------------------------------------------------------- emotes

  function loadEmotes() {
    return api("GET", withAccess(BASE + "/chat/emotes")).then(function (r) {
      if (r.status !== 200 || !r.body || !Array.isArray(r.body.emotes)) return;
      var next = dict();
      var n = 0;
      r.body.emotes.forEach(function (e) {
        var src = e && typeof e.code === "string" ? safeImageUrl(e.image_url) : null;
        if (src && !Object.prototype.hasOwnProperty.call(next, e.code)) { next[e.code] = src; n++; }
      });
      emotes = next;
      chat.emotes = n;
      rerenderAll();
    }).catch(function () { /* emotes are optional: codes stay text */ });
  }

  // ---------------------------------------------------------------- moderation menu

  function closeMenu() {
    menuEl.hidden = true;
    while (menuEl.firstChild) menuEl.removeChild(menuEl.firstChild);
  }

  function menuItem(label, action, danger) {
    var b = el("button", { type: "button", role: "menuitem", class: danger ? "danger" : "" }, label);
    b.addEventListener("click", function () { closeMenu(); action(); });
    menuEl.appendChild(b);
  }

  function setModerator(userId, add) {
    api(add ? "PUT" : "DELETE", BASE + "/chat/moderators/" + encodeURIComponent(userId)).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        moderators[userId] = add;
        return;
      }
      showError((r.body && r.body.error) || "Could not change moderators (" + r.status + ").");
    }).catch(function (err) { showError("Network error: " + err.message); });
  }

  function openMenu(button, m) {
    closeMenu();
    var mine = chat.user && m.user_id === chat.user.id;
    var targetIsOwner = m.user_id === streamOwnerId || (Array.isArray(m.badges) && m.badges.indexOf("broadcaster") >= 0);
    menuEl.appendChild(el("p", { class: "menu-title" }, m.username));
    if (messages[m.id]) menuItem("Delete message", function () { send({ type: "delete", message_id: m.id }); }, false);
    // Only the broadcaster sanctions moderators; nobody sanctions the broadcaster or themselves.
    if (!mine && !targetIsOwner && (isBroadcaster() || !moderators[m.user_id])) {
      TIMEOUTS.forEach(function (s) {
        menuItem("Timeout " + fmtSeconds(s), function () { send({ type: "timeout", user_id: m.user_id, seconds: s }); }, false);
      });
      if (banned[m.user_id]) menuItem("Unban", function () { send({ type: "ban", user_id: m.user_id, banned: false }); }, false);
      else menuItem("Ban", function () { send({ type: "ban", user_id: m.user_id, banned: true }); }, true);
      if (isBroadcaster()) {
        if (moderators[m.user_id]) menuItem("Remove moderator", function () { setModerator(m.user_id, false); }, false);
        else menuItem("Make moderator", function () { setModerator(m.user_id, true); }, false);
      }
    }
    menuEl.hidden = false;
    var paneBox = pane.getBoundingClientRect();
    var box = button.getBoundingClientRect();
    var top = box.bottom - paneBox.top + 2;
    var maxTop = pane.clientHeight - menuEl.offsetHeight - 4;
    menuEl.style.top = Math.max(4, Math.min(top, maxTop)) + "px";
    var first = menuEl.querySelector("button");
    if (first) first.focus();
  }

  listEl.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element) || !target.classList.contains("msg-menu")) return;
    var li = target.closest("li.msg");
    var id = li && li.getAttribute("data-id");
    if (!id || !messages[id]) return;
    event.stopPropagation();
    openMenu(target, messages[id].msg);
  });
  document.addEventListener("click", function (event) {
    if (!menuEl.hidden && !menuEl.contains(event.target)) closeMenu();
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !menuEl.hidden) closeMenu();
  });

  clearEl.addEventListener("click", function () { send({ type: "clear" }); });
  slowSelectEl.addEventListener("change", function () {
    var seconds = Number(slowSelectEl.value);
    if (!send({ type: "slow_mode", seconds: seconds })) slowSelectEl.value = String(chat.slowMode);
  });

  // ---------------------------------------------------------------- viewer count and heartbeats

  function setViewers(v) {
    if (!v || typeof v.viewers !== "number" || !isFinite(v.viewers)) return;
    chat.viewers = { viewers: v.viewers, peak: typeof v.peak === "number" ? v.peak : v.viewers };
    viewersEl.textContent = v.viewers.toLocaleString("en-US") + " watching";
    viewersEl.title = "Peak: " + chat.viewers.peak.toLocaleString("en-US") + " " + plural(chat.viewers.peak, "viewer", "viewers");
    viewersEl.hidden = false;
  }

  /** One id per page session and stream, kept in sessionStorage (a reload is the same viewer). */
  function viewerSessionId() {
    var key = "cascade.viewer." + STREAM_ID;
    var id = null;
    try { id = sessionStorage.getItem(key); } catch (e) { id = null; }
    if (id && /^[A-Za-z0-9_-]{16,64}$/.test(id)) return id;
    if (window.crypto && typeof crypto.randomUUID === "function") id = crypto.randomUUID().replace(/-/g, "");
    else {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
    try { sessionStorage.setItem(key, id); } catch (e) { /* private mode: one id per page load */ }
    return id;
  }

  var lastHeartbeat = 0;
  var played = false; // the video has played on this page

  /** Watching: the player plays (or recovers after playing), or the stream is live and the player is trying to. */
  function watching() {
    var p = window.cascadePlayer;
    var state = p ? p.state : null;
    if (state === "playing") return true;
    if (state === "offline" || state === "ended") return false;
    return played || streamLive;
  }

  var lastErrorSeen = null; // the newest player error a heartbeat already counted

  /**
   * The player's figures for the stream's analytics: capture-to-display latency (now − the
   * PROGRAM-DATE-TIME on screen, only when watching live: a rewound viewer is not latency), buffer
   * ahead, and player errors since the previous heartbeat. Values the server would refuse (a
   * client clock far off) are left out rather than costing the viewer the heartbeat.
   */
  function playerFigures(body) {
    var p = window.cascadePlayer;
    if (!p) return body;
    if (p.state === "playing") {
      var ms = typeof p.latency === "number" && isFinite(p.latency) ? Math.round(p.latency * 1000) : -1;
      if (!p.dvr && ms >= 0 && ms <= ${LATENCY_MS_MAX}) body.latency_ms = ms;
      var ahead = p.stats ? p.stats.bufferAhead : null;
      if (typeof ahead === "number" && isFinite(ahead) && ahead >= 0) body.buffer_s = Math.min(${BUFFER_S_MAX}, ahead);
    }
    if (Array.isArray(p.errors)) {
      // The list keeps the last 50: an error no longer in it counts everything that is.
      var seen = lastErrorSeen ? p.errors.indexOf(lastErrorSeen) : -1;
      body.errors = Math.min(${ERRORS_MAX}, p.errors.length - (seen + 1));
      if (p.errors.length > 0) lastErrorSeen = p.errors[p.errors.length - 1];
    }
    return body;
  }

  function heartbeat() {
    if (!watching()) return;
    lastHeartbeat = Date.now();
    api("POST", withAccess(BASE + "/heartbeat"), playerFigures({ session_id: viewerSessionId() })).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        chat.heartbeats++;
        if (r.body && typeof r.body.viewers === "number") setViewers(r.body);
      }
    }).catch(function () { /* the next beat tries again */ });
  }

  function heartbeatSoon() {
    if (Date.now() - lastHeartbeat >= HEARTBEAT_MS - 1000) heartbeat();
  }

  function refreshViewers() {
    return api("GET", withAccess(BASE + "/viewers")).then(function (r) {
      if (r.status === 200 && r.body) setViewers(r.body);
    }).catch(function () { /* shown when a count arrives */ });
  }

  video.addEventListener("playing", function () { played = true; heartbeatSoon(); });
  setInterval(function () {
    if (watching()) heartbeat();
    // Counts also arrive on the chat socket; without it, ask.
    if (chat.state !== "open") refreshViewers();
  }, HEARTBEAT_MS);

  // ---------------------------------------------------------------- start

  setInterval(updateComposer, 1000);
  updateComposer();
  api("GET", withAccess(BASE)).then(function (r) {
    // No such stream in the control plane (a stream published with a local key): no chat to join.
    if (r.status === 404) {
      chat.state = "unavailable";
      statusEl.textContent = "Chat is not available for this stream.";
      statusEl.hidden = false;
      formEl.hidden = true;
      signinEl.hidden = true;
      heartbeatSoon();
      return;
    }
    if (r.status === 200 && r.body) {
      streamOwnerId = r.body.user && typeof r.body.user.id === "string" ? r.body.user.id : null;
      streamLive = r.body.status === "live" || r.body.status === "reconnecting";
      if (typeof r.body.viewer_count === "number" && streamLive && !chat.viewers) setViewers({ viewers: r.body.viewer_count, peak: r.body.peak_viewers });
    }
    heartbeatSoon();
    loadEmotes();
    refreshViewers();
    connect();
  }).catch(function () {
    loadEmotes();
    connect();
  });
`;

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

/** The pane's script (after the player's), nonce'd by the caller. */
/** @param playbackToken the signed watch link's token, for a private stream (null: none) */
export const chatPaneScript = (streamId: string, playbackToken: string | null = null): string =>
  `(function (STREAM_ID, PLAYBACK_TOKEN) {${CLIENT_PRELUDE}${CHAT_SCRIPT}})(${scriptJson(streamId)}, ${scriptJson(playbackToken)});`;
