/**
 * The benchmark's player page: one minimal HTML page with the hls.js build the watch page bundles
 * (node_modules/hls.js/dist/hls.min.js), served by nginx next to the baseline stream, used for both
 * streams so both are played and measured by the same code:
 *
 *   player.html?src=<multivariant or media playlist URL>&mode=ll|classic
 *
 * `mode=ll` (Cascade) uses the watch page's hls.js configuration (edge/pages/client/player.js:
 * lowLatencyMode, catch-up up to 1.5×, 30 s back buffer); `mode=classic` uses hls.js defaults.
 * `window.benchSample()` returns one sample; latency is capture-to-display as the watch page
 * computes it: `Date.now() − hls.playingDate` (the PROGRAM-DATE-TIME of the frame on screen).
 */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./proc.ts";

/** What `window.benchSample()` returns. */
export interface PlayerSample {
  state: "loading" | "playing" | "error";
  /** Seconds, or null before hls.js knows the playing date. */
  latency: number | null;
  currentTime: number;
  bufferAhead: number;
  playbackRate: number;
  stalls: number;
  height: number | null;
  partTarget: number | null;
  targetDuration: number | null;
  targetLatency: number | null;
  /** hls.js's own estimate: end of the live playlist − playback position (seconds). */
  edgeDistance: number | null;
  errors: Array<{ type: string; details: string; fatal: boolean }>;
  droppedFrames: number | null;
  totalFrames: number | null;
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Cascade bench player</title>
<link rel="icon" href="data:,">
<style>body { margin: 0; background: #000; } video { width: 640px; height: 360px; display: block; }</style>
</head>
<body>
<video id="video" muted autoplay playsinline></video>
<script src="/hls.min.js"></script>
<script>
(function () {
  "use strict";
  var q = new URLSearchParams(location.search);
  var src = q.get("src");
  var ll = q.get("mode") === "ll";
  var video = document.getElementById("video");
  // Cascade: the watch page's configuration. Classic HLS: hls.js defaults.
  var hls = new Hls(ll ? { lowLatencyMode: true, maxLiveSyncPlaybackRate: 1.5, backBufferLength: 30 } : {});
  var s = { state: "loading", stalls: 0, errors: [], partTarget: null, targetDuration: null };
  var everPlayed = false;
  window.benchHls = hls;

  hls.on(Hls.Events.LEVEL_LOADED, function (_e, data) {
    s.partTarget = data.details.partTarget || null;
    s.targetDuration = data.details.targetduration || null;
  });
  hls.on(Hls.Events.ERROR, function (_e, data) {
    s.errors.push({ type: String(data.type), details: String(data.details), fatal: !!data.fatal });
    if (s.errors.length > 50) s.errors.shift();
    if (!data.fatal) return;
    s.state = "error";
    if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
    else setTimeout(function () { hls.startLoad(); }, 1000);
  });
  hls.on(Hls.Events.MANIFEST_PARSED, function () { video.play().catch(function () {}); });
  video.addEventListener("playing", function () { everPlayed = true; s.state = "playing"; });
  video.addEventListener("waiting", function () { if (everPlayed) s.stalls++; });

  function bufferAhead() {
    var t = video.currentTime;
    for (var i = 0; i < video.buffered.length; i++) {
      if (video.buffered.start(i) <= t + 0.1 && t < video.buffered.end(i)) return video.buffered.end(i) - t;
    }
    return 0;
  }

  window.benchSample = function () {
    var date = hls.playingDate;
    var level = hls.currentLevel >= 0 ? hls.levels[hls.currentLevel] : null;
    var quality = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return {
      state: s.state,
      latency: date && isFinite(date.getTime()) ? (Date.now() - date.getTime()) / 1000 : null,
      currentTime: video.currentTime,
      bufferAhead: bufferAhead(),
      playbackRate: video.playbackRate,
      stalls: s.stalls,
      height: (level && level.height) || video.videoHeight || null,
      partTarget: s.partTarget,
      targetDuration: s.targetDuration,
      targetLatency: hls.targetLatency,
      edgeDistance: isFinite(hls.latency) ? hls.latency : null,
      errors: s.errors.slice(-10),
      droppedFrames: quality ? quality.droppedVideoFrames : null,
      totalFrames: quality ? quality.totalVideoFrames : null
    };
  };

  hls.loadSource(src);
  hls.attachMedia(video);
})();
</script>
</body>
</html>
`;

/** Writes player.html and hls.min.js into `dir` (nginx's root). */
export const writePlayerPage = (dir: string): void => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "player.html"), PAGE);
  copyFileSync(path.join(ROOT, "node_modules", "hls.js", "dist", "hls.min.js"), path.join(dir, "hls.min.js"));
};

export const playerUrl = (pageBase: string, src: string, mode: "ll" | "classic"): string =>
  `${pageBase}/player.html?src=${encodeURIComponent(src)}&mode=${mode}`;
