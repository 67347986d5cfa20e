import { canSkipUntil, partHoldBack, partTagWindow, type MediaPlaylist, type Segment } from "../../shared/hls/index.ts";
import { initUri, partUri, segmentUri } from "../../shared/urls.ts";
import type { RenditionState, SegmentRecord } from "../store/rendition-state.ts";

/** The playlist model of one segment; `withParts` lists its EXT-X-PART tags. */
export const segmentModel = (s: SegmentRecord, withParts: boolean): Segment => ({
  msn: s.msn,
  ...(s.complete ? { uri: segmentUri(s.msn), duration: s.duration } : {}),
  programDateTimeMs: s.programDateTimeMs,
  discontinuity: s.discontinuity,
  ...(s.gap ? { gap: true } : {}),
  mapUri: initUri(s.initVersion),
  parts: withParts ? s.parts.map((p, idx) => ({ uri: partUri(s.msn, idx), duration: p.duration, independent: p.independent })) : null,
});

const listedDuration = (s: SegmentRecord): number => (s.complete ? s.duration : s.parts.reduce((a, p) => a + p.duration, 0));

/**
 * Index of the first segment whose EXT-X-PART tags are listed: tags go once their segment is more
 * than 3 × TD from the end (RFC §6.2.2), and all of them at ENDLIST. Walks back from the end only
 * as far as the tag window reaches, so it costs O(tagged segments), not O(playlist).
 */
export const firstTaggedIndex = (r: RenditionState): number => {
  const segs = r.segments;
  if (r.ended) return segs.length;
  const tagWindow = partTagWindow(r.window);
  let fromEnd = 0;
  let i = segs.length - 1;
  for (; i >= 0; i--) {
    if (fromEnd > tagWindow) break;
    fromEnd += listedDuration(segs[i]!);
  }
  return i + 1;
};

/**
 * How many leading segments a delta update replaces with EXT-X-SKIP (the same answer as
 * shared/hls `skippableSegments` on the full model), walking back only to the Skip Boundary.
 */
export const skippedCount = (r: RenditionState, boundary: number): number => {
  if (r.ended) return 0;
  const segs = r.segments;
  let tail = 0;
  for (let i = segs.length - 1; i >= 0; i--) {
    const seg = segs[i]!;
    if (tail >= boundary) return seg.complete ? i + 1 : 0;
    // An open segment is always tagged (it is the last), so its parts count, as in the model.
    tail += listedDuration(seg);
  }
  return 0;
};

/** The media playlist of one rendition without its segments: header, hint, rendition reports, ENDLIST. */
export const playlistFrame = (r: RenditionState, siblings: RenditionState[]): MediaPlaylist => {
  const { targetDuration, partTarget } = r.window;
  const timing = { targetDuration, partTarget };
  const ended = r.ended;
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
    segments: [],
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

/**
 * Builds the whole media playlist model of one rendition; `siblings` are the other renditions of
 * the multivariant. The origin serves `MediaPlaylistRenderer`'s output, which renders the same text
 * without building every segment; this is the reference it is tested against.
 */
export const buildMediaPlaylist = (r: RenditionState, siblings: RenditionState[]): MediaPlaylist => {
  const tagged = firstTaggedIndex(r);
  return { ...playlistFrame(r, siblings), segments: r.segments.map((s, i) => segmentModel(s, i >= tagged)) };
};
