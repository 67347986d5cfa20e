import { describe, expect, it } from "vitest";
import { parseMediaPlaylist, type ParsedMediaPlaylist } from "./parse.ts";
import { formatSeconds, renderMediaPlaylist, skippableSegments } from "./render-media.ts";
import { advancePartLimit, blockingTimeoutMs, cacheLifetimes, canSkipUntil, holdBack, partHoldBack, partTagWindow } from "./rules.ts";
import type { MediaPlaylist, Part, Segment } from "./types.ts";


const TD = 2;
const PT = 0.5;
const T = { targetDuration: TD, partTarget: PT };
const PDT0 = Date.UTC(2025, 0, 1, 12, 0, 0, 123);

interface LiveOptions {
  firstMsn?: number;
  /** Complete segments. */
  complete?: number;
  /** Parts of the open (last) segment; 0 = no open segment. */
  openParts?: number;
  /** Complete segments (from the end) whose EXT-X-PART tags are still listed. */
  partTagSegments?: number;
  endList?: boolean;
  discontinuityAt?: number[];
  /** MSN from which segments use init1.mp4. */
  newMapAt?: number;
  discontinuitySequence?: number;
  withHoldBack?: boolean;
  withSkip?: boolean;
  segmentDurations?: (msn: number) => number;
}

const partsOf = (msn: number, count: number, last = false): Part[] =>
  Array.from({ length: count }, (_, k) => ({
    uri: `part${msn}.${k}.m4s`,
    // The final part of a segment may be short (RFC 8216bis §4.4.4.9 exception).
    duration: last && k === count - 1 ? 0.2 : PT,
    independent: k === 0,
  }));

/** A live LL-HLS playlist model: 2 s segments of four 0.5 s parts, like the origin builds. */
const live = (o: LiveOptions = {}): MediaPlaylist => {
  const first = o.firstMsn ?? 100;
  const complete = o.complete ?? 8;
  const openParts = o.endList ? 0 : (o.openParts ?? 2);
  const tagged = o.partTagSegments ?? 3;
  const segments: Segment[] = [];
  const total = complete + (openParts > 0 ? 1 : 0);
  let pdt = PDT0;
  for (let i = 0; i < total; i++) {
    const msn = first + i;
    const open = i === complete;
    const duration = o.segmentDurations?.(msn) ?? TD;
    const short = duration !== TD;
    segments.push({
      msn,
      ...(open ? {} : { uri: `seg${msn}.m4s`, duration }),
      programDateTimeMs: pdt,
      discontinuity: o.discontinuityAt?.includes(msn) ?? false,
      mapUri: o.newMapAt !== undefined && msn >= o.newMapAt ? "init1.mp4" : "init0.mp4",
      parts: open ? partsOf(msn, openParts) : i >= complete - tagged ? partsOf(msn, short ? Math.ceil(duration / PT) : 4, short) : null,
    });
    pdt += duration * 1000;
  }
  const lastMsn = first + total - 1;
  return {
    targetDuration: TD,
    partTarget: PT,
    mediaSequence: first,
    discontinuitySequence: o.discontinuitySequence ?? 0,
    serverControl: {
      canBlockReload: true,
      partHoldBack: partHoldBack(T),
      ...(o.withHoldBack ? { holdBack: holdBack(T) } : {}),
      ...(o.withSkip === false ? {} : { canSkipUntil: canSkipUntil(T) }),
    },
    segments,
    preloadHint: { uri: openParts > 0 ? `part${lastMsn}.${openParts}.m4s` : `part${lastMsn + 1}.0.m4s` },
    renditionReports: [
      { uri: "../audio/index.m3u8", lastMsn, lastPart: 1 },
      { uri: "../360p/index.m3u8", lastMsn, lastPart: 2 },
    ],
    endList: o.endList ?? false,
  };
};

const roundTrip = (p: MediaPlaylist, skip?: "YES" | "v2"): { text: string; parsed: ParsedMediaPlaylist } => {
  const text = renderMediaPlaylist(p, skip);
  return { text, parsed: parseMediaPlaylist(text) };
};

const lines = (text: string): string[] => text.trimEnd().split("\n");
const count = (parsed: ParsedMediaPlaylist, tag: string): number => parsed.tags.filter((t) => t === tag).length;

