import { LATENCY_MODES, TAGS_MAX, TITLE_MAX } from "../streams/model.ts";
import { appPage, CLIENT_PRELUDE } from "./app-shell.ts";

/** How often the page re-reads the saga of the stream it watches, and the list of streams (ms). */
export const SAGA_POLL_MS = 2000;
export const STREAMS_POLL_MS = 5000;

/**
 * The creator dashboard (`/creator`), all client-side with the bearer token from localStorage:
 * create a stream (`POST /api/v1/streams`), see its key once with the OBS settings and copy buttons,
 * list my streams (`GET /api/v1/streams?user=me`), rotate a key, stop a stream, and follow the go-live
 * saga (`GET /api/v1/streams/:id/saga`: status, phase, step, each step's outcome). A key lives only in
 * the DOM until "Hide" or a reload; it is never stored.
 */
const CREATOR_SCRIPT = String.raw`
  ${CLIENT_PRELUDE}

  var SAGA_POLL_MS = ${SAGA_POLL_MS};
  var STREAMS_POLL_MS = ${STREAMS_POLL_MS};
  var session = loadSession();
  var watching = null;      // the stream id whose saga is shown
  var sagaTimer = 0;
  var streamsTimer = 0;

  function requireLogin() {
    $("need-login").hidden = false;
    $("app").hidden = true;
    $("who-nav").hidden = true;
  }

  function flash(button, text) {
    var old = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", old);
    button.textContent = text;
    setTimeout(function () { button.textContent = old; }, 1500);
  }

  function copyFrom(inputId, button) {
    var input = $(inputId);
    var fallback = function () {
      input.hidden = false;
      input.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      flash(button, ok ? "Copied" : "Press Ctrl+C");
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(function () { flash(button, "Copied"); }, fallback);
    } else fallback();
  }

  // ------------------------------------------------------------ the key, shown once

  function showKey(streamId, title, key, server, why) {
    $("key-why").textContent = why;
    $("key-title").textContent = title || streamId;
    $("obs-server").value = server;
    $("obs-key").value = key;
    $("ffmpeg").textContent = "ffmpeg -re -i input.mp4 -c:v libx264 -preset veryfast -tune zerolatency -g 60 -keyint_min 60 -c:a aac -b:a 160k -ar 48000 -f flv " + server.replace(/\/+$/, "") + "/" + key;
    $("key-box").hidden = false;
    $("key-box").scrollIntoView({ behavior: "smooth", block: "start" });
  }

  function hideKey() {
    $("obs-key").value = "";
    $("ffmpeg").textContent = "";
    $("key-box").hidden = true;
  }

  // ------------------------------------------------------------ create

  function loadCategories() {
    return api("GET", "/api/v1/categories").then(function (r) {
      if (r.status !== 200 || !r.body) return;
      var select = $("category");
      r.body.categories.forEach(function (c) { select.appendChild(el("option", { value: c.slug }, c.name)); });
    });
  }

  $("create").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var form = ev.target;
    var errorEl = $("create-error");
    errorEl.textContent = "";
    var body = { title: form.elements.namedItem("title").value, latency_mode: form.elements.namedItem("latency_mode").value, visibility: form.elements.namedItem("visibility").value };
    var category = form.elements.namedItem("category").value;
    if (category) body.category = category;
    var tags = form.elements.namedItem("tags").value.split(",").map(function (t) { return t.trim(); }).filter(Boolean);
    if (tags.length) body.tags = tags;
    var button = form.querySelector("button[type=submit]");
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

  function fmtTime(iso) { return iso ? new Date(iso).toLocaleString() : "–"; }

  function refreshStreams() {
    clearTimeout(streamsTimer);
    return api("GET", "/api/v1/streams?limit=50&user=" + encodeURIComponent(session.user.username))
      .then(function (r) {
        if (r.status !== 200 || !r.body) { $("streams-error").textContent = describeError(r); return; }
        $("streams-error").textContent = "";
        renderStreams(r.body.streams);
      })
      .catch(function (err) { $("streams-error").textContent = "Network error: " + err.message; })
      .then(function () { streamsTimer = setTimeout(refreshStreams, STREAMS_POLL_MS); });
  }

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

  function rotateKey(s) {
    if (!confirm("Rotate the key of “" + s.title + "”? The current key stops working at once.")) return;
    api("POST", "/api/v1/streams/" + encodeURIComponent(s.stream_id) + "/key").then(function (r) {
      if (r.status !== 200) { $("streams-error").textContent = describeError(r); return; }
      showKey(s.stream_id, s.title, r.body.stream_key, r.body.ingest_urls.rtmp, "The new key (the old one no longer works)");
    });
  }

  function stopStream(s) {
    if (!confirm("Stop “" + s.title + "”? An ended stream cannot go live again.")) return;
    api("POST", "/api/v1/streams/" + encodeURIComponent(s.stream_id) + "/stop").then(function (r) {
      if (r.status !== 200) $("streams-error").textContent = describeError(r);
      refreshStreams();
      if (watching === s.stream_id) pollSaga();
    });
  }

  // ------------------------------------------------------------ the go-live saga

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
    (s.history || []).slice(-25).forEach(function (h) {
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

  $("copy-server").addEventListener("click", function (ev) { copyFrom("obs-server", ev.target); });
  $("copy-key").addEventListener("click", function (ev) { copyFrom("obs-key", ev.target); });
  $("hide-key").addEventListener("click", hideKey);
  $("logout").addEventListener("click", function () { clearSession(); location.assign("/login"); });

  if (!session || !session.user || !session.user.username) requireLogin();
  else {
    $("who").textContent = session.user.username;
    api("GET", "/api/v1/me").then(function (r) {
      if (r.status === 401) return requireLogin();
      if (r.status === 200 && r.body && r.body.user) {
        session.user = r.body.user;
        $("who").textContent = r.body.user.username;
        if (r.body.user.role === "viewer") $("create-error").textContent = "A viewer account cannot create streams.";
      }
      loadCategories();
      refreshStreams();
    });
  }
`;

