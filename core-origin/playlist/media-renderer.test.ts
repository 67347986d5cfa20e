import { crc32, gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { renderMediaPlaylist, type SkipDirective } from "../../shared/hls/index.ts";
import { initSegment, PDT0 } from "../../test/support/origin-harness.ts";
import { RenditionState, type RenditionWindow } from "../store/rendition-state.ts";
import type { StorageDriver } from "../store/storage-driver.ts";
import { buildMediaPlaylist } from "./build-media.ts";
import { crc32Combine, deflateLastPiece, deflatePiece, gzipFromPieces } from "./gzip-pieces.ts";
import { BLOCK_SEGMENTS, MediaPlaylistRenderer } from "./media-renderer.ts";

const nullStorage: StorageDriver = {
  put: async () => undefined,
  get: async () => null,
  getRange: async () => null,
  deletePrefix: async () => undefined,
};

const TD = 2;
const PT = 0.5;
const PART_BYTES = new Uint8Array(64);

/** A rendition fed directly (no HTTP): `segment()` pushes four parts and the boundary. */
const feed = (window: Partial<RenditionWindow> = {}, name = "720p") => {
  const r = new RenditionState(
    name,
    "video",
    { targetDuration: TD, partTarget: PT, segmentDuration: TD, memorySegments: 8, playlistSegments: 15, dvrSeconds: 7200, ...window },
    nullStorage,
    `s/1/${name}`,
    (e) => {
      throw e;
    },
  );
  r.putInit(0, initSegment());
  r.putInit(1, initSegment("second"));
  let seq = 0;
  let msn = 0;
  let pdt = PDT0;
  const part = (o: { discontinuity?: boolean; initVersion?: number; resync?: boolean; msn?: number; duration?: number } = {}) => {
    const open = r.openSegment;
    const idx = open ? open.parts.length : 0;
    if (!open && o.msn !== undefined) msn = o.msn;
    const res = r.addPart({
      seq: o.resync ? seq + 100 : seq + 1,
      msn,
      part: idx,
      duration: o.duration ?? PT,
      independent: idx === 0,
      resync: o.resync ?? false,
      programDateTimeMs: idx === 0 ? pdt : null,
      discontinuity: o.discontinuity ?? false,
      initVersion: o.initVersion ?? null,
      producedAtMs: null,
      bytes: PART_BYTES,
    });
    if (!res.ok) throw new Error(res.error);
    seq = o.resync ? seq + 100 : seq + 1;
  };
  const close = (duration = TD) => {
    const open = r.openSegment!;
    const res = r.completeSegment({ seq: seq + 1, msn: open.msn, duration, peakBitrate: null, averageBitrate: null });
    if (!res.ok) throw new Error(res.error);
    seq++;
    pdt += duration * 1000;
    msn = open.msn + 1;
  };
  const segment = (o: Parameters<typeof part>[0] = {}) => {
    part(o);
    for (let i = 1; i < 4; i++) part();
    close();
  };
  return { r, part, close, segment, settled: () => new Promise((res) => setImmediate(res)) };
};

const SKIPS: (SkipDirective | null)[] = [null, "YES", "v2"];

/** The renderer's text and gzip must be exactly the reference renderer's output on the full model. */
const expectSame = (renderer: MediaPlaylistRenderer, r: RenditionState, siblings: RenditionState[], what: string) => {
  for (const skip of SKIPS) {
    const got = renderer.render(r, siblings, skip);
    const want = renderMediaPlaylist(buildMediaPlaylist(r, siblings), skip ?? undefined);
    expect(got.text, `${what}, skip ${skip}`).toBe(want);
    expect(gunzipSync(got.gzip).toString("utf8"), `${what}, skip ${skip}: gzip`).toBe(want);
  }
};

describe("gzip from pieces", () => {
  it("crc32Combine agrees with CRC-32 over the concatenation", () => {
    const a = Buffer.from("#EXTM3U\n".repeat(37));
    const b = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 7919) & 0xff));
    expect(crc32Combine(crc32(a), crc32(b), b.byteLength)).toBe(crc32(Buffer.concat([a, b])));
    expect(crc32Combine(0, crc32(b), b.byteLength)).toBe(crc32(b));
    expect(crc32Combine(crc32(a), crc32(""), 0)).toBe(crc32(a));
  });

  it("pieces compressed apart make one valid gzip member (empty pieces too)", () => {
    const texts = ["#EXTM3U\n", "", "seg1.m4s\n".repeat(300), "x"];
    const gz = gzipFromPieces([...texts.slice(0, -1).map(deflatePiece), deflateLastPiece(texts.at(-1)!)]);
    expect(gunzipSync(gz).toString()).toBe(texts.join(""));
    expect(gunzipSync(gzipFromPieces([deflateLastPiece("")])).toString()).toBe("");
  });
});

