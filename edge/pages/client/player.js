/**
 * The player page's logic, after hls.js (a script element of its own) and the prelude (prelude.js).
 * The stream and how to play it come from the page's data island (page-data.ts, WatchPageData).
 *
 * State for people and for tests: `window.cascadePlayer` =
 *   { state: "loading"|"playing"|"offline"|"ended"|"error"|"private", latency: seconds|null, stalls, level,
 *     errors: [{ at, type, details, fatal, code }], engine: "hls.js"|"native"|null, lowLatencyMode,
 *     partTarget, targetLatency, liveJumps, stats,
 *     dvr: true while the viewer is rewound on purpose (no automatic catch-up), behindLive: seconds
 *     behind the live sync point, dvrWindow: { start, end } media seconds the playlist covers }
 * `window.cascadePlayer.hls` is the hls.js instance (not enumerable, so the object serialises).
 */
(function () {
  "use strict";
  var DATA = /** @type {import("./page-data.ts").WatchPageData} */ (PAGE);
  var STREAM_ID = DATA.streamId;
  var PLAYBACK = DATA.playback;
  var SRC = PLAYBACK.src || "/hls/" + encodeURIComponent(STREAM_ID) + "/master.m3u8";
  var OFFLINE_RETRY_MS = 4000;
  var MAX_ERRORS_KEPT = 50;

  var video = /** @type {HTMLVideoElement} */ ($("video"));
  var messageEl = $("message");
  var latencyEl = $("latency");
  var qualityEl = /** @type {HTMLSelectElement} */ ($("quality"));
  var unmuteEl = $("unmute");
  var playEl = $("play");
  var statsEl = $("stats");
  var statsToggleEl = $("stats-toggle");
  var badgeEl = $("badge");
  var goLiveEl = $("golive");
  var behindEl = $("behind");
  var BADGES = { loading: "LIVE", playing: "LIVE", offline: "OFFLINE", ended: "ENDED", error: "LIVE", private: "PRIVATE" };

  /** @type {PlayerState} */
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

  /** @typedef {import("hls.js").default} HlsPlayer */
  /** @type {HlsPlayer | null} */
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

  /**
   * @param {PlayerState["state"]} state
   * @param {string} [message]
   */
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

  /**
   * @param {unknown} type
   * @param {unknown} details
   * @param {boolean} fatal
   * @param {number | null} code
   */
  function recordError(type, details, fatal, code) {
    player.errors.push({ at: new Date().toISOString(), type: String(type), details: String(details), fatal: !!fatal, code: code == null ? null : code });
    if (player.errors.length > MAX_ERRORS_KEPT) player.errors.splice(0, player.errors.length - MAX_ERRORS_KEPT);
  }

  /** @param {number} attempt */
  function backoffMs(attempt) {
    return Math.min(1000 * Math.pow(2, attempt), 15000) + Math.floor(Math.random() * 500);
  }

  /**
   * @param {() => void} fn
   * @param {number} ms
   */
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
  /** @param {string} reason */
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
  /** @param {number} index */
  function checkRenditionEnded(index) {
    if (checkingEnd) return;
    checkingEnd = true;
    var instance = /** @type {HlsPlayer} */ (hls);
    var level = instance.levels[index];
    var masterUrl = new URL(SRC, location.href);
    fetch(masterUrl.href, { cache: "no-store" }).then(function (res) {
      return res.ok ? res.text() : null;
    }).then(function (text) {
      checkingEnd = false;
      if (hls !== instance) return;
      var listed = text !== null && !!level && text.split("\n").some(function (line) {
        line = line.trim();
        return line !== "" && line.charAt(0) !== "#" && new URL(line, masterUrl).pathname === new URL(/** @type {import("hls.js").Level} */ (level).uri, masterUrl).pathname;
      });
      var i = level ? instance.levels.indexOf(level) : -1;
      if (text !== null && !listed && level && i >= 0 && instance.levels.length > 1) {
        recordError("otherError", "renditionEnded " + levelLabel(level), false, null);
        var wasPlaying = instance.currentLevel === i;
        instance.removeLevel(i);
        if (wasPlaying) instance.nextLevel = -1;
        fillQualities();
        return;
      }
      endlist = true;
    }).catch(function () {
      checkingEnd = false;
      if (hls === instance) endlist = true;
    });
  }

  /**
   * @param {string} _event
   * @param {import("hls.js").ErrorData} data
   */
  function onHlsError(_event, data) {
    var code = data.response && typeof data.response.code === "number" ? data.response.code : null;
    recordError(data.type, data.details, data.fatal, code);
    if (!data.fatal) return;
    var E = Hls.ErrorDetails;
    var h = /** @type {HlsPlayer} */ (hls); // errors come from the live instance
    if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
      var playlist = data.details === E.MANIFEST_LOAD_ERROR || data.details === E.LEVEL_LOAD_ERROR || data.details === E.AUDIO_TRACK_LOAD_ERROR;
      if (playlist && code === 404) {
        // The stream went away (or never was): the probe in start() decides between offline and live.
        h.stopLoad();
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
      var instance = h;
      schedule(function () {
        if (hls !== instance) return;
        setState("loading", "Reconnecting…");
        instance.startLoad();
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
    var h = /** @type {HlsPlayer} */ (hls); // after a media error of the live instance
    if (mediaRecoveries === 1) {
      h.recoverMediaError();
    } else if (mediaRecoveries === 2) {
      h.swapAudioCodec();
      h.recoverMediaError();
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
    // Older browsers return nothing from play().
    var p = /** @type {Promise<void> | undefined} */ (video.play());
    if (p) {
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

  /** @param {{ height?: number | null, bitrate?: number | null, name?: string }} level */
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
  /** @param {boolean} on */
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

  /** @param {number} seconds */
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
    player.dvrWindow = live && details ? { start: Math.round(details.fragmentStart * 10) / 10, end: Math.round(details.edge * 10) / 10 } : null;
    player.behindLive = live && sync != null && player.state === "playing" ? Math.max(0, Math.round((sync - video.currentTime) * 10) / 10) : null;
    var td = details && details.targetduration ? details.targetduration : 2;
    var far = player.behindLive != null && player.behindLive > GO_LIVE_TDS * td;
    goLiveEl.hidden = !far;
    behindEl.hidden = !far;
    behindEl.textContent = far ? "−" + fmtClock(/** @type {number} */ (player.behindLive)) + " behind live" : "";
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

  /** @param {number | null} bps */
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

  function privateStart() {
    setState("private", PLAYBACK.gate || undefined);
    var session = null;
    try { session = JSON.parse(localStorage.getItem(SESSION_KEY) || "null"); } catch { session = null; }
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
})();
