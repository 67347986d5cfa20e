import { canSkipUntil, partHoldBack, partTagWindow, type MediaPlaylist, type Segment } from "../../shared/hls/index.ts";
import { initUri, partUri, segmentUri } from "../../shared/urls.ts";
import type { RenditionState } from "../store/rendition-state.ts";

/** Builds the media playlist model of one rendition; `siblings` are the other renditions of the multivariant. */
export const buildMediaPlaylist = (r: RenditionState, siblings: RenditionState[]): MediaPlaylist => {
  const { targetDuration, partTarget } = r.window;
  const timing = { targetDuration, partTarget };
  const ended = r.ended;
  // EXT-X-PART tags are dropped once their segment is more than 3 × TD from the end (RFC §6.2.2).
  const tagWindow = partTagWindow(timing);
  let fromEnd = 0;
  const keepParts = new Array<boolean>(r.segments.length);
  for (let i = r.segments.length - 1; i >= 0; i--) {
    keepParts[i] = !ended && fromEnd <= tagWindow;
    const s = r.segments[i]!;
    fromEnd += s.complete ? s.duration : s.parts.reduce((a, p) => a + p.duration, 0);
  }
  const segments: Segment[] = r.segments.map((s, i) => ({
    msn: s.msn,
    ...(s.complete ? { uri: segmentUri(s.msn), duration: s.duration } : {}),
    programDateTimeMs: s.programDateTimeMs,
    discontinuity: s.discontinuity,
    ...(s.gap ? { gap: true } : {}),
    mapUri: initUri(s.initVersion),
    parts: keepParts[i]
      ? s.parts.map((p, idx) => ({ uri: partUri(s.msn, idx), duration: p.duration, independent: p.independent }))
      : null,
  }));
  const hint = r.nextPart();
  return {
    targetDuration,
    partTarget,
    mediaSequence: r.mediaSequence,
    discontinuitySequence: r.discontinuitySequence,
    serverControl: {
      canBlockReload: true,
      partHoldBack: partHoldBack(timing),
      canSkipUntil: canSkipUntil(timing),
    },
    segments,
    ...(hint && !ended ? { preloadHint: { uri: partUri(hint.msn, hint.part) } } : {}),
    renditionReports: siblings
      .filter((s) => s !== r)
      .flatMap((s) => {
        const last = s.lastPart();
        if (!last) return [];
        return [{ uri: `../${s.name}/index.m3u8`, lastMsn: last.msn, lastPart: last.part }];
      }),
    endList: ended,
  };
};
