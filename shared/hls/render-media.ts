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
 * Renders a media playlist. With `skip`, renders a Playlist Delta Update (RFC 8216bis §6.2.5.1);
 * callers pass `skip` only when the request asked for it and the playlist is live.
 */
export const renderMediaPlaylist = (playlist: MediaPlaylist, skip?: SkipDirective): string => {
  const skipped = skip ? skippableSegments(playlist) : 0;
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
  let currentMap: string | undefined;
  for (const seg of playlist.segments.slice(skipped)) {
    // Tags that apply to a parent segment go before its first EXT-X-PART (RFC §4.4.4.9).
    if (seg.discontinuity) lines.push("#EXT-X-DISCONTINUITY");
    if (seg.mapUri !== currentMap) {
      lines.push(`#EXT-X-MAP:URI="${seg.mapUri}"`);
      currentMap = seg.mapUri;
    }
    lines.push(`#EXT-X-PROGRAM-DATE-TIME:${formatPdt(seg.programDateTimeMs)}`);
    for (const part of seg.parts ?? []) {
      lines.push(
        `#EXT-X-PART:DURATION=${formatSeconds(part.duration)},URI="${part.uri}"${part.independent ? ",INDEPENDENT=YES" : ""}`,
      );
    }
    if (seg.uri !== undefined && seg.duration !== undefined) {
      if (seg.gap) lines.push("#EXT-X-GAP");
      lines.push(`#EXTINF:${formatSeconds(seg.duration)},`, seg.uri);
    }
  }
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
  return `${lines.join("\n")}\n`;
};
