import { CHAT_STYLE, chatPaneMarkup, chatPaneScript } from "./chat-pane.ts";
import { HLS_JS_PATH } from "./hls-asset.ts";
import { escapeHtml, scriptJson } from "./html.ts";
import { SESSION_STORAGE_KEY } from "./app-shell.ts";
import { PLAYBACK_TTL_MAX_S } from "../../shared/playback-token.ts";

/**
 * The player page's logic, a plain browser script (no build step). It runs after hls.js and reads
 * the stream id from `STREAM_ID`: the page wraps it in a function called with the id as a JSON literal.
 *
 * State for people and for tests: `window.cascadePlayer` =
 *   { state: "loading"|"playing"|"offline"|"ended"|"error", latency: seconds|null, stalls, level,
 *     errors: [{ at, type, details, fatal, code }], engine: "hls.js"|"native"|null, lowLatencyMode,
 *     partTarget, targetLatency, liveJumps, stats,
 *     dvr: true while the viewer is rewound on purpose (no automatic catch-up), behindLive: seconds
 *     behind the live sync point, dvrWindow: { start, end } media seconds the playlist covers }
 * `window.cascadePlayer.hls` is the hls.js instance (not enumerable, so the object serialises).
 */
const PLAYER_SCRIPT = String.raw`
  "use strict";
  var SRC = PLAYBACK.src || "/hls/" + encodeURIComponent(STREAM_ID) + "/master.m3u8";
  var OFFLINE_RETRY_MS = 4000;
  var MAX_ERRORS_KEPT = 50;

  var $ = function (id) { return document.getElementById(id); };
  var video = $("video");
  var messageEl = $("message");
  var latencyEl = $("latency");
  var qualityEl = $("quality");
  var unmuteEl = $("unmute");
  var playEl = $("play");
  var statsEl = $("stats");
  var statsToggleEl = $("stats-toggle");
  var badgeEl = $("badge");
  var goLiveEl = $("golive");
  var behindEl = $("behind");
  var BADGES = { loading: "LIVE", playing: "LIVE", offline: "OFFLINE", ended: "ENDED", error: "LIVE", private: "PRIVATE" };

  var player = {
    state: "loading",
    latency: null,
    stalls: 0,
    level: null,
    errors: [],
    engine: null,
    lowLatencyMode: null,
    partTarget: null,
    targetLatency: null,
    liveJumps: 0,
    stats: null,
    dvr: false,
    behindLive: null,
    dvrWindow: null
  };
  Object.defineProperty(player, "hls", { value: null, writable: true, enumerable: false });
  window.cascadePlayer = player;

  var hls = null;          // the hls.js instance, when hls.js plays
  var retryTimer = 0;      // pending restart / offline poll / network retry
  var everPlayed = false;  // the first "playing" of this page: stalls count after it
  var endlist = false;     // the media playlist carries EXT-X-ENDLIST
  var reloads = 0;         // consecutive full reloads without reaching "playing" (backoff)
  var networkRetries = 0;  // consecutive hls.startLoad() retries without new media
  var mediaRecoveries = 0; // media error recoveries in the current window
  var lastMediaRecovery = 0;
  var lastProgress = { time: -1, at: 0 };
  var behindTicks = 0;     // consecutive seconds spent far behind the live sync point
  var GO_LIVE_TDS = 3;     // "Go live" shows once more than this many target durations behind live

  // ---------------------------------------------------------------- state and messages

  function setState(state, message) {
    player.state = state;
    document.body.setAttribute("data-state", state);
    badgeEl.textContent = BADGES[state];
    messageEl.textContent = message || "";
    messageEl.hidden = !message;
    if (state !== "playing") {
      player.latency = null;
      latencyEl.textContent = "–";
    }
  }

  function recordError(type, details, fatal, code) {
    player.errors.push({ at: new Date().toISOString(), type: String(type), details: String(details), fatal: !!fatal, code: code == null ? null : code });
    if (player.errors.length > MAX_ERRORS_KEPT) player.errors.splice(0, player.errors.length - MAX_ERRORS_KEPT);
  }

  function backoffMs(attempt) {
    return Math.min(1000 * Math.pow(2, attempt), 15000) + Math.floor(Math.random() * 500);
  }

  function schedule(fn, ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(fn, ms);
  }

  // ---------------------------------------------------------------- start, offline, reload

  function teardown() {
    clearTimeout(retryTimer);
    if (hls) {
      hls.destroy();
      hls = null;
      player.hls = null;
    }
    if (player.engine === "native") {
      video.removeAttribute("src");
      video.load();
    }
    endlist = false;
    lastProgress = { time: -1, at: 0 };
    setDvr(false);
  }

  /** Looks at the multivariant playlist first: 404 means the stream is not live (yet). */
  function start() {
    teardown();
    if (player.state !== "offline") setState("loading", "Loading…");
    fetch(SRC, { cache: "no-store" }).then(function (res) {
      if (res.body) res.body.cancel().catch(function () {}); // only the status matters here
      if (res.status === 404) {
        setState("offline", "This stream is offline. Waiting for it to start…");
        schedule(start, OFFLINE_RETRY_MS);
        return;
      }
      if (res.status === 403) { setState("private", PLAYBACK.expiredMessage); return; }
      if (!res.ok) throw new Error("HTTP " + res.status);
      if (player.state === "offline") setState("loading", "The stream is starting…");
      attach();
    }).catch(function (err) {
      recordError("networkError", "probe: " + (err && err.message), true, null);
      reload("Cannot reach the stream — retrying");
    });
  }

  /** Full restart with backoff: new hls.js instance (or new native source), playlists from scratch. */
  function reload(reason) {
    if (hls) hls.stopLoad();
    var delay = backoffMs(reloads++);
    setState("error", reason + " in " + Math.round(delay / 1000) + " s…");
    schedule(start, delay);
  }

  function ended() {
    clearTimeout(retryTimer);
    if (hls) hls.stopLoad();
    setState("ended", "The stream has ended.");
    // Not from inside an hls.js event handler: destroy on the next turn.
    schedule(teardown, 0);
  }

  function attach() {
    if (window.Hls && Hls.isSupported()) attachHlsJs();
    else if (video.canPlayType("application/vnd.apple.mpegurl")) attachNative();
    else setState("error", "This browser cannot play HLS (no Media Source Extensions).");
  }

  // ---------------------------------------------------------------- hls.js

  function attachHlsJs() {
    player.engine = "hls.js";
    hls = new Hls({
      lowLatencyMode: true,
      // Catch up (up to 1.5x) after a stall instead of staying behind the live edge.
      maxLiveSyncPlaybackRate: 1.5,
      backBufferLength: 30
    });
    player.hls = hls;
    player.lowLatencyMode = hls.lowLatencyMode;

    hls.on(Hls.Events.MANIFEST_PARSED, function () {
      fillQualities();
      tryPlay();
    });
    hls.on(Hls.Events.LEVELS_UPDATED, fillQualities);
    hls.on(Hls.Events.LEVEL_SWITCHED, updateLevel);
    hls.on(Hls.Events.LEVEL_LOADED, function (_event, data) {
      var details = data.details;
      player.partTarget = details.partTarget || null;
      if (details.live || endlist) return;
      // Joined after the end: there is nothing live to play.
      if (!everPlayed) ended();
      else checkRenditionEnded(data.level);
    });
    hls.on(Hls.Events.FRAG_BUFFERED, function () { networkRetries = 0; });
    hls.on(Hls.Events.ERROR, onHlsError);

    hls.loadSource(SRC);
    hls.attachMedia(video);
  }

  /**
   * A media playlist got EXT-X-ENDLIST: either the stream ended, or the transcoder dropped this rung
   * (its real-time guard) and the others go on. The multivariant playlist tells them apart: it lists
   * only the renditions still live until the stream ends. A dropped rung is removed from hls.js's
   * levels (automatic selection takes over if it was playing); a real end plays out to "ended".
   */
  var checkingEnd = false;
  function checkRenditionEnded(index) {
    if (checkingEnd) return;
    checkingEnd = true;
    var instance = hls;
    var level = hls.levels[index];
    var masterUrl = new URL(SRC, location.href);
    fetch(masterUrl.href, { cache: "no-store" }).then(function (res) {
      return res.ok ? res.text() : null;
    }).then(function (text) {
      checkingEnd = false;
      if (hls !== instance) return;
      var listed = text !== null && !!level && text.split("\n").some(function (line) {
        line = line.trim();
        return line !== "" && line.charAt(0) !== "#" && new URL(line, masterUrl).pathname === new URL(level.url, masterUrl).pathname;
      });
      var i = hls.levels.indexOf(level);
      if (text !== null && !listed && i >= 0 && hls.levels.length > 1) {
        recordError("otherError", "renditionEnded " + levelLabel(level), false, null);
        var wasPlaying = hls.currentLevel === i;
        hls.removeLevel(i);
        if (wasPlaying) hls.nextLevel = -1;
        fillQualities();
        return;
      }
      endlist = true;
    }).catch(function () {
      checkingEnd = false;
      if (hls === instance) endlist = true;
    });
  }

  function onHlsError(_event, data) {
    var code = data.response && typeof data.response.code === "number" ? data.response.code : null;
    recordError(data.type, data.details, data.fatal, code);
    if (!data.fatal) return;
    var E = Hls.ErrorDetails;
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      var playlist = data.details === E.MANIFEST_LOAD_ERROR || data.details === E.LEVEL_LOAD_ERROR || data.details === E.AUDIO_TRACK_LOAD_ERROR;
      if (playlist && code === 404) {
        // The stream went away (or never was): the probe in start() decides between offline and live.
        hls.stopLoad();
        setState("offline", "This stream is offline. Waiting for it to start…");
        schedule(start, OFFLINE_RETRY_MS);
        return;
      }
      if (data.details === E.MANIFEST_LOAD_ERROR || data.details === E.MANIFEST_LOAD_TIMEOUT || data.details === E.MANIFEST_PARSING_ERROR || networkRetries >= 3) {
        reload("Network error — reconnecting");
        return;
      }
      var delay = backoffMs(networkRetries++);
      setState("error", "Network error — retrying in " + Math.round(delay / 1000) + " s…");
      var instance = hls;
      schedule(function () {
        if (hls !== instance) return;
        setState("loading", "Reconnecting…");
        hls.startLoad();
        tryPlay();
      }, delay);
      return;
    }
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
      recoverMedia();
      return;
    }
    reload("Playback error — restarting");
  }

  /** recoverMediaError(), then swapAudioCodec() + recoverMediaError(), then a full reload. */
  function recoverMedia() {
    var now = Date.now();
    if (now - lastMediaRecovery > 10000) mediaRecoveries = 0;
    lastMediaRecovery = now;
    mediaRecoveries++;
    if (mediaRecoveries === 1) {
      hls.recoverMediaError();
    } else if (mediaRecoveries === 2) {
      hls.swapAudioCodec();
      hls.recoverMediaError();
    } else {
      mediaRecoveries = 0;
      reload("Media error — restarting");
      return;
    }
    tryPlay();
  }

  // ---------------------------------------------------------------- native HLS (Safari)

  function attachNative() {
    player.engine = "native";
    player.lowLatencyMode = null;
    video.src = SRC;
    tryPlay();
  }

  video.addEventListener("error", function () {
    if (player.engine !== "native" || !video.getAttribute("src")) return;
    var err = video.error;
    recordError("mediaError", "native: " + (err ? err.code + " " + (err.message || "") : "unknown"), true, null);
    reload("Playback error — restarting");
  });

  // ---------------------------------------------------------------- playback events

  function tryPlay() {
    var p = video.play();
    if (p && p.catch) {
      p.then(function () { playEl.hidden = true; }).catch(function (err) {
        // Autoplay refused even muted (or interrupted by a reload): offer a button.
        if (err && err.name === "NotAllowedError") playEl.hidden = false;
      });
    }
  }

  video.addEventListener("playing", function () {
    everPlayed = true;
    reloads = 0;
    playEl.hidden = true;
    if (player.state !== "playing") setState("playing", "");
    messageEl.hidden = true;
  });

  video.addEventListener("waiting", function () {
    if (!everPlayed || player.state !== "playing") return;
    player.stalls++;
    messageEl.textContent = "Buffering…";
    messageEl.hidden = false;
  });

  video.addEventListener("ended", function () {
    if (player.state === "playing" || endlist) ended();
  });

  video.addEventListener("volumechange", updateMuteButton);

  playEl.addEventListener("click", function () { tryPlay(); });

  unmuteEl.addEventListener("click", function () {
    video.muted = !video.muted;
    if (!video.muted && video.volume === 0) video.volume = 1;
    if (video.paused) tryPlay();
  });

  function updateMuteButton() {
    unmuteEl.textContent = video.muted ? "Unmute" : "Mute";
    unmuteEl.setAttribute("aria-pressed", video.muted ? "false" : "true");
  }

  // ---------------------------------------------------------------- quality selection

  function levelLabel(level) {
    var parts = [];
    if (level.height) parts.push(level.height + "p");
    if (level.bitrate) parts.push(Math.round(level.bitrate / 1000) + " kb/s");
    return parts.join(" · ") || (level.name || "level");
  }

  function fillQualities() {
    if (!hls) return;
    while (qualityEl.firstChild) qualityEl.removeChild(qualityEl.firstChild);
    var auto = document.createElement("option");
    auto.value = "-1";
    auto.textContent = "Auto";
    qualityEl.appendChild(auto);
    // Highest first, the way quality menus usually read.
    var order = hls.levels.map(function (level, index) { return { level: level, index: index }; });
    order.sort(function (a, b) { return (b.level.bitrate || 0) - (a.level.bitrate || 0); });
    order.forEach(function (entry) {
      var option = document.createElement("option");
      option.value = String(entry.index);
      option.textContent = levelLabel(entry.level);
      qualityEl.appendChild(option);
    });
    qualityEl.value = hls.autoLevelEnabled ? "-1" : String(hls.manualLevel);
    qualityEl.disabled = false;
    updateLevel();
  }

  qualityEl.addEventListener("change", function () {
    if (!hls) return;
    // nextLevel switches as soon as possible without interrupting playback; -1 is automatic.
    hls.nextLevel = Number(qualityEl.value);
    updateLevel();
  });

  function updateLevel() {
    if (!hls) return;
    var index = hls.currentLevel;
    var level = index >= 0 ? hls.levels[index] : null;
    player.level = level ? { index: index, auto: hls.autoLevelEnabled, width: level.width || null, height: level.height || null, bitrate: level.bitrate || null } : null;
    var auto = qualityEl.querySelector('option[value="-1"]');
    if (auto) auto.textContent = hls.autoLevelEnabled && level ? "Auto (" + levelLabel(level) + ")" : "Auto";
  }

  // ---------------------------------------------------------------- DVR: rewind and Go live

  /**
   * The playlists carry the stream's DVR window (hours, see core-origin), and hls.js sets the media
   * duration to its end, so the native seek bar scrubs over it. A seek (bar, keyboard) that lands
   * behind the live sync point, or a pause, means the viewer rewound on purpose: no automatic
   * catch-up until they come back (a seek near live, or Go live). hls.js's own seeks (start
   * position, sync to the live edge) land at the sync point and leave DVR mode.
   */
  function setDvr(on) {
    player.dvr = !!on;
    if (!on) behindTicks = 0;
    updateDvrUi();
  }

  video.addEventListener("seeking", function () {
    if (!hls || endlist) return;
    var sync = hls.liveSyncPosition;
    if (sync == null) return;
    setDvr(video.currentTime < sync - LIVE_JUMP_S);
  });

  video.addEventListener("pause", function () {
    // Pausing a live stream time-shifts it: play resumes where it stopped.
    if (hls && everPlayed && !endlist && player.state === "playing") setDvr(true);
  });

  function goLive() {
    if (!hls) return;
    var sync = hls.liveSyncPosition;
    setDvr(false);
    if (sync != null) video.currentTime = sync;
    if (video.paused) tryPlay();
  }

  goLiveEl.addEventListener("click", goLive);

  function fmtClock(seconds) {
    var s = Math.max(0, Math.round(seconds));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    return (h > 0 ? h + ":" + (m < 10 ? "0" : "") : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
  }

  /** Behind-live readout and the Go live button, from hls.js's live sync point and the playlist's window. */
  function updateDvrUi() {
    var details = hls ? hls.latestLevelDetails : null;
    var sync = hls ? hls.liveSyncPosition : null;
    var live = !!details && details.live && !endlist;
    player.dvrWindow = live ? { start: Math.round(details.fragmentStart * 10) / 10, end: Math.round(details.edge * 10) / 10 } : null;
    player.behindLive = live && sync != null && player.state === "playing" ? Math.max(0, Math.round((sync - video.currentTime) * 10) / 10) : null;
    var td = details && details.targetduration ? details.targetduration : 2;
    var far = player.behindLive != null && player.behindLive > GO_LIVE_TDS * td;
    goLiveEl.hidden = !far;
    behindEl.hidden = !far;
    behindEl.textContent = far ? "−" + fmtClock(player.behindLive) + " behind live" : "";
    document.body.setAttribute("data-behind", far ? "1" : "0");
  }

  // ---------------------------------------------------------------- latency and stats, once a second

  function playingDate() {
    if (hls) return hls.playingDate;
    if (player.engine === "native" && typeof video.getStartDate === "function") {
      var start = video.getStartDate().getTime();
      if (isFinite(start)) return new Date(start + video.currentTime * 1000);
    }
    return null;
  }

  /**
   * hls.js speeds up (maxLiveSyncPlaybackRate) only within one target duration of its target
   * latency; further behind (after a long stall or a network outage) it treats playback as DVR.
   * A live player should not stay there: after 2 s more than LIVE_JUMP_S behind, jump to the live point.
   */
  var LIVE_JUMP_S = 3;
  function catchUp() {
    if (!hls || endlist || video.paused || player.dvr) { behindTicks = 0; return; }
    var sync = hls.liveSyncPosition;
    if (sync == null || !(video.currentTime < sync - LIVE_JUMP_S)) { behindTicks = 0; return; }
    if (++behindTicks < 2) return;
    behindTicks = 0;
    player.liveJumps++;
    video.currentTime = sync;
  }

  function bufferAhead() {
    var t = video.currentTime;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t + 0.1 && t < video.buffered.end(i)) return video.buffered.end(i) - t;
    }
    return 0;
  }

  function fmtBits(bps) {
    if (!bps || !isFinite(bps)) return "–";
    return bps >= 1e6 ? (bps / 1e6).toFixed(2) + " Mb/s" : Math.round(bps / 1e3) + " kb/s";
  }

  function tick() {
    var moved = video.currentTime !== lastProgress.time;
    if (moved) lastProgress = { time: video.currentTime, at: Date.now() };
    // Recovered without a new "playing" event (the buffer outlasted a network retry): playing again.
    if ((player.state === "loading" || player.state === "error") && everPlayed && moved && !video.paused && video.readyState >= 3 && (hls || player.engine === "native")) setState("playing", "");
    if (player.state === "playing") {
      var date = playingDate();
      if (date) {
        player.latency = Math.round(Date.now() - date.getTime()) / 1000;
        latencyEl.textContent = player.latency.toFixed(1) + " s";
      }
      // ENDLIST seen and the playhead no longer moves: the end of the stream (if "ended" never fires).
      if (endlist && !moved && !video.paused && Date.now() - lastProgress.at > 4000) ended();
      catchUp();
    }
    if (hls) player.targetLatency = hls.targetLatency;
    updateDvrUi();

    var quality = typeof video.getVideoPlaybackQuality === "function" ? video.getVideoPlaybackQuality() : null;
    var level = player.level;
    var stats = {
      bufferAhead: Math.round(bufferAhead() * 100) / 100,
      width: video.videoWidth || null,
      height: video.videoHeight || null,
      bitrate: level ? level.bitrate : null,
      bandwidthEstimate: hls && isFinite(hls.bandwidthEstimate) ? Math.round(hls.bandwidthEstimate) : null,
      droppedFrames: quality ? quality.droppedVideoFrames : null,
      totalFrames: quality ? quality.totalVideoFrames : null,
      playbackRate: video.playbackRate
    };
    player.stats = stats;
    if (!statsEl.hidden) {
      var rows = [
        ["Buffer ahead", stats.bufferAhead.toFixed(2) + " s"],
        ["Level", (level ? levelLabel(level) : "–") + (hls && hls.autoLevelEnabled ? " (auto)" : "")],
        ["Resolution", stats.width ? stats.width + "×" + stats.height : "–"],
        ["Bandwidth est.", fmtBits(stats.bandwidthEstimate)],
        ["Dropped frames", quality ? stats.droppedFrames + " / " + stats.totalFrames : "–"],
        ["Target latency", player.targetLatency != null ? player.targetLatency.toFixed(1) + " s" : "–"],
        ["Playback rate", stats.playbackRate.toFixed(2) + "×"],
        ["Stalls", String(player.stalls)],
        ["Engine", (player.engine || "–") + (player.lowLatencyMode ? " (low latency)" : "")]
      ];
      statsEl.textContent = rows.map(function (r) { return r[0] + ": " + r[1]; }).join("\n");
    }
  }

  statsToggleEl.addEventListener("click", function () {
    statsEl.hidden = !statsEl.hidden;
    statsToggleEl.setAttribute("aria-pressed", statsEl.hidden ? "false" : "true");
    tick();
  });

  setInterval(tick, 1000);
  updateMuteButton();
  if (PLAYBACK.gate) privateStart();
  else start();
`;

