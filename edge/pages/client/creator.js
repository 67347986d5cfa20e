/**
 * The creator dashboard (`/creator`), after the prelude (prelude.js): streams, keys and the go-live
 * saga through the JSON API with the session's bearer token (see edge/pages/creator-page.ts). Its
 * poll intervals come from the page's data island (page-data.ts, CreatorPageData).
 */
(function () {
  "use strict";
  var DATA = /** @type {import("./page-data.ts").CreatorPageData} */ (PAGE);
  var SAGA_POLL_MS = DATA.sagaPollMs;
  var STREAMS_POLL_MS = DATA.streamsPollMs;
  var session = loadSession();
  /** @type {string | null} */
  var watching = null;      // the stream id whose saga is shown
  var sagaTimer = 0;
  /** @typedef {Session & { user: { username: string } }} SignedIn */
  /** @typedef {any} StreamJson a stream from the API (JSON) */
  /** @param {string} id */
  var input = function (id) { return /** @type {HTMLInputElement} */ ($(id)); };
  var streamsTimer = 0;

  function requireLogin() {
    $("need-login").hidden = false;
    $("app").hidden = true;
    $("who-nav").hidden = true;
  }

  /**
   * @param {HTMLElement} button
   * @param {string} text
   */
  function flash(button, text) {
    var old = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", old);
    button.textContent = text;
    setTimeout(function () { button.textContent = old; }, 1500);
  }

  /**
   * @param {string} inputId
   * @param {HTMLElement} button
   */
  function copyFrom(inputId, button) {
    var input = /** @type {HTMLInputElement} */ ($(inputId));
    var fallback = function () {
      input.hidden = false;
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch { ok = false; }
      flash(button, ok ? "Copied" : "Press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { flash(button, "Copied"); }, fallback);
    } else fallback();
  }

  // ------------------------------------------------------------ the key, shown once

  /**
   * @param {string} streamId
   * @param {string} title
   * @param {string} key
   * @param {string} server
   * @param {string} why
   */
  function showKey(streamId, title, key, server, why) {
    $("key-why").textContent = why;
    $("key-title").textContent = title || streamId;
    input("obs-server").value = server;
    input("obs-key").value = key;
    $("ffmpeg").textContent = "ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -tune zerolatency -g 60 -keyint_min 60 -c:a aac -b:a 160k -ar 48000 -f flv " + server.replace(/\/+$/, "") + "/" + key;
    $("key-box").hidden = false;
    $("key-box").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function hideKey() {
    input("obs-key").value = "";
    $("ffmpeg").textContent = "";
    $("key-box").hidden = true;
  }

  // ------------------------------------------------------------ create

  function loadCategories() {
    return api("GET", "/api/v1/categories").then(function (r) {
      if (r.status !== 200 || !r.body) return;
      var select = $("category");
      r.body.categories.forEach(function (/** @type {{ slug: string, name: string }} */ c) { select.appendChild(el("option", { value: c.slug }, c.name)); });
    });
  }

  $("create").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = /** @type {HTMLFormElement} */ (ev.target);
    /** @param {string} name */
    var field = function (name) { return /** @type {HTMLInputElement | HTMLSelectElement} */ (form.elements.namedItem(name)); };
    var errorEl = $("create-error");
    errorEl.textContent = "";
    /** @type {{ title: string, latency_mode: string, visibility: string, category?: string, tags?: string[] }} */
    var body = { title: field("title").value, latency_mode: field("latency_mode").value, visibility: field("visibility").value };
    var category = field("category").value;
    if (category) body.category = category;
    var tags = field("tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    if (tags.length) body.tags = tags;
    var button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
    button.disabled = true;
    api("POST", "/api/v1/streams", body)
      .then(function (r) {
        if (r.status === 401) return requireLogin();
        if (r.status !== 201) { errorEl.textContent = describeError(r); return; }
        form.reset();
        showKey(r.body.stream_id, body.title, r.body.stream_key, r.body.ingest_urls.rtmp, "Your new stream's key");
        watch(r.body.stream_id);
        return refreshStreams();
      })
      .catch(function (err) { errorEl.textContent = "Network error: " + err.message; })
      .then(function () { button.disabled = false; });
  });

  // ------------------------------------------------------------ my streams

  /** @param {string | null | undefined} iso */
  function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

  function refreshStreams() {
    clearTimeout(streamsTimer);
    return api("GET", "/api/v1/streams?limit=50&user=" + encodeURIComponent(/** @type {SignedIn} */ (session).user.username))
      .then(function (r) {
        if (r.status !== 200 || !r.body) { $("streams-error").textContent = describeError(r); return; }
        $("streams-error").textContent = "";
        renderStreams(r.body.streams);
      })
      .catch(function (err) { $("streams-error").textContent = "Network error: " + err.message; })
      .then(function () { streamsTimer = setTimeout(refreshStreams, STREAMS_POLL_MS); });
  }

  /** @param {StreamJson[]} streams */
  function renderStreams(streams) {
    var tbody = $("streams-body");
    tbody.textContent = "";
    $("no-streams").hidden = streams.length > 0;
    streams.forEach(function (s) {
      var tr = el("tr", { "data-stream-id": s.stream_id });
      var titleCell = el("td");
      titleCell.appendChild(el("div", null, s.title));
      titleCell.appendChild(el("div", { class: "muted" }, [s.visibility !== "public" ? s.visibility : null, s.category_name, (s.tags || []).join(", "), s.latency_mode + " latency"].filter(Boolean).join(" · ")));
      tr.appendChild(titleCell);
      tr.appendChild(el("td", { class: "status status-" + s.status }, s.status));
      tr.appendChild(el("td", null, s.viewer_count));
      tr.appendChild(el("td", { class: "muted" }, s.started_at ? "started " + fmtTime(s.started_at) : "created " + fmtTime(s.created_at)));
      var actions = el("td", { class: "actions" });
      var watchLink = el("a", { href: "/watch/" + encodeURIComponent(s.stream_id), target: "_blank", rel: "noopener" }, "Watch");
      var progress = el("button", { type: "button", class: "secondary" }, "Progress");
      progress.addEventListener("click", function () { watch(s.stream_id); });
      actions.appendChild(progress);
      if (s.status !== "ended") {
        var rotate = el("button", { type: "button", class: "secondary" }, "Rotate key");
        rotate.addEventListener("click", function () { rotateKey(s); });
        var stop = el("button", { type: "button", class: "danger" }, "Stop");
        stop.addEventListener("click", function () { stopStream(s); });
        actions.appendChild(rotate);
        actions.appendChild(stop);
      }
      actions.appendChild(watchLink);
      tr.appendChild(actions);
      tbody.appendChild(tr);
    });
  }

  /** @param {StreamJson} s */
  function rotateKey(s) {
    if (!confirm("Rotate the key of “" + s.title + "”? The current key stops working at once.")) return;
    api("POST", "/api/v1/streams/" + encodeURIComponent(s.stream_id) + "/key").then(function (r) {
      if (r.status !== 200) { $("streams-error").textContent = describeError(r); return; }
      showKey(s.stream_id, s.title, r.body.stream_key, r.body.ingest_urls.rtmp, "The new key (the old one no longer works)");
    });
  }

  /** @param {StreamJson} s */
  function stopStream(s) {
    if (!confirm("Stop “" + s.title + "”? An ended stream cannot go live again.")) return;
    api("POST", "/api/v1/streams/" + encodeURIComponent(s.stream_id) + "/stop").then(function (r) {
      if (r.status !== 200) $("streams-error").textContent = describeError(r);
      refreshStreams();
      if (watching === s.stream_id) pollSaga();
    });
  }

  // ------------------------------------------------------------ the go-live saga

  /** @param {string} id */
  function watch(id) {
    watching = id;
    $("saga").hidden = false;
    $("saga-id").textContent = id;
    $("saga-watch").setAttribute("href", "/watch/" + encodeURIComponent(id));
    pollSaga();
  }

  function pollSaga() {
    clearTimeout(sagaTimer);
    var id = watching;
    if (!id) return;
    api("GET", "/api/v1/streams/" + encodeURIComponent(id) + "/saga")
      .then(function (r) {
        if (id !== watching) return;
        if (r.status !== 200 || !r.body) { $("saga-error").textContent = describeError(r); return; }
        $("saga-error").textContent = "";
        renderSaga(r.body);
      })
      .catch(function (err) { $("saga-error").textContent = "Network error: " + err.message; })
      .then(function () { if (id === watching) sagaTimer = setTimeout(pollSaga, SAGA_POLL_MS); });
  }

  /** @param {any} s the saga (JSON from the API) */
  function renderSaga(s) {
    var statusEl = $("saga-status");
    statusEl.textContent = s.status;
    statusEl.className = "status status-" + s.status;
    $("saga-phase").textContent = s.phase || "not started (publish with the key to go live)";
    $("saga-step").textContent = s.step || "–";
    $("saga-node").textContent = s.node_id || "–";
    $("saga-completed").textContent = s.completed && s.completed.length ? s.completed.join(" → ") : "–";
    // monitor_stream: the node's encoder gave up after the stream went live (status failed).
    $("saga-failure").textContent = !s.failure ? "" : s.failure.step === "monitor_stream" ? "Failed on air: " + s.failure.error : "Go-live failed at " + s.failure.step + ": " + s.failure.error;
    var list = $("saga-history");
    list.textContent = "";
    (s.history || []).slice(-25).forEach(function (/** @type {any} */ h) {
      var li = el("li");
      li.appendChild(el("strong", null, h.stage));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(el("span", { class: "outcome-" + h.outcome }, h.outcome));
      var extra = [];
      if (typeof h.ms === "number") extra.push(h.ms + " ms");
      if (h.strategy) extra.push(h.strategy);
      if (h.detail) extra.push(h.detail);
      if (h.error) extra.push(h.error);
      if (h.at) extra.push(new Date(h.at).toLocaleTimeString());
      if (extra.length) li.appendChild(el("span", { class: "muted" }, " · " + extra.join(" · ")));
      list.appendChild(li);
    });
    $("saga-empty").hidden = (s.history || []).length > 0;
  }

  // ------------------------------------------------------------ start

  $("copy-server").addEventListener("click", function (ev) { copyFrom("obs-server", /** @type {HTMLElement} */ (ev.target)); });
  $("copy-key").addEventListener("click", function (ev) { copyFrom("obs-key", /** @type {HTMLElement} */ (ev.target)); });
  $("hide-key").addEventListener("click", hideKey);
  $("logout").addEventListener("click", function () { clearSession(); location.assign("/login"); });

  if (!session || !session.user || !session.user.username) requireLogin();
  else {
    $("who").textContent = session.user.username;
    api("GET", "/api/v1/me").then(function (r) {
      if (r.status === 401) return requireLogin();
      if (r.status === 200 && r.body && r.body.user) {
        /** @type {SignedIn} */ (session).user = r.body.user;
        $("who").textContent = r.body.user.username;
        if (r.body.user.role === "viewer") $("create-error").textContent = "A viewer account cannot create streams.";
      }
      loadCategories();
      refreshStreams();
    });
  }
})();