const latencyOptions = LATENCY_MODES.map((m) => `<option value="${m}"${m === "low" ? " selected" : ""}>${m === "low" ? "Low latency (LL-HLS, ~2–3 s)" : "Standard"}</option>`).join("");

const BODY = `<nav class="top"><a href="/">Directory</a><span id="who-nav">Signed in as <strong id="who"></strong> <button type="button" class="secondary" id="logout">Log out</button></span></nav>
<h1>Creator dashboard</h1>
<p class="sub">Create a stream, point OBS at it, and watch it go live.</p>
<section id="need-login" hidden>
<p>You need to be signed in. <a href="/login?next=%2Fcreator">Sign up or log in →</a></p>
</section>
<div id="app">
<form class="card" id="create" novalidate>
<h2>New stream</h2>
<label>Title <input name="title" required maxlength="${TITLE_MAX}" placeholder="What are you streaming?"></label>
<div class="cols">
<label>Category <select name="category" id="category"><option value="">No category</option></select></label>
<label>Latency <select name="latency_mode">${latencyOptions}</select></label>
<label>Visibility <select name="visibility"><option value="public">Public (listed)</option><option value="unlisted">Unlisted (anyone with the link)</option><option value="private">Private (signed links only)</option></select></label>
</div>
<label>Tags <input name="tags" placeholder="comma-separated, up to ${TAGS_MAX}: speedrun, english" spellcheck="false" autocapitalize="none"></label>
<button type="submit">Create stream</button>
<p class="error" id="create-error" role="alert"></p>
</form>
<section id="key-box" class="secret" hidden aria-live="polite">
<h2><span id="key-why"></span>: <span id="key-title"></span></h2>
<p><strong>This key is shown only now.</strong> Copy it into OBS; anyone who has it can stream as you. Lost it? Rotate the key.</p>
<div class="row"><label>Server <input id="obs-server" readonly></label><button type="button" class="secondary" id="copy-server">Copy</button></div>
<div class="row"><label>Stream Key <input id="obs-key" readonly autocomplete="off" spellcheck="false"></label><button type="button" class="secondary" id="copy-key">Copy</button></div>
<dl class="obs">
<dt>OBS → Settings → Stream</dt><dd>Service <strong>Custom…</strong>, Server and Stream Key as above</dd>
<dt>Output (Advanced)</dt><dd>Encoder x264 (or NVENC), Rate control CBR, Bitrate 4000–6000 Kbps</dd>
<dt>Keyframe interval</dt><dd><strong>2 s</strong></dd>
<dt>x264</dt><dd>CPU preset veryfast, Profile high, Tune zerolatency</dd>
<dt>Audio</dt><dd>AAC 160 kb/s, 48 kHz</dd>
<dt>Video</dt><dd>1280x720 or 1920x1080, 30 fps</dd>
<dt>ffmpeg instead</dt><dd><code id="ffmpeg"></code></dd>
</dl>
<p><button type="button" id="hide-key">I have saved it: hide the key</button></p>
</section>
<section id="saga" hidden>
<h2>Go-live progress: <code id="saga-id"></code> <a id="saga-watch" href="/" target="_blank" rel="noopener">watch</a></h2>
<dl class="obs">
<dt>Status</dt><dd><span id="saga-status" class="status"></span></dd>
<dt>Saga phase</dt><dd id="saga-phase"></dd>
<dt>Next step</dt><dd id="saga-step"></dd>
<dt>Completed</dt><dd id="saga-completed"></dd>
<dt>Node</dt><dd id="saga-node"></dd>
</dl>
<p class="error" id="saga-failure"></p>
<ol class="steps" id="saga-history"></ol>
<p class="muted" id="saga-empty">No steps yet: start publishing with the stream key and the saga begins.</p>
<p class="error" id="saga-error" role="alert"></p>
</section>
<section>
<h2>My streams</h2>
<table>
<thead><tr><th>Stream</th><th>Status</th><th>Viewers</th><th>When</th><th></th></tr></thead>
<tbody id="streams-body"></tbody>
</table>
<p class="muted" id="no-streams" hidden>No streams yet.</p>
<p class="error" id="streams-error" role="alert"></p>
</section>
</div>`;

export const creatorPage = (options: { nonce: string }): string => appPage("Creator dashboard · Cascade", BODY, CREATOR_SCRIPT, options.nonce);