/**
 * A private stream reached without a valid signed URL: the page says so, and when the visitor is
 * signed in (the session in localStorage, as on every page) asks the API for a signed URL, which
 * only the owner and admins get; then it plays as usual.
 */
const PRIVATE_SCRIPT = String.raw`
  function privateStart() {
    setState("private", PLAYBACK.gate);
    var session = null;
    try { session = JSON.parse(localStorage.getItem(PLAYBACK.sessionKey) || "null"); } catch (e) { session = null; }
    if (!session || !session.token || !PLAYBACK.askOwner) return;
    fetch("/api/v1/streams/" + encodeURIComponent(STREAM_ID) + "/playback-token", {
      method: "POST",
      headers: { authorization: "Bearer " + session.token, "content-type": "application/json" },
      body: JSON.stringify({ ttl_s: PLAYBACK.ownerTtl })
    }).then(function (res) {
      return res.ok ? res.json() : null;
    }).then(function (body) {
      if (!body || typeof body.url !== "string") return;
      SRC = body.url;
      start();
    }).catch(function (err) { recordError("networkError", "playback token: " + (err && err.message), false, null); });
  }
`;

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

const playbackJson = (p: WatchPlayback = { kind: "public" }): string =>
  scriptJson({
    src: p.kind === "signed" ? p.src : null,
    gate: p.kind === "private" ? p.message : null,
    askOwner: p.kind === "private" && p.askOwner,
    sessionKey: SESSION_STORAGE_KEY,
    ownerTtl: PLAYBACK_TTL_MAX_S,
    // What a 403 from the playlist means here: a signed URL past its expiry, or a stream made private meanwhile.
    expiredMessage: p.kind === "public" ? "This stream is private." : "This playback link has expired. Ask the broadcaster for a new one.",
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
<script src="${escapeHtml(HLS_JS_PATH)}"></script>
<script${nonce}>
(function (STREAM_ID, PLAYBACK) {${PLAYER_SCRIPT}${PRIVATE_SCRIPT}})(${scriptJson(streamId)}, ${playbackJson(options.playback)});
</script>
<script${nonce}>
${chatPaneScript(streamId, options.playback?.kind === "signed" ? options.playback.token : null)}
</script>
</body>
</html>
`;
};
