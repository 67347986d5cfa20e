import { gzipSync } from "node:zlib";
import { renderMediaFooter, renderMediaHeader, renderSegment, type SkipDirective } from "../../shared/hls/index.ts";
import type { RenditionState } from "../store/rendition-state.ts";
import { firstTaggedIndex, playlistFrame, segmentModel, skippedCount } from "./build-media.ts";
import { deflateLastPiece, deflatePiece, gzipFromPieces, type DeflatedPiece } from "./gzip-pieces.ts";
import type { Rendered } from "./rendered-cache.ts";

/** Segments per cached block (aligned on MSN multiples). */
export const BLOCK_SEGMENTS = 32;

interface Block extends DeflatedPiece {
  text: string;
  /** The EXT-X-MAP in effect after the block. */
  lastMap: string;
}

/**
 * Renders media playlists (text and gzip) at a cost that does not grow with the DVR window.
 *
 * A segment's lines never change once it is complete and its EXT-X-PART tags are gone, so runs of
 * `BLOCK_SEGMENTS` such segments are rendered and compressed once per rendition and reused by
 * every later version of its playlist. A render then builds only the header, the (partial) block
 * at the window's start, the recent segments, the hint and the rendition reports: O(block + tag
 * window) however long the playlist; the text is a rope of cached strings and the gzip body is
 * the cached blocks' DEFLATE pieces between two small fresh ones (see gzip-pieces.ts).
 * Delta updates (`_HLS_skip`) are small by construction and rendered directly.
 */
export class MediaPlaylistRenderer {
  private readonly blocks = new WeakMap<RenditionState, Map<number, Block>>();
  /** Blocks rendered since start (for tests and metrics). */
  blocksRendered = 0;

  render(r: RenditionState, siblings: RenditionState[], skip: SkipDirective | null): Rendered {
    const frame = playlistFrame(r, siblings);
    const segs = r.segments;
    const skipped = skip && frame.serverControl.canSkipUntil !== undefined ? skippedCount(r, frame.serverControl.canSkipUntil) : 0;
    const tagged = firstTaggedIndex(r);
    // Segments before `stable` have their final text. Two segments of margin: a segment's distance
    // from the end can shrink a little when the open segment closes with its pushed duration.
    const stable = Math.max(0, tagged - 2);
    const blocks = this.blocksOf(r);

    // Text runs between cached blocks; `runs.length === cached.length + 1`.
    const runs: string[] = [];
    const cached: Block[] = [];
    let run = renderMediaHeader(frame, skipped, skip ?? undefined);
    let previousMap: string | undefined;
    for (let i = skipped; i < segs.length; ) {
      const seg = segs[i]!;
      if (i > skipped && seg.msn % BLOCK_SEGMENTS === 0 && i + BLOCK_SEGMENTS <= stable) {
        const block = this.block(blocks, r, i, previousMap!);
        runs.push(run);
        cached.push(block);
        run = "";
        previousMap = block.lastMap;
        i += BLOCK_SEGMENTS;
        continue;
      }
      const model = segmentModel(seg, i >= tagged);
      run += renderSegment(model, previousMap);
      previousMap = model.mapUri;
      i++;
    }
    run += renderMediaFooter(frame);
    runs.push(run);

    if (cached.length === 0) return { text: run, gzip: new Uint8Array(gzipSync(run, { level: 6 })) };
    let text = "";
    const pieces: DeflatedPiece[] = [];
    for (let k = 0; k < cached.length; k++) {
      text += runs[k]! + cached[k]!.text;
      if (runs[k]!.length > 0) pieces.push(deflatePiece(runs[k]!));
      pieces.push(cached[k]!);
    }
    text += runs.at(-1)!;
    pieces.push(deflateLastPiece(runs.at(-1)!));
    return { text, gzip: gzipFromPieces(pieces) };
  }

  private blocksOf(r: RenditionState): Map<number, Block> {
    let map = this.blocks.get(r);
    if (!map) {
      map = new Map();
      this.blocks.set(r, map);
    }
    // A block is used only after the first listed segment; once that passes its start it is never
    // used again (MSNs only grow).
    const first = r.mediaSequence;
    for (const key of map.keys()) if (key * BLOCK_SEGMENTS <= first) map.delete(key);
    return map;
  }

  /** The block that starts at index `start` (an MSN multiple of BLOCK_SEGMENTS), rendered at most once. */
  private block(map: Map<number, Block>, r: RenditionState, start: number, previousMap: string): Block {
    const segs = r.segments;
    const key = segs[start]!.msn / BLOCK_SEGMENTS;
    const hit = map.get(key);
    if (hit) return hit;
    let text = "";
    let lastMap = previousMap;
    for (let i = start; i < start + BLOCK_SEGMENTS; i++) {
      const model = segmentModel(segs[i]!, false);
      text += renderSegment(model, lastMap);
      lastMap = model.mapUri;
    }
    const block: Block = { text, lastMap, ...deflatePiece(text) };
    map.set(key, block);
    this.blocksRendered++;
    return block;
  }
}
