/**
 * The watch page's chat pane and viewer count, after the prelude (prelude.js) and the player. It
 * speaks the chat protocol of edge/chat/protocol.ts over `GET /api/v1/streams/<id>/chat` (a
 * WebSocket; the session's token travels as a subprotocol beside `cascade-chat`), uses the chat REST
 * routes for older messages, emotes and moderators, and sends the viewer heartbeats
 * (`POST /api/v1/streams/<id>/heartbeat`) while the stream plays. Its settings come from the page's
 * data island (page-data.ts, WatchPageData.chat).
 *
 * Everything that comes from users (names, messages, emote codes) is written with textContent /
 * text nodes, never parsed as markup; emote images only load from https:, data:image/ or this origin.
 *
 * State for people and for tests: `window.cascadeChat` =
 *   { state: "connecting"|"open"|"closed"|"unavailable", user: {id,username,badges}|null, canWrite,
 *     canModerate, slowMode, viewers: {viewers,peak}|null, messages: number, emotes: number,
 *     reconnects, heartbeats, errors: [{ at, code, message }] }
 */
(function () {
  "use strict";
  var DATA = /** @type {import("./page-data.ts").WatchPageData} */ (PAGE);
  var STREAM_ID = DATA.streamId;
  var CONFIG = DATA.chat;
  var PLAYBACK_TOKEN = CONFIG.playbackToken;
  var MAX_CHARS = CONFIG.maxChars;
  var HISTORY_ON_JOIN = CONFIG.historyOnJoin;
  var MAX_MESSAGES = CONFIG.maxMessages;
  var HEARTBEAT_MS = CONFIG.heartbeatMs;
  var TIMEOUTS = CONFIG.timeouts;
  var BASE = "/api/v1/streams/" + encodeURIComponent(STREAM_ID);
  // A private stream watched through a signed link: its token opens the stream's chat and counts too.
  /** @param {string} path */
  function withAccess(path) {
    return PLAYBACK_TOKEN ? path + (path.indexOf("?") < 0 ? "?" : "&") + "playback_token=" + encodeURIComponent(PLAYBACK_TOKEN) : path;
  }
  // Short labels rather than emoji: they render with any font.
  /** @type {Record<string, { label: string, title: string } | undefined>} */
  var BADGE_INFO = {
    broadcaster: { label: "Host", title: "Broadcaster" },
    moderator: { label: "Mod", title: "Moderator" },
    follower: { label: "\u2665", title: "Follower" }
  };

  var pane = $("chat");
  var listEl = $("chat-list");
  var scrollEl = $("chat-scroll");
  var olderEl = /** @type {HTMLButtonElement} */ ($("chat-older"));
  var statusEl = $("chat-status");
  var slowEl = $("chat-slow");
  var errorEl = $("chat-error");
  var formEl = /** @type {HTMLFormElement} */ ($("chat-form"));
  var inputEl = /** @type {HTMLInputElement} */ ($("chat-input"));
  var countEl = $("chat-count");
  var sendEl = /** @type {HTMLButtonElement} */ ($("chat-send"));
  var signinEl = $("chat-signin");
  var modBarEl = $("chat-mod");
  var clearEl = $("chat-clear");
  var slowSelectEl = /** @type {HTMLSelectElement} */ ($("chat-slow-select"));
  var menuEl = $("chat-menu");
  var viewersEl = $("viewers");
  var video = $("video");

  /** @typedef {{ id: string, user_id: string, username: string, text: string, ts: number, badges?: unknown }} ChatMessage */
  /** @typedef {any} Frame a frame from the socket (JSON): each handler checks the fields it reads */

  /** @type {ChatState} */
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

  /** @type {WebSocket | null} */
  var ws = null;
  var attempts = 0;          // failed connections in a row (backoff)
  var reconnectTimer = 0;
  // Maps keyed by ids and codes from the server: no prototype, so no key is special.
  var dict = function () { return Object.create(null); };
  /** @type {Record<string, { msg: ChatMessage, li: HTMLLIElement } | undefined>} */
  var messages = dict();     // id -> { msg, li }
  /** @type {Record<string, string | undefined>} */
  var names = dict();        // user id -> username, from messages seen
  /** @type {Record<string, boolean | undefined>} */
  var moderators = dict();   // user id -> true/false, from badges and moderator events
  /** @type {Record<string, true | undefined>} */
  var banned = dict();       // user id -> true, from ban frames seen
  /** @type {Record<string, string>} */
  var emotes = dict();       // code -> image URL
  var moreBefore = false;    // older messages may exist on the server
  var loadingOlder = false;
  var blockedUntil = 0;      // send disabled until (rate limit, slow mode, timeout)
  var blockedReason = "";
  var lastSent = "";
  var lastSentAt = 0;
  /** @type {string | null} */
  var streamOwnerId = null;
  var streamLive = false;

  // ---------------------------------------------------------------- small helpers

  /**
   * @param {number} n
   * @param {string} one
   * @param {string} many
   */
  function plural(n, one, many) { return n === 1 ? one : many; }
  /** @param {number} s */
  function fmtSeconds(s) {
    s = Math.max(0, Math.ceil(s));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    if (s < 86400) return Math.floor(s / 3600) + " h" + (Math.floor(s / 60) % 60 ? " " + (Math.floor(s / 60) % 60) + " min" : "");
    return Math.floor(s / 86400) + " d";
  }
  /** @param {string} s */
  function codePoints(s) { return Array.from(s).length; }
  function isBroadcaster() { return !!(chat.user && chat.user.badges && chat.user.badges.indexOf("broadcaster") >= 0); }
  /**
   * @param {string} userId
   * @param {string} [fallback]
   */
  function nameOf(userId, fallback) { return names[userId] || fallback || "a user"; }
  /** Only images from https:, data:image/ or this origin become emotes. */
  /** @param {unknown} u */
  function safeImageUrl(u) {
    if (typeof u !== "string" || u === "") return null;
    if (/^data:image\/(png|gif|webp|jpeg|avif);/i.test(u)) return u;
    try {
      var url = new URL(u, location.href);
      if (url.protocol === "https:" || url.origin === location.origin) return url.href;
    } catch { /* not a URL */ }
    return null;
  }
  function nearBottom() { return scrollEl.scrollHeight - scrollEl.scrollTop - scrollEl.clientHeight < 40; }
  function toBottom() { scrollEl.scrollTop = scrollEl.scrollHeight; }

  // ---------------------------------------------------------------- rendering

  /** Message text as text nodes, with whole-word emote codes as images. */
  /**
   * @param {HTMLElement} target
   * @param {string} text
   */
  function renderText(target, text) {
    while (target.firstChild) target.removeChild(target.firstChild);
    var parts = String(text).split(/(\s+)/);
    var buffer = "";
    for (var i = 0; i < parts.length; i++) {
      var part = /** @type {string} */ (parts[i]);
      if (i % 2 === 0 && part !== "" && Object.prototype.hasOwnProperty.call(emotes, part)) {
        if (buffer) { target.appendChild(document.createTextNode(buffer)); buffer = ""; }
        var img = el("img", { class: "emote", alt: part, title: part, src: /** @type {string} */ (emotes[part]), loading: "lazy", referrerpolicy: "no-referrer" });
        target.appendChild(img);
      } else buffer += part;
    }
    if (buffer) target.appendChild(document.createTextNode(buffer));
  }

  /**
   * @param {HTMLElement} target
   * @param {unknown} badges
   */
  function renderBadges(target, badges) {
    (Array.isArray(badges) ? badges : []).forEach(function (b) {
      var info = BADGE_INFO[b];
      if (!info) return;
      var span = el("span", { class: "chat-badge chat-badge-" + b, title: info.title, "aria-label": info.title, role: "img" }, info.label);
      target.appendChild(span);
    });
  }

  /** @param {ChatMessage} m */
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

  /**
   * @param {any} m JSON from the server
   * @returns {m is ChatMessage}
   */
  function isMessage(m) {
    return m && typeof m.id === "string" && typeof m.user_id === "string" && typeof m.username === "string" && typeof m.text === "string" && typeof m.ts === "number";
  }

  /** @param {ChatMessage} m */
  function learn(m) {
    names[m.user_id] = m.username;
    if (Array.isArray(m.badges) && !(m.user_id in moderators)) moderators[m.user_id] = m.badges.indexOf("moderator") >= 0;
  }

  function countMessages() { chat.messages = listEl.querySelectorAll("li.msg").length; }

  /** Appends live messages (or prepends older ones), skipping ids already shown. */
  /**
   * @param {unknown[]} list JSON from the server: only messages are shown
   * @param {"top" | "bottom"} where
   */
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
      var item = /** @type {Element} */ (items[i]);
      var id = item.getAttribute("data-id");
      if (id !== null) delete messages[id];
      listEl.removeChild(item);
      moreBefore = true;
    }
    olderEl.hidden = !moreBefore;
  }

  /**
   * @param {string} text
   * @param {string} [kind]
   */
  function notice(text, kind) {
    var stick = nearBottom();
    listEl.appendChild(el("li", { class: "notice" + (kind ? " notice-" + kind : "") }, text));
    if (stick) toBottom();
  }

  /** @param {string} id */
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
      var entry = /** @type {{ msg: ChatMessage, li: HTMLLIElement }} */ (messages[id]);
      var li = messageItem(entry.msg);
      listEl.replaceChild(li, entry.li);
      entry.li = li;
    });
  }

  // ---------------------------------------------------------------- send box

  /** @param {string} text */
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

  /**
   * @param {number} ms
   * @param {string} reason
   */
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

  /** @type {Record<string, string | undefined>} */
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

  /** @param {Frame} f */
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

  /** @param {Frame} f */
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

  /**
   * @param {unknown} seconds
   * @param {boolean} announce
   */
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

  /** @param {Frame} f */
  function onSystem(f) {
    if (f.event === "welcome") return onWelcome(f);
    var me = chat.user && f.user_id === chat.user.id;
    if (f.event === "moderator_added" || f.event === "moderator_removed") {
      var added = f.event === "moderator_added";
      if (typeof f.user_id === "string") moderators[f.user_id] = added;
      if (typeof f.user_id === "string" && typeof f.username === "string") names[f.user_id] = f.username;
      notice(nameOf(f.user_id, f.username) + (added ? " is now a moderator." : " is no longer a moderator."));
      if (me) {
        var badges = /** @type {ChatUser} */ (chat.user).badges.filter(function (b) { return b !== "moderator"; });
        if (added) badges.push("moderator");
        /** @type {ChatUser} */ (chat.user).badges = badges;
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

  /** @param {Frame} f */
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
    /** @type {WebSocket} */
    var socket;
    try {
      socket = new WebSocket(url, session ? ["cascade-chat", session.token] : ["cascade-chat"]);
    } catch {
      return scheduleReconnect();
    }
    ws = socket;
    var welcomed = false;
    socket.onmessage = function (event) {
      if (ws !== socket || typeof event.data !== "string") return;
      var data;
      try { data = JSON.parse(event.data); } catch { return; }
      // One frame, or a JSON array of frames coalesced under load.
      var frames = Array.isArray(data) ? data : [data];
      for (var i = 0; i < frames.length; i++) {
        if (frames[i] && frames[i].event === "welcome") welcomed = true;
        try { onFrame(frames[i]); } catch (e) { chat.errors.push({ at: new Date().toISOString(), code: "client", message: String(e && /** @type {Error} */ (e).message) }); }
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

  /** @param {object} frame */
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
    api("GET", withAccess(BASE + "/chat/messages?limit=50&before=" + encodeURIComponent(/** @type {string} */ (first.getAttribute("data-id"))))).then(function (r) {
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
      r.body.emotes.forEach(function (/** @type {any} */ e) {
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

  /**
   * @param {string} label
   * @param {() => void} action
   * @param {boolean} danger
   */
  function menuItem(label, action, danger) {
    var b = el("button", { type: "button", role: "menuitem", class: danger ? "danger" : "" }, label);
    b.addEventListener("click", function () { closeMenu(); action(); });
    menuEl.appendChild(b);
  }

  /**
   * @param {string} userId
   * @param {boolean} add
   */
  function setModerator(userId, add) {
    api(add ? "PUT" : "DELETE", BASE + "/chat/moderators/" + encodeURIComponent(userId)).then(function (r) {
      if (r.status >= 200 && r.status < 300) {
        moderators[userId] = add;
        return;
      }
      showError((r.body && r.body.error) || "Could not change moderators (" + r.status + ").");
    }).catch(function (err) { showError("Network error: " + err.message); });
  }

  /**
   * @param {Element} button
   * @param {ChatMessage} m
   */
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
    openMenu(target, /** @type {{ msg: ChatMessage }} */ (messages[id]).msg);
  });
  document.addEventListener("click", function (event) {
    if (!menuEl.hidden && !menuEl.contains(/** @type {Node | null} */ (event.target))) closeMenu();
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

  /** @param {any} v JSON from the server */
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
    try { id = sessionStorage.getItem(key); } catch { id = null; }
    if (id && /^[A-Za-z0-9_-]{16,64}$/.test(id)) return id;
    if (window.crypto && typeof crypto.randomUUID === "function") id = crypto.randomUUID().replace(/-/g, "");
    else {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
    }
    try { sessionStorage.setItem(key, id); } catch { /* private mode: one id per page load */ }
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

  /** @type {PlayerError | null} */
  var lastErrorSeen = null; // the newest player error a heartbeat already counted

  /**
   * The player's figures for the stream's analytics: capture-to-display latency (now − the
   * PROGRAM-DATE-TIME on screen, only when watching live: a rewound viewer is not latency), buffer
   * ahead, and player errors since the previous heartbeat. Values the server would refuse (a
   * client clock far off) are left out rather than costing the viewer the heartbeat.
   */
  /**
   * @param {{ session_id: string, latency_ms?: number, buffer_s?: number, errors?: number }} body
   */
  function playerFigures(body) {
    var p = window.cascadePlayer;
    if (!p) return body;
    if (p.state === "playing") {
      var ms = typeof p.latency === "number" && isFinite(p.latency) ? Math.round(p.latency * 1000) : -1;
      if (!p.dvr && ms >= 0 && ms <= CONFIG.latencyMsMax) body.latency_ms = ms;
      var ahead = p.stats ? p.stats.bufferAhead : null;
      if (typeof ahead === "number" && isFinite(ahead) && ahead >= 0) body.buffer_s = Math.min(CONFIG.bufferSMax, ahead);
    }
    if (Array.isArray(p.errors)) {
      // The list keeps the last 50: an error no longer in it counts everything that is.
      var seen = lastErrorSeen ? p.errors.indexOf(lastErrorSeen) : -1;
      body.errors = Math.min(CONFIG.errorsMax, p.errors.length - (seen + 1));
      if (p.errors.length > 0) lastErrorSeen = p.errors[p.errors.length - 1] || null;
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
})();