describe("renderMediaPlaylist: header and server control (RFC 8216bis §4.4.3)", () => {
  it("RFC 8216bis §4.4.3.1, §6.2.1: TARGETDURATION is an integer ≥ 1 and every EXTINF rounds to ≤ TD", () => {
    // 2.4 s rounds to 2 and is allowed; EXTINF keeps the exact duration.
    const { text, parsed } = roundTrip(live({ segmentDurations: (msn) => (msn === 102 ? 2.4 : msn === 103 ? 1.6 : 2) }));
    expect(lines(text)).toContain("#EXT-X-TARGETDURATION:2");
    expect(Number.isInteger(parsed.targetDuration)).toBe(true);
    expect(parsed.targetDuration).toBeGreaterThanOrEqual(1);
    const durations = parsed.segments.filter((s) => s.uri).map((s) => s.duration!);
    expect(durations).toContain(2.4);
    expect(durations).toContain(1.6);
    for (const d of durations) expect(Math.round(d)).toBeLessThanOrEqual(parsed.targetDuration!);
    expect(lines(text)).toContain("#EXTINF:2.4,");
  });

  it("RFC 8216bis §6.2.1: TARGETDURATION stays the same as the playlist slides", () => {
    const before = roundTrip(live({ firstMsn: 100 })).parsed;
    const after = roundTrip(live({ firstMsn: 101, segmentDurations: () => 1.5 })).parsed;
    expect(after.targetDuration).toBe(before.targetDuration);
    expect(count(before, "#EXT-X-TARGETDURATION")).toBe(1);
  });

  it("RFC 8216bis §6.2.4: renditions built with the stream's TD all carry the same TARGETDURATION", () => {
    // Audio parts are not frame-aligned with video: different EXTINFs, same TD.
    const video = roundTrip(live()).parsed;
    const audio = roundTrip(live({ segmentDurations: () => 1.96267 })).parsed;
    expect(audio.targetDuration).toBe(video.targetDuration);
  });

  it("RFC 8216bis §4.4.3.7: EXT-X-PART-INF:PART-TARGET is present (before any EXT-X-PART) when parts are listed", () => {
    const { text, parsed } = roundTrip(live());
    expect(count(parsed, "#EXT-X-PART")).toBeGreaterThan(0);
    expect(lines(text)).toContain("#EXT-X-PART-INF:PART-TARGET=0.5");
    expect(parsed.partTarget).toBe(PT);
    expect(parsed.tags.indexOf("#EXT-X-PART-INF")).toBeLessThan(parsed.tags.indexOf("#EXT-X-PART"));
  });

  it("RFC 8216bis §4.4.3.8: PART-HOLD-BACK ≥ 3 × PART-TARGET", () => {
    const { parsed } = roundTrip(live());
    expect(Number(parsed.serverControl["PART-HOLD-BACK"])).toBeGreaterThanOrEqual(3 * parsed.partTarget!);
    // Frame-snapped part targets (10 frames at 29.97 fps, 0.3331 s) must not be rounded below 3 ×.
    for (const partTarget of [0.1, 0.2, 0.3, 1 / 3, 0.3331, 10 / 29.97, 0.4, 0.5, 0.7, 1, 1.001, 2]) {
      const t = { targetDuration: 4, partTarget };
      expect(partHoldBack(t), `partTarget ${partTarget}`).toBeGreaterThanOrEqual(3 * partTarget - 1e-9);
      const p = { ...live(), partTarget, serverControl: { canBlockReload: true, partHoldBack: partHoldBack(t) } };
      const rendered = parseMediaPlaylist(renderMediaPlaylist(p));
      expect(Number(rendered.serverControl["PART-HOLD-BACK"]), `partTarget ${partTarget}`).toBeGreaterThanOrEqual(
        3 * rendered.partTarget! - 1e-9,
      );
    }
  });

  it("RFC 8216bis §4.4.3.8: HOLD-BACK, when present, is ≥ 3 × TD", () => {
    const { parsed } = roundTrip(live({ withHoldBack: true }));
    expect(parsed.serverControl["HOLD-BACK"]).toBeDefined();
    expect(Number(parsed.serverControl["HOLD-BACK"])).toBeGreaterThanOrEqual(3 * parsed.targetDuration!);
    for (const targetDuration of [1, 2, 4, 6, 10]) expect(holdBack({ targetDuration, partTarget: 1 })).toBeGreaterThanOrEqual(3 * targetDuration);
    // Absent HOLD-BACK means 3 × TD to the client, which is fine too.
    expect(roundTrip(live()).parsed.serverControl["HOLD-BACK"]).toBeUndefined();
  });

  it("RFC 8216bis §4.4.3.8, §6.2.5.2: CAN-BLOCK-RELOAD=YES is advertised", () => {
    expect(roundTrip(live()).parsed.serverControl["CAN-BLOCK-RELOAD"]).toBe("YES");
  });

  it("RFC 8216bis §4.4.3.8: CAN-SKIP-UNTIL ≥ 6 × TD", () => {
    const { parsed } = roundTrip(live());
    expect(Number(parsed.serverControl["CAN-SKIP-UNTIL"])).toBeGreaterThanOrEqual(6 * parsed.targetDuration!);
    for (const targetDuration of [1, 2, 4, 6]) expect(canSkipUntil({ targetDuration, partTarget: 0.5 })).toBeGreaterThanOrEqual(6 * targetDuration);
    // CAN-SKIP-DATERANGES is never sent, so it cannot appear without CAN-SKIP-UNTIL.
    expect(roundTrip(live({ withSkip: false })).parsed.serverControl["CAN-SKIP-DATERANGES"]).toBeUndefined();
  });

  it("RFC 8216bis §8, §6.2.1: VERSION 6 for a full fMP4 playlist (EXT-X-MAP), 9 with EXT-X-SKIP, 10 for a v2 delta", () => {
    const full = roundTrip(live()).parsed;
    expect(full.version).toBe(6);
    expect(count(full, "#EXT-X-MAP")).toBe(1);
    expect(count(full, "#EXT-X-VERSION")).toBe(1);
    expect(roundTrip(live({ complete: 12 }), "YES").parsed.version).toBe(9);
    expect(roundTrip(live({ complete: 12 }), "v2").parsed.version).toBe(10);
    // A delta request that can skip nothing is a plain playlist: no EXT-X-SKIP, no higher version.
    const nothing = roundTrip(live({ complete: 3 }), "v2").parsed;
    expect(nothing.version).toBe(6);
    expect(count(nothing, "#EXT-X-SKIP")).toBe(0);
  });

  it("Apple HLS authoring spec 8.4: every segment carries EXT-X-PROGRAM-DATE-TIME with ms precision and a timezone", () => {
    const p = live();
    const { parsed } = roundTrip(p);
    expect(parsed.segments).toHaveLength(p.segments.length);
    parsed.segments.forEach((s, i) => {
      expect(s.programDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(s.programDateTime!)).toBe(p.segments[i]!.programDateTimeMs);
    });
  });

  it("RFC 8216bis §6.2.2: EXT-X-MEDIA-SEQUENCE is the first segment's MSN and MSNs count up from it", () => {
    const { parsed } = roundTrip(live({ firstMsn: 4711 }));
    expect(parsed.mediaSequence).toBe(4711);
    expect(count(parsed, "#EXT-X-MEDIA-SEQUENCE")).toBe(1);
    parsed.segments.forEach((s, i) => expect(s.msn).toBe(4711 + i));
    expect(parsed.segments.filter((s) => s.uri).map((s) => s.uri)).toEqual(
      Array.from({ length: 8 }, (_, i) => `seg${4711 + i}.m4s`),
    );
  });

  it("RFC 8216bis §6.2.1–6.2.2: a live playlist carries no EXT-X-PLAYLIST-TYPE (nor does an ended one)", () => {
    expect(renderMediaPlaylist(live())).not.toContain("#EXT-X-PLAYLIST-TYPE");
    expect(renderMediaPlaylist(live({ endList: true }))).not.toContain("#EXT-X-PLAYLIST-TYPE");
  });

  it("RFC 8216bis §6.2.1: EXT-X-DISCONTINUITY marks the break and DISCONTINUITY-SEQUENCE is always present", () => {
    const plain = roundTrip(live()).parsed;
    expect(count(plain, "#EXT-X-DISCONTINUITY-SEQUENCE")).toBe(1);
    expect(plain.discontinuitySequence).toBe(0);
    const broken = roundTrip(live({ discontinuityAt: [104], discontinuitySequence: 3 })).parsed;
    expect(broken.discontinuitySequence).toBe(3);
    expect(broken.segments.filter((s) => s.discontinuity).map((s) => s.msn)).toEqual([104]);
    expect(count(broken, "#EXT-X-DISCONTINUITY")).toBe(1);
  });
});