describe("MediaPlaylistRenderer: same text as the reference renderer", () => {
  it("while a DVR playlist grows and slides, part by part, with discontinuities, a new init and gaps", async () => {
    const renderer = new MediaPlaylistRenderer();
    const a = feed({ dvrSeconds: 150 });
    const b = feed({ dvrSeconds: 150 }, "audio");
    const siblings = [a.r, b.r];
    for (let s = 0; s < 140; s++) {
      const o = s === 40 ? { discontinuity: true } : s === 70 ? { initVersion: 1 } : s === 100 ? { resync: true, msn: 103 } : {};
      for (let i = 0; i < 4; i++) {
        a.part(i === 0 ? o : {});
        b.part(i === 0 ? o : {});
        if (s % 3 === 0 || s > 130) expectSame(renderer, a.r, siblings, `segment ${s} part ${i}`);
      }
      a.close();
      b.close();
      await a.settled();
      expectSame(renderer, a.r, siblings, `segment ${s} closed`);
    }
    // The window slid (150 s of 2 s segments), and gap segments filled the resync's MSN jump.
    expect(a.r.mediaSequence).toBeGreaterThan(60);
    expect(a.r.segments.some((x) => x.gap)).toBe(true);
    expect(renderer.blocksRendered).toBeGreaterThanOrEqual(3);
    a.r.end();
    b.r.end();
    expectSame(renderer, a.r, siblings, "ended");
  });

  it("a live-window-only playlist (no DVR) renders the same too", async () => {
    const renderer = new MediaPlaylistRenderer();
    const a = feed({ dvrSeconds: 0 });
    for (let s = 0; s < 60; s++) {
      a.segment();
      await a.settled();
      expectSame(renderer, a.r, [a.r], `segment ${s}`);
    }
    expect(a.r.segments).toHaveLength(15);
  });
});

describe("MediaPlaylistRenderer: cost does not grow with the window", () => {
  it("a 3,600-segment (2 h) playlist: each new part renders no old segment again; timings vs full rendering", async () => {
    const renderer = new MediaPlaylistRenderer();
    const a = feed({ dvrSeconds: 7200 });
    for (let s = 0; s < 3600; s++) a.segment();
    await a.settled();
    expect(a.r.segments).toHaveLength(3600);
    renderer.render(a.r, [a.r], null);
    const blocksAfterFirst = renderer.blocksRendered;
    expect(blocksAfterFirst).toBeGreaterThanOrEqual(3600 / BLOCK_SEGMENTS - 2);

    const time = (fn: () => void, n: number): number[] => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        fn();
        out.push(performance.now() - t0);
      }
      return out.sort((x, y) => x - y);
    };
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
    const nextPart = () => {
      a.part();
      if (a.r.openSegment!.parts.length === 4) a.close();
    };
    // Each iteration: one more part (a new playlist version), then the text and gzip of the playlist.
    time(() => (nextPart(), renderer.render(a.r, [a.r], null)), 8); // warm-up
    const blocksBefore = renderer.blocksRendered;
    const incremental = time(() => (nextPart(), renderer.render(a.r, [a.r], null)), 40);
    // What the origin did before: the whole model, the whole text, the whole gzip.
    const reference = time(() => (nextPart(), gzipSync(renderMediaPlaylist(buildMediaPlaylist(a.r, [a.r])), { level: 6 })), 10);
    const full = renderer.render(a.r, [a.r], null);
    const delta = renderer.render(a.r, [a.r], "YES");
    console.log(
      `media playlist, ${a.r.segments.length} segments (${full.text.length} B text, ${full.gzip.byteLength} B gzip; delta ${delta.text.length} B): ` +
        `incremental render+gzip per part median ${median(incremental).toFixed(3)} ms (p90 ${incremental[36]!.toFixed(3)}), ` +
        `full build+render+gzip median ${median(reference).toFixed(3)} ms`,
    );
    // 40 parts = 10 segments: at most one new block (32 segments) was rendered on the way.
    expect(renderer.blocksRendered - blocksBefore).toBeLessThanOrEqual(1);
    expect(median(incremental)).toBeLessThan(median(reference) / 4);
  });
});
