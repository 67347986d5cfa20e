import type { MediaPlaylist, Segment, SkipDirective } from "./types.ts";

/** Seconds with up to 5 decimals, trailing zeros trimmed (EXTINF/PART durations). */
export const formatSeconds = (s: number): string => {
  const fixed = s.toFixed(5).replace(/0+$/, "");
  return fixed.endsWith(".") ? `${fixed}0` : fixed;
};

const formatPdt = (ms: number): string => new Date(ms).toISOString();

/**
 * How many leading complete segments a delta update may replace with EXT-X-SKIP: those that end
 * further than the Skip Boundary (CAN-SKIP-UNTIL) from the end of the playlist.
 */
export const skippableSegments = (playlist: MediaPlaylist): number => {
  const boundary = playlist.serverControl.canSkipUntil;
  if (boundary === undefined || playlist.endList) return 0;
  const segs = playlist.segments;
  let tail = 0;
  for (let i = segs.length - 1; i >= 0; i--) {
    const seg = segs[i]!;
    if (tail >= boundary) {
      // Everything from here back ends at least `boundary` before the end of the playlist.
      // Only complete segments can be skipped; a skipped run is always a prefix.
      return seg.uri !== undefined ? i + 1 : 0;
    }
    tail += seg.duration ?? sumParts(seg);
  }
  return 0;
};

const sumParts = (seg: Segment): number => (seg.parts ?? []).reduce((a, p) => a + p.duration, 0);

/**
 * The header of a media playlist up to EXT-X-DISCONTINUITY-SEQUENCE (and EXT-X-SKIP when `skipped` > 0),
 * one string ending in a newline. Exported with `renderSegment` and `renderMediaFooter` so the origin
 * can cache the text of old segments and render only what changed (core-origin/playlist/).
 */
export const renderMediaHeader = (playlist: MediaPlaylist, skipped: number, skip?: SkipDirective): string => {
  const version = skipped > 0 ? (skip === "v2" ? 10 : 9) : 6;
  const sc = playlist.serverControl;
  const lines: string[] = ["#EXTM3U", `#EXT-X-VERSION:${version}`, `#EXT-X-TARGETDURATION:${playlist.targetDuration}`];
  const control = [`CAN-BLOCK-RELOAD=${sc.canBlockReload ? "YES" : "NO"}`];
  if (sc.canSkipUntil !== undefined) control.push(`CAN-SKIP-UNTIL=${formatSeconds(sc.canSkipUntil)}`);
  if (sc.holdBack !== undefined) control.push(`HOLD-BACK=${formatSeconds(sc.holdBack)}`);
  control.push(`PART-HOLD-BACK=${formatSeconds(sc.partHoldBack)}`);
  lines.push(`#EXT-X-SERVER-CONTROL:${control.join(",")}`);
  lines.push(`#EXT-X-PART-INF:PART-TARGET=${formatSeconds(playlist.partTarget)}`);
  lines.push(`#EXT-X-MEDIA-SEQUENCE:${playlist.mediaSequence}`);
  lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${playlist.discontinuitySequence}`);
  if (skipped > 0) {
    lines.push(
      skip === "v2"
        ? `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped},RECENTLY-REMOVED-DATERANGES=""`
        : `#EXT-X-SKIP:SKIPPED-SEGMENTS=${skipped}`,
    );
  }
  return `${lines.join("\n")}\n`;
};

/**
 * One segment's lines (ending in a newline); `previousMapUri` is the EXT-X-MAP in effect before it
 * (undefined for the first segment listed, which always gets its EXT-X-MAP).
 */
export const renderSegment = (seg: Segment, previousMapUri: string | undefined): string => {
  let out = "";
  // Tags that apply to a parent segment go before its first EXT-X-PART (RFC §4.4.4.9).
  if (seg.discontinuity) out += "#EXT-X-DISCONTINUITY\n";
  if (seg.mapUri !== previousMapUri) out += `#EXT-X-MAP:URI="${seg.mapUri}"\n`;
  out += `#EXT-X-PROGRAM-DATE-TIME:${formatPdt(seg.programDateTimeMs)}\n`;
  for (const part of seg.parts ?? []) {
    out += `#EXT-X-PART:DURATION=${formatSeconds(part.duration)},URI="${part.uri}"${part.independent ? ",INDEPENDENT=YES" : ""}\n`;
  }
  if (seg.uri !== undefined && seg.duration !== undefined) {
    if (seg.gap) out += "#EXT-X-GAP\n";
    out += `#EXTINF:${formatSeconds(seg.duration)},\n${seg.uri}\n`;
  }
  return out;
};

/** ENDLIST or the PRELOAD-HINT, then the rendition reports (empty string when there is nothing). */
export const renderMediaFooter = (playlist: MediaPlaylist): string => {
  const lines: string[] = [];
  if (playlist.endList) {
    lines.push("#EXT-X-ENDLIST");
  } else if (playlist.preloadHint) {
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${playlist.preloadHint.uri}"`);
  }
  for (const r of playlist.renditionReports) {
    const attrs = [`URI="${r.uri}"`, `LAST-MSN=${r.lastMsn}`];
    if (r.lastPart !== undefined) attrs.push(`LAST-PART=${r.lastPart}`);
    lines.push(`#EXT-X-RENDITION-REPORT:${attrs.join(",")}`);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
};

/**
 * Renders a media playlist. With `skip`, renders a Playlist Delta Update (RFC 8216bis §6.2.5.1);
 * callers pass `skip` only when the request asked for it and the playlist is live.
 */
export const renderMediaPlaylist = (playlist: MediaPlaylist, skip?: SkipDirective): string => {
  const skipped = skip ? skippableSegments(playlist) : 0;
  let out = renderMediaHeader(playlist, skipped, skip);
  let currentMap: string | undefined;
  for (const seg of playlist.segments.slice(skipped)) {
    out += renderSegment(seg, currentMap);
    currentMap = seg.mapUri;
  }
  return out + renderMediaFooter(playlist);
};