describe("renderMediaPlaylist: partial segments (RFC 8216bis §4.4.4.9)", () => {
  it("RFC 8216bis §4.4.4.9: every EXT-X-PART has URI and DURATION", () => {
    const { text } = roundTrip(live());
    const partLines = lines(text).filter((l) => l.startsWith("#EXT-X-PART:"));
    expect(partLines.length).toBe(3 * 4 + 2);
    for (const l of partLines) expect(l).toMatch(/^#EXT-X-PART:DURATION=\d+(\.\d+)?,URI="part\d+\.\d+\.m4s"(,INDEPENDENT=YES)?$/);
  });

  it("RFC 8216bis §4.4.4.9: part DURATION ≤ PART-TARGET, and ≥ 85 % of it unless independent or last of its parent", () => {
    const { parsed } = roundTrip(live({ segmentDurations: (msn) => (msn === 106 ? 1.7 : 2) }));
    const pt = parsed.partTarget!;
    let checked = 0;
    for (const seg of parsed.segments) {
      seg.parts.forEach((part, i) => {
        expect(part.duration).toBeGreaterThan(0);
        expect(part.duration).toBeLessThanOrEqual(pt);
        const lastOfParent = seg.uri !== undefined && i === seg.parts.length - 1;
        if (!part.independent && !lastOfParent) expect(part.duration).toBeGreaterThanOrEqual(0.85 * pt);
        checked++;
      });
    }
    expect(checked).toBeGreaterThan(10);
    // The short final part of segment 106 is there and is the exception.
    expect(parsed.segments.find((s) => s.msn === 106)!.parts.at(-1)!.duration).toBe(0.2);
  });

  it("RFC 8216bis §4.4.4.9: INDEPENDENT=YES on exactly the parts that start with an independent frame", () => {
    const p = live();
    const { parsed } = roundTrip(p);
    const want = p.segments.flatMap((s) => (s.parts ?? []).map((x) => x.independent));
    const got = parsed.segments.flatMap((s) => s.parts.map((x) => x.independent));
    expect(got).toEqual(want);
    expect(got.filter(Boolean).length).toBeGreaterThan(0);
  });

  it("RFC 8216bis §4.4.4.9: DISCONTINUITY, MAP and PROGRAM-DATE-TIME of a segment come before its first EXT-X-PART", () => {
    const { text } = roundTrip(live({ discontinuityAt: [107], newMapAt: 107 }));
    const l = lines(text);
    const firstPart107 = l.indexOf(l.find((x) => x.includes('URI="part107.0.m4s"'))!);
    const prevSegEnd = l.indexOf("seg106.m4s");
    const between = l.slice(prevSegEnd + 1, firstPart107);
    expect(between).toEqual(["#EXT-X-DISCONTINUITY", '#EXT-X-MAP:URI="init1.mp4"', expect.stringMatching(/^#EXT-X-PROGRAM-DATE-TIME:/)]);
    // And for every segment: its PDT is before its parts and its EXTINF.
    const parsed = parseMediaPlaylist(text);
    expect(parsed.segments.every((s) => s.programDateTime !== undefined)).toBe(true);
    expect(parsed.segments.find((s) => s.msn === 107)!.map).toBe("init1.mp4");
    expect(parsed.segments.find((s) => s.msn === 106)!.map).toBe("init0.mp4");
  });

  it("RFC 8216bis §6.2.2: segments whose EXT-X-PART tags were dropped render as plain EXTINF segments", () => {
    const { parsed } = roundTrip(live({ partTagSegments: 2 }));
    const withParts = parsed.segments.filter((s) => s.parts.length > 0).map((s) => s.msn);
    expect(withParts).toEqual([106, 107, 108]);
    expect(parsed.segments.find((s) => s.msn === 100)!.uri).toBe("seg100.m4s");
    expect(partTagWindow(T)).toBe(3 * TD);
  });
});

describe("renderMediaPlaylist: preload hints and rendition reports (RFC 8216bis §4.4.5.3, §4.4.5.4)", () => {
  it("RFC 8216bis B.1, §4.4.5.3: a live playlist with parts has exactly one PRELOAD-HINT TYPE=PART naming the next part", () => {
    const { parsed } = roundTrip(live({ openParts: 2 }));
    expect(parsed.preloadHints).toEqual([{ TYPE: "PART", URI: "part108.2.m4s" }]);
    const last = parsed.segments.at(-1)!;
    expect(last.parts.at(-1)!.uri).toBe("part108.1.m4s");
    // With no open segment the hint names part 0 of the next segment.
    expect(roundTrip(live({ openParts: 0 })).parsed.preloadHints).toEqual([{ TYPE: "PART", URI: "part108.0.m4s" }]);
  });

  it("RFC 8216bis §4.4.5.3, §6.2.6: the hinted URI is the URI the part is later listed under", () => {
    const before = roundTrip(live({ openParts: 2 })).parsed;
    const after = roundTrip(live({ openParts: 3 })).parsed;
    const hinted = before.preloadHints[0]!["URI"];
    expect(after.segments.at(-1)!.parts.map((p) => p.uri)).toContain(hinted);
    // No BYTERANGE-START/LENGTH: each part is its own resource.
    expect(before.preloadHints[0]!["BYTERANGE-START"]).toBeUndefined();
  });

  it("RFC 8216bis §6.2.6, §4.4.5.3: a playlist with EXT-X-ENDLIST has no PRELOAD-HINT (even if the model still has one)", () => {
    const ended = live({ endList: true });
    expect(ended.preloadHint).toBeDefined();
    const { parsed } = roundTrip(ended);
    expect(parsed.endList).toBe(true);
    expect(parsed.preloadHints).toEqual([]);
    expect(parsed.tags.at(-1 - parsed.renditionReports.length)).toBe("#EXT-X-ENDLIST");
  });

  it("RFC 8216bis B.1: one EXT-X-RENDITION-REPORT per other rendition", () => {
    const { parsed } = roundTrip(live());
    expect(parsed.renditionReports.map((r) => r["URI"])).toEqual(["../audio/index.m3u8", "../360p/index.m3u8"]);
  });

  it("RFC 8216bis §4.4.5.4: reports carry a relative URI, LAST-MSN and LAST-PART", () => {
    const { parsed } = roundTrip(live());
    for (const r of parsed.renditionReports) {
      expect(r["URI"]).toMatch(/^\.\.\/[a-z0-9_-]+\/index\.m3u8$/);
      expect(Number.isInteger(Number(r["LAST-MSN"]))).toBe(true);
      expect(Number.isInteger(Number(r["LAST-PART"]))).toBe(true);
    }
    expect(parsed.renditionReports[0]).toEqual({ URI: "../audio/index.m3u8", "LAST-MSN": "108", "LAST-PART": "1" });
  });
});

describe("renderMediaPlaylist: delta updates (RFC 8216bis §6.2.5.1)", () => {
  // 12 complete 2 s segments + 1 s of parts; Skip Boundary 12 s.
  const base = () => live({ complete: 12, openParts: 2 });

  it("RFC 8216bis §6.2.5.1: _HLS_skip is honoured only with CAN-SKIP-UNTIL and without ENDLIST", () => {
    expect(skippableSegments(base())).toBeGreaterThan(0);
    const noSkip = live({ complete: 12, withSkip: false });
    expect(skippableSegments(noSkip)).toBe(0);
    expect(renderMediaPlaylist(noSkip, "YES")).not.toContain("#EXT-X-SKIP");
    const ended = live({ complete: 12, endList: true });
    expect(skippableSegments(ended)).toBe(0);
    expect(renderMediaPlaylist(ended, "YES")).toBe(renderMediaPlaylist(ended));
  });

  it("RFC 8216bis §4.4.5.2, §6.2.5.1: EXT-X-SKIP appears once, MEDIA-SEQUENCE unchanged, skipped count right, VERSION 9", () => {
    const p = base();
    const full = roundTrip(p).parsed;
    const { parsed: delta } = roundTrip(p, "YES");
    expect(count(delta, "#EXT-X-SKIP")).toBe(1);
    expect(delta.version).toBe(9);
    expect(delta.mediaSequence).toBe(full.mediaSequence);
    expect(delta.discontinuitySequence).toBe(full.discontinuitySequence);
    // Segments ending more than 12 s before the end (1 s of open parts + 2 s each) are 100..105: six.
    expect(delta.skippedSegments).toBe(6);
    expect(skippableSegments(p)).toBe(6);
    const canSkipUntilS = Number(delta.serverControl["CAN-SKIP-UNTIL"]);
    const endOf = (msn: number) => full.segments.filter((s) => s.msn > msn).reduce((a, s) => a + (s.duration ?? s.parts.reduce((x, y) => x + y.duration, 0)), 0);
    expect(endOf(105)).toBeGreaterThan(canSkipUntilS);
    expect(endOf(106)).toBeLessThanOrEqual(canSkipUntilS);
    // Everything not skipped is there, with the same MSNs, tags and parts; EXT-X-MAP comes again.
    expect(delta.segments).toEqual(full.segments.slice(6));
    expect(delta.segments[0]!.msn).toBe(106);
    expect(delta.segments[0]!.map).toBe("init0.mp4");
    expect(delta.preloadHints).toEqual(full.preloadHints);
    expect(delta.renditionReports).toEqual(full.renditionReports);
    expect(delta.serverControl).toEqual(full.serverControl);
  });

  it("RFC 8216bis §4.4.5.2, §6.2.5.1: a discontinuity among the skipped segments leaves DISCONTINUITY-SEQUENCE alone", () => {
    const p = live({ complete: 12, discontinuityAt: [102, 110], discontinuitySequence: 7 });
    const { parsed } = roundTrip(p, "YES");
    expect(parsed.discontinuitySequence).toBe(7);
    expect(parsed.segments.filter((s) => s.discontinuity).map((s) => s.msn)).toEqual([110]);
  });

  it("RFC 8216bis §6.2.5.1, §4.4.5.2, §8: _HLS_skip=v2 adds RECENTLY-REMOVED-DATERANGES and VERSION 10", () => {
    const { text, parsed } = roundTrip(base(), "v2");
    expect(parsed.version).toBe(10);
    expect(count(parsed, "#EXT-X-SKIP")).toBe(1);
    expect(lines(text)).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=6,RECENTLY-REMOVED-DATERANGES=""');
    // No DATERANGEs are ever emitted, so none can be older than the boundary.
    expect(text).not.toContain("#EXT-X-DATERANGE");
  });
});

describe("LL-HLS numbers (RFC 8216bis §4.4.3.8, Appendix B.1)", () => {
  it("match the worked table for TD 2 / PT 0.5 and TD 6 / PT 1", () => {
    expect(partHoldBack({ targetDuration: 2, partTarget: 0.5 })).toBe(1.5);
    expect(partHoldBack({ targetDuration: 6, partTarget: 1 })).toBe(3);
    expect(holdBack({ targetDuration: 6, partTarget: 1 })).toBe(18);
    expect(canSkipUntil({ targetDuration: 2, partTarget: 0.5 })).toBe(12);
    expect(advancePartLimit({ targetDuration: 2, partTarget: 0.5 })).toBe(6);
    expect(advancePartLimit({ targetDuration: 6, partTarget: 1 })).toBe(3);
    expect(advancePartLimit({ targetDuration: 2, partTarget: 0.1 })).toBe(30);
    expect(advancePartLimit({ targetDuration: 2, partTarget: 0.3 })).toBe(10);
    expect(blockingTimeoutMs({ targetDuration: 2, partTarget: 0.5 })).toBe(6000);
    expect(cacheLifetimes({ targetDuration: 2, partTarget: 0.5 })).toMatchObject({
      blockingPlaylist: 12,
      blockingPlaylistError: 8,
      playlist: 1,
      playlistError: 2,
      hintedMedia: 12,
      hintedMediaError: 2,
    });
  });

  it("formatSeconds keeps a decimal point and trims trailing zeros", () => {
    expect(formatSeconds(2)).toBe("2.0");
    expect(formatSeconds(10)).toBe("10.0");
    expect(formatSeconds(0.5)).toBe("0.5");
    expect(formatSeconds(0.490666666)).toBe("0.49067");
    expect(formatSeconds(1.5)).toBe("1.5");
  });
});
