import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it, vi } from "vitest";
import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../shared/hls/index.ts";
import { concat } from "../../test/support/ffmpeg-fixtures.ts";
import { bytesOf, metricValue, partBytes, PARTS, PT, Pusher, readJson, SINGLE, startOrigin, TD, track, turns, type TestOrigin, originPerTest } from "../../test/support/origin-harness.ts";


let t: TestOrigin;
let p: Pusher;

originPerTest("demo", {}, (o, pusher) => ((t = o), (p = pusher)));
afterEach(() => {
  vi.useRealTimers();
});

const url = (rendition: string, query = "") => `/live/demo/${rendition}/index.m3u8${query}`;
const state = (rendition: string) => t.origin.registry.get("demo")!.renditions.get(rendition)!;
/** Waits (a few event-loop turns at most) until `n` requests are parked on the rendition, and checks they are. */
const parked = async (rendition: string, n = 1) => {
  for (let i = 0; i < 50 && state(rendition).waiterCount < n; i++) await turns(1);
  expect(state(rendition).waiterCount).toBe(n);
};
/** A blocking request for `query` on 720p parks (no answer yet); then it is aborted. */
const expectParksUntilAborted = async (query: string) => {
  const ctrl = new AbortController();
  const req = track(t.request(url("720p", query), { signal: ctrl.signal }));
  await parked("720p");
  expect(req.settled()).toBe(false);
  ctrl.abort();
  await req.promise;
};
const partUris = (text: string) => parseMediaPlaylist(text).segments.flatMap((s) => s.parts.map((x) => x.uri));

describe("multivariant playlist (RFC 8216bis §4.4.6)", () => {
  it("Apple HLS authoring spec 9.11–9.12: VERSION 6 and EXT-X-INDEPENDENT-SEGMENTS", async () => {
    const { res, text } = await t.get("/live/demo/master.m3u8");
    expect(res.status).toBe(200);
    const mv = parseMultivariantPlaylist(text);
    expect(text.startsWith("#EXTM3U\n#EXT-X-VERSION:6\n")).toBe(true);
    expect(mv.tags.filter((x) => x === "#EXT-X-INDEPENDENT-SEGMENTS")).toHaveLength(1);
  });

  it("RFC 8216bis §4.4.6.1(.1): the audio rendition is an EXT-X-MEDIA group with NAME, LANGUAGE, DEFAULT/AUTOSELECT; variants reference it", async () => {
    const mv = parseMultivariantPlaylist((await t.get("/live/demo/master.m3u8")).text);
    expect(mv.media).toEqual([
      { TYPE: "AUDIO", "GROUP-ID": "audio", NAME: "audio", LANGUAGE: "en", DEFAULT: "YES", AUTOSELECT: "YES", CHANNELS: "2", URI: "audio/index.m3u8" },
    ]);
    for (const v of mv.variants) expect(v.attributes.AUDIO).toBe("audio");
    // The audio rendition is not a variant of its own.
    expect(mv.variants.map((v) => v.uri)).toEqual(["720p/index.m3u8", "360p/index.m3u8"]);
  });

  it("rules 56, 57: CODECS lists video and audio codecs; RESOLUTION and FRAME-RATE (3 decimals) per variant", async () => {
    const mv = parseMultivariantPlaylist((await t.get("/live/demo/master.m3u8")).text);
    const [hi, lo] = mv.variants;
    expect(hi!.attributes).toMatchObject({ CODECS: "avc1.64001f,mp4a.40.2", RESOLUTION: "1280x720", "FRAME-RATE": "30.000" });
    expect(lo!.attributes).toMatchObject({ CODECS: "avc1.4d401e,mp4a.40.2", RESOLUTION: "640x360", "FRAME-RATE": "30.000" });
  });

  it("rules 54, 55: before any segment, BANDWIDTH / AVERAGE-BANDWIDTH are the configured bitrates plus audio", async () => {
    const mv = parseMultivariantPlaylist((await t.get("/live/demo/master.m3u8")).text);
    expect(mv.variants.map((v) => [v.attributes.BANDWIDTH, v.attributes["AVERAGE-BANDWIDTH"]])).toEqual([
      ["3128000", "3128000"],
      ["928000", "928000"],
    ]);
  });

  it("rules 54, 55: BANDWIDTH is the measured peak over all segments (pushed), AVERAGE-BANDWIDTH the latest average", async () => {
    const peaks: Record<string, [number, number][]> = {
      "720p": [[3_400_000, 2_900_000], [3_900_000, 2_950_000], [3_100_000, 3_000_000]],
      "360p": [[880_000, 790_000], [850_000, 800_000], [940_000, 810_000]],
      audio: [[131_000, 128_000], [133_000, 128_500], [129_000, 129_000]],
    };
    for (let msn = 0; msn < 3; msn++) {
      for (let i = 0; i < PARTS; i++) await p.pushPart(msn, i);
      for (const r of p.renditions) {
        const [peak, avg] = peaks[r]![msn]!;
        expect((await p.segment(r, msn, { peakBitrate: peak, averageBitrate: avg })).status).toBe(200);
      }
    }
    const mv = parseMultivariantPlaylist((await t.get("/live/demo/master.m3u8")).text);
    expect(mv.variants.map((v) => [v.uri, Number(v.attributes.BANDWIDTH), Number(v.attributes["AVERAGE-BANDWIDTH"])])).toEqual([
      ["720p/index.m3u8", 3_900_000 + 133_000, 3_000_000 + 129_000],
      ["360p/index.m3u8", 940_000 + 133_000, 810_000 + 129_000],
    ]);
  });

  it("Apple HLS authoring spec 9.14, 1.28–1.29: without pushed figures, BANDWIDTH is the peak measured from the segment bytes, not the first segment's rate", async () => {
    const single = new Pusher(t, "measured", SINGLE);
    await single.announce();
    const r = SINGLE.renditions[0]!.name;
    // Segments of 4 parts × 10 000, 40 000, 20 000 bytes (+ box headers): the second is the peak.
    const sizes = [10_000, 40_000, 20_000];
    const segBytes: number[] = [];
    for (const [msn, size] of sizes.entries()) {
      let total = 0;
      for (let i = 0; i < PARTS; i++) {
        const bytes = partBytes("measured", r, msn, i, size);
        total += bytes.byteLength;
        expect((await single.part(r, msn, i, { bytes })).status).toBe(200);
      }
      segBytes.push(total);
      expect((await single.segment(r, msn)).status).toBe(200);
    }
    const mv = parseMultivariantPlaylist((await t.get("/live/measured/master.m3u8")).text);
    expect(Number(mv.variants[0]!.attributes.BANDWIDTH)).toBe(Math.round((Math.max(...segBytes) * 8) / TD));
  });

  it("a dropped rung (rendition ended) leaves the multivariant; the others stay", async () => {
    await p.pushSegment(0);
    expect((await p.endRendition("720p")).status).toBe(200);
    const mv = parseMultivariantPlaylist((await t.get("/live/demo/master.m3u8")).text);
    expect(mv.variants.map((v) => v.uri)).toEqual(["360p/index.m3u8"]);
    // Its media playlist now ends; the survivors no longer report it (RFC 8216bis B.1).
    expect(parseMediaPlaylist((await t.get(url("720p"))).text).endList).toBe(true);
    const reports = parseMediaPlaylist((await t.get(url("360p"))).text).renditionReports.map((r) => r.URI);
    expect(reports).toEqual(["../audio/index.m3u8"]);
  });

  it("Apple HLS authoring spec 8.24, 8.18, 10.4: served as application/vnd.apple.mpegurl with a 0.5 × TD lifetime, gzip on request", async () => {
    const plain = await t.request("/live/demo/master.m3u8");
    expect(plain.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(plain.headers.get("cache-control")).toBe(`public, max-age=${Math.round(0.5 * TD)}`);
    const text = await plain.text();
    const gz = await t.request("/live/demo/master.m3u8", { headers: { "accept-encoding": "gzip, deflate, br" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(gunzipSync(await bytesOf(gz)).toString("utf8")).toBe(text);
  });
});

describe("media playlist (RFC 8216bis §4.4.3–4.4.5, §6.2.1–6.2.2)", () => {
  it("rules 1, 5, 7, 9, 10, 12, 13: header, server control, PART-INF, MAP and PDT of a live playlist", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    const { res, text } = await t.get(url("720p"));
    expect(res.status).toBe(200);
    const pl = parseMediaPlaylist(text);
    expect(pl.version).toBe(6);
    expect(pl.targetDuration).toBe(TD);
    expect(pl.partTarget).toBe(PT);
    expect(pl.serverControl).toEqual({ "CAN-BLOCK-RELOAD": "YES", "CAN-SKIP-UNTIL": String(6 * TD) + ".0", "PART-HOLD-BACK": "1.5" });
    expect(pl.mediaSequence).toBe(0);
    expect(pl.discontinuitySequence).toBe(0);
    expect(pl.segments.map((s) => [s.msn, s.uri, s.duration, s.map, s.programDateTime])).toEqual([
      [0, "seg0.m4s", 2, "init0.mp4", "2025-01-01T12:00:00.000Z"],
      [1, undefined, undefined, "init0.mp4", "2025-01-01T12:00:02.000Z"],
    ]);
    expect(pl.segments[0]!.parts.map((x) => [x.uri, x.duration, x.independent])).toEqual([
      ["part0.0.m4s", 0.5, true],
      ["part0.1.m4s", 0.5, false],
      ["part0.2.m4s", 0.5, false],
      ["part0.3.m4s", 0.5, false],
    ]);
    expect(pl.tags).not.toContain("#EXT-X-PLAYLIST-TYPE"); // RFC 8216bis §6.2.1–6.2.2
    expect(pl.endList).toBe(false);
  });

  it("rules 4, 11: every media playlist has the same TARGETDURATION and SERVER-CONTROL", async () => {
    await p.pushSegment(0);
    const lists = await Promise.all(p.renditions.map(async (r) => parseMediaPlaylist((await t.get(url(r))).text)));
    for (const l of lists) {
      expect(l.targetDuration).toBe(lists[0]!.targetDuration);
      expect(l.serverControl).toEqual(lists[0]!.serverControl);
      expect(l.partTarget).toBe(lists[0]!.partTarget);
    }
  });

  it("rules 33, 34: one PRELOAD-HINT TYPE=PART names the next part, which later appears under that URI", async () => {
    await p.pushPart(0, 0);
    await p.pushPart(0, 1);
    let pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    expect(pl.preloadHints).toEqual([{ TYPE: "PART", URI: "part0.2.m4s" }]);
    await p.pushPart(0, 2);
    await p.pushPart(0, 3);
    pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    expect(partUris((await t.get(url("720p"))).text)).toContain("part0.2.m4s");
    // After the last part of a 2 s segment the hint moves to part 0 of the next segment.
    expect(pl.preloadHints).toEqual([{ TYPE: "PART", URI: "part1.0.m4s" }]);
    await p.completeSegment(0);
    await p.pushPart(1, 0);
    expect(partUris((await t.get(url("720p"))).text)).toContain("part1.0.m4s");
  });

  it("rules 39, 40: one RENDITION-REPORT per other rendition, relative URI, LAST-MSN and LAST-PART", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    await p.pushPart(1, 1, ["360p"]);
    const pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    expect(pl.renditionReports).toEqual([
      { URI: "../360p/index.m3u8", "LAST-MSN": "1", "LAST-PART": "1" },
      { URI: "../audio/index.m3u8", "LAST-MSN": "1", "LAST-PART": "0" },
    ]);
  });

  it("RFC 8216bis §6.2.2: MEDIA-SEQUENCE goes up by one per segment that leaves the window", async () => {
    const window = state("720p").window.playlistSegments;
    await p.pushSegments(0, window - 1, ["720p"]);
    expect(parseMediaPlaylist((await t.get(url("720p"))).text).mediaSequence).toBe(0);
    await t.storage.idle();
    for (let extra = 1; extra <= 3; extra++) {
      await p.pushSegment(window - 1 + extra, ["720p"]);
      await t.storage.idle();
      const pl = parseMediaPlaylist((await t.get(url("720p"))).text);
      expect(pl.mediaSequence).toBe(extra);
      expect(pl.segments.filter((s) => s.uri)).toHaveLength(window);
      expect(pl.segments[0]!.uri).toBe(`seg${extra}.m4s`);
    }
  });

  it("RFC 8216bis §4.4.4.9, §6.2.1: a gap segment is listed with EXT-X-GAP and its URI answers 404", async () => {
    await p.pushSegment(0, ["720p"]);
    expect((await p.segment("720p", 1, { gapPdtMs: Date.UTC(2025, 0, 1, 12, 0, 2) })).status).toBe(200);
    const pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    expect(pl.segments.map((s) => [s.uri, s.gap ?? false])).toEqual([
      ["seg0.m4s", false],
      ["seg1.m4s", true],
    ]);
    expect((await t.request("/live/demo/720p/seg1.m4s")).status).toBe(404);
    expect(pl.preloadHints).toEqual([{ TYPE: "PART", URI: "part2.0.m4s" }]);
  });

  it("RFC 8216bis §6.2.2: EXT-X-PART tags go once their segment is > 3 × TD from the end; the part files stay fetchable", async () => {
    await p.pushSegments(0, 5, ["720p"]);
    await p.pushPart(6, 0, ["720p"]);
    const pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    // After segment 2 come 3 × 2 s + 0.5 s = 6.5 s > 3 × TD; after segment 3 only 4.5 s.
    const tagged = pl.segments.filter((s) => s.parts.length > 0).map((s) => s.msn);
    expect(tagged).toEqual([3, 4, 5, 6]);
    for (let msn = 0; msn <= 2; msn++) {
      for (let i = 0; i < PARTS; i++) {
        const res = await t.request(`/live/demo/720p/part${msn}.${i}.m4s`);
        expect(res.status, `part${msn}.${i}`).toBe(200);
        expect(await bytesOf(res)).toEqual(partBytes("demo", "720p", msn, i));
      }
    }
  });

  for (const playlistSegments of [6, 15]) {
    it(`RFC 8216bis §6.2.2: a part stays fetchable ≥ 3 × TD after its EXT-X-PART tag is removed (CASCADE_PLAYLIST_SEGMENTS=${playlistSegments})`, async () => {
      const o = await startOrigin({ playlistSegments, memorySegments: 4 });
      try {
        const q = new Pusher(o, "w", SINGLE);
        await q.announce();
        const r = SINGLE.renditions[0]!.name;
        const listed = new Set<string>();
        const removedAt = new Map<string, number>();
        let now = 0;
        for (let msn = 0; msn < playlistSegments + 6; msn++) {
          for (let i = 0; i < PARTS; i++) {
            await q.pushPart(msn, i);
            now += PT;
            if (i === PARTS - 1) await q.completeSegment(msn);
            await o.storage.idle();
            const uris = new Set(partUris((await o.get(`/live/w/${r}/index.m3u8`)).text));
            for (const u of listed) if (!uris.has(u) && !removedAt.has(u)) removedAt.set(u, now);
            for (const u of uris) listed.add(u);
            for (const [u, at] of removedAt) {
              if (now - at > 3 * TD) continue;
              const res = await o.request(`/live/w/${r}/${u}`);
              expect(res.status, `${u} ${now - at} s after its tag went`).toBe(200);
            }
          }
        }
        expect(removedAt.size).toBeGreaterThan(PARTS * 4);
      } finally {
        await o.close();
      }
    });
  }
});

describe("blocking playlist reload (RFC 8216bis §6.2.5.2)", () => {
  it("RFC 8216bis §6.2.5.2: a request for the next part waits and is woken by that part's push", async () => {
    await p.pushPart(0, 0);
    await p.pushPart(0, 1);
    const pending = track(t.request(url("720p", "?_HLS_msn=0&_HLS_part=2")));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    expect(await metricValue(t, "cascade_origin_blocked_requests")).toBe(1);
    // A push to another rendition does not satisfy it.
    await p.pushPart(0, 2, ["360p"]);
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.pushPart(0, 2, ["720p"]);
    const res = await pending.promise;
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe(`public, max-age=${6 * TD}`); // RFC 8216bis B.1: blocking playlist 200 → 6 × TD
    expect(partUris(await res.text())).toContain("part0.2.m4s");
    expect(state("720p").waiterCount).toBe(0);
    expect(await metricValue(t, "cascade_origin_blocked_requests")).toBe(0);
  });

  it("RFC 8216bis §6.2.5.2: _HLS_msn alone waits until segment M is complete", async () => {
    await p.pushSegment(0, ["720p"]);
    for (let i = 0; i < PARTS; i++) await p.pushPart(1, i, ["720p"]);
    const pending = track(t.request(url("720p", "?_HLS_msn=1")));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.completeSegment(1, ["720p"]);
    const pl = parseMediaPlaylist(await (await pending.promise).text());
    expect(pl.segments.map((s) => s.uri)).toEqual(["seg0.m4s", "seg1.m4s"]);
  });

  it("RFC 8216bis §6.2.5.2: a request already satisfied is answered at once", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    for (const q of ["?_HLS_msn=0", "?_HLS_msn=0&_HLS_part=1", "?_HLS_msn=1&_HLS_part=0"]) {
      const res = await t.request(url("720p", q));
      expect(res.status, q).toBe(200);
      expect(res.headers.get("cache-control")).toBe(`public, max-age=${6 * TD}`);
    }
    expect(state("720p").waiterCount).toBe(0);
  });

  it("RFC 8216bis §6.2.5.2: an _HLS_part past the last part of its parent means part 0 of the next segment", async () => {
    await p.pushSegment(0, ["720p"]);
    const pending = track(t.request(url("720p", `?_HLS_msn=0&_HLS_part=${PARTS}`)));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.pushPart(1, 0, ["720p"]);
    expect(partUris(await (await pending.promise).text())).toContain("part1.0.m4s");
  });

  it("RFC 8216bis §6.2.5.2: an _HLS_msn that already left the window gets the whole playlist at once", async () => {
    const window = state("720p").window.playlistSegments;
    await p.pushSegments(0, window + 2, ["720p"]);
    await t.storage.idle();
    await p.pushPart(window + 3, 0, ["720p"]);
    const res = await t.request(url("720p", "?_HLS_msn=1&_HLS_part=2"));
    expect(res.status).toBe(200);
    const pl = parseMediaPlaylist(await res.text());
    expect(pl.mediaSequence).toBeGreaterThan(1);
    expect(pl.segments.at(-1)!.parts.map((x) => x.uri)).toEqual([`part${window + 3}.0.m4s`]);
  });

  it("RFC 8216bis §6.2.5.2: _HLS_msn more than two past the last segment is a 400 at once; last + 2 blocks", async () => {
    await p.pushSegment(0, ["720p"]);
    const res = await t.request(url("720p", "?_HLS_msn=3"));
    expect(res.status).toBe(400);
    expect(await readJson(res)).toMatchObject({ lastMsn: 0 });
    expect((await t.request(url("720p", "?_HLS_msn=3&_HLS_part=0"))).status).toBe(400);
    await expectParksUntilAborted("?_HLS_msn=2");
    expect(state("720p").waiterCount).toBe(0);
  });

  it("RFC 8216bis §6.2.5.2: _HLS_part beyond the Advance Part Limit (3 / PART-TARGET = 6 parts) is a 400; at the limit it blocks", async () => {
    await p.pushPart(0, 0, ["720p"]);
    // Last part 0.0: 0.6 is 6 parts ahead (allowed), 0.7 and 1.3 (4 + 3) are 7 ahead.
    expect((await t.request(url("720p", "?_HLS_msn=0&_HLS_part=7"))).status).toBe(400);
    expect((await t.request(url("720p", "?_HLS_msn=1&_HLS_part=3"))).status).toBe(400);
    await expectParksUntilAborted("?_HLS_msn=1&_HLS_part=2");
  });

  it("RFC 8216bis §6.2.5.2: _HLS_part without _HLS_msn is a 400", async () => {
    await p.pushPart(0, 0);
    const res = await t.request(url("720p", "?_HLS_part=0"));
    expect(res.status).toBe(400);
    expect(await readJson(res)).toEqual({ error: "_HLS_part requires _HLS_msn", code: "invalid_request" });
  });

  it("malformed _HLS_msn / _HLS_part values are a 400", async () => {
    await p.pushPart(0, 0);
    for (const q of ["_HLS_msn=-1", "_HLS_msn=abc", "_HLS_msn=1.5", "_HLS_msn=01", "_HLS_msn=", "_HLS_msn=1e1", "_HLS_msn=0&_HLS_part=x", "_HLS_msn=0&_HLS_part=-1", "_HLS_msn=0&_HLS_part="]) {
      const res = await t.request(url("720p", `?${q}`));
      expect(res.status, q).toBe(400);
      expect(res.headers.get("cache-control"), q).toBe("public, max-age=1");
    }
    expect(await metricValue(t, "cascade_origin_viewer_requests_total", { kind: "playlist", status: "4xx" })).toBe(9);
  });

  it("RFC 8216bis §6.2.5: other _HLS_ parameters and unknown _HLS_skip values are ignored", async () => {
    await p.pushPart(0, 0);
    const plain = (await t.get(url("720p"))).text;
    for (const q of ["?_HLS_foo=1", "?_HLS_skip=NO", "?_HLS_skip=yes", "?other=1"]) {
      const { res, text } = await t.get(url("720p", q));
      expect(res.status, q).toBe(200);
      expect(text, q).toBe(plain);
    }
  });

  it("RFC 8216bis §6.2.5.2: a blocked request that is not satisfied within 3 × TD gets a 503", async () => {
    await p.pushPart(0, 0);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = track(t.request(url("720p", "?_HLS_msn=0&_HLS_part=1")));
    await vi.advanceTimersByTimeAsync(3 * TD * 1000 - 1);
    expect(pending.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const res = await pending.promise;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe(String(TD));
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(state("720p").waiterCount).toBe(0);
  });

  it("RFC 8216bis §6.2.5.2: after ENDLIST, _HLS_msn/_HLS_part are ignored (no 400, no blocking)", async () => {
    await p.pushSegment(0);
    await p.end();
    for (const q of ["?_HLS_msn=99", "?_HLS_msn=1&_HLS_part=0", "?_HLS_msn=0&_HLS_part=50"]) {
      const res = await t.request(url("720p", q));
      expect(res.status, q).toBe(200);
      expect(parseMediaPlaylist(await res.text()).endList).toBe(true);
    }
  });

  it("a blocked request is released when the stream ends", async () => {
    await p.pushPart(0, 0);
    const pending = track(t.request(url("720p", "?_HLS_msn=1")));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.end();
    const res = await pending.promise;
    expect(res.status).toBe(200);
    expect(parseMediaPlaylist(await res.text()).endList).toBe(true);
  });

  it("RFC 8216bis B.1: the same blocking URL gives the same answer; many waiters are woken by one push", async () => {
    await p.pushPart(0, 0);
    const waiting = Array.from({ length: 20 }, () => t.request(url("720p", "?_HLS_msn=0&_HLS_part=1")));
    await parked("720p", 20);
    await p.pushPart(0, 1, ["720p"]);
    const bodies = await Promise.all(waiting.map(async (r) => (await r).text()));
    expect(new Set(bodies).size).toBe(1);
    expect((await t.get(url("720p", "?_HLS_msn=0&_HLS_part=1"))).text).toBe(bodies[0]);
  });

  it("an aborted blocked request leaves no waiter behind", async () => {
    await p.pushPart(0, 0);
    const ctrl = new AbortController();
    const pending = t.request(url("720p", "?_HLS_msn=0&_HLS_part=2"), { signal: ctrl.signal });
    await parked("720p");
    ctrl.abort();
    await pending;
    expect(state("720p").waiterCount).toBe(0);
    expect(await metricValue(t, "cascade_origin_blocked_requests")).toBe(0);
  });
});

describe("playlist delta updates (RFC 8216bis §6.2.5.1)", () => {
  // 10 complete segments + 1 part: segments ending more than CAN-SKIP-UNTIL (12 s) before the end are skippable.
  const fill = async () => {
    await p.pushSegments(0, 9, ["720p"]);
    await p.pushPart(10, 0, ["720p"]);
  };

  it("rules 50, 51: _HLS_skip=YES replaces the old segments with one EXT-X-SKIP, VERSION 9", async () => {
    await fill();
    const full = parseMediaPlaylist((await t.get(url("720p"))).text);
    const { text } = await t.get(url("720p", "?_HLS_skip=YES"));
    const delta = parseMediaPlaylist(text);
    expect(delta.version).toBe(9);
    expect(delta.tags.filter((x) => x === "#EXT-X-SKIP")).toHaveLength(1);
    expect(text).toContain("#EXT-X-SKIP:SKIPPED-SEGMENTS=4\n");
    expect(delta.skippedSegments).toBe(4);
    expect(delta.mediaSequence).toBe(full.mediaSequence);
    expect(delta.discontinuitySequence).toBe(full.discontinuitySequence);
    // What remains is exactly the tail of the full playlist, with every tag.
    expect(delta.segments).toEqual(full.segments.slice(4));
    expect(delta.preloadHints).toEqual(full.preloadHints);
    expect(delta.renditionReports).toEqual(full.renditionReports);
  });

  it("RFC 8216bis §6.2.5.1, §4.4.5.2, §8: _HLS_skip=v2 is a VERSION 10 delta with RECENTLY-REMOVED-DATERANGES", async () => {
    await fill();
    const { text } = await t.get(url("720p", "?_HLS_skip=v2"));
    expect(parseMediaPlaylist(text).version).toBe(10);
    expect(text).toContain('#EXT-X-SKIP:SKIPPED-SEGMENTS=4,RECENTLY-REMOVED-DATERANGES=""\n');
  });

  it("RFC 8216bis §6.2.5.1: a delta update also works on a blocking request", async () => {
    await fill();
    const pending = track(t.request(url("720p", "?_HLS_msn=10&_HLS_part=1&_HLS_skip=YES")));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.pushPart(10, 1, ["720p"]);
    const delta = parseMediaPlaylist(await (await pending.promise).text());
    expect(delta.skippedSegments).toBe(4);
    expect(delta.segments.at(-1)!.parts.map((x) => x.uri)).toEqual(["part10.0.m4s", "part10.1.m4s"]);
  });

  it("RFC 8216bis §6.2.5.1: _HLS_skip is ignored after ENDLIST, and when nothing is old enough to skip", async () => {
    await p.pushSegments(0, 2, ["720p"]);
    expect((await t.get(url("720p", "?_HLS_skip=YES"))).text).toBe((await t.get(url("720p"))).text);
    await p.pushSegments(3, 9, ["720p"]);
    await p.end();
    const ended = (await t.get(url("720p", "?_HLS_skip=YES"))).text;
    expect(ended).not.toContain("#EXT-X-SKIP");
    expect(ended).toBe((await t.get(url("720p"))).text);
  });
});

describe("preload-hinted parts and media (RFC 8216bis §4.4.5.3, §6.2.6)", () => {
  it("rules 35, 36: the hinted part's GET blocks until the part is pushed, then returns all its bytes", async () => {
    await p.pushPart(0, 0);
    const big = partBytes("demo", "720p", 0, 1, 200_000);
    const pending = track(t.request("/live/demo/720p/part0.1.m4s"));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    expect((await p.part("720p", 0, 1, { bytes: big })).status).toBe(200);
    const res = await pending.promise;
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe(String(big.byteLength));
    expect(res.headers.get("content-type")).toBe("video/iso.segment");
    expect(res.headers.get("cache-control")).toBe("public, max-age=1209600, immutable");
    expect(await bytesOf(res)).toEqual(big);
  });

  it("RFC 8216bis §6.2.6: the hint at a segment boundary (part N+1.0) is requestable too", async () => {
    for (let i = 0; i < PARTS; i++) await p.pushPart(0, i, ["720p"]);
    const pending = track(t.request("/live/demo/720p/part1.0.m4s"));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.completeSegment(0, ["720p"]);
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.pushPart(1, 0, ["720p"]);
    expect(await bytesOf(await pending.promise)).toEqual(partBytes("demo", "720p", 1, 0));
  });

  it("RFC 8216bis §6.2.6: a hinted part that will never be published (the stream ended) answers 404", async () => {
    await p.pushPart(0, 0);
    const pending = track(t.request("/live/demo/720p/part0.1.m4s"));
    await parked("720p");
    expect(pending.settled()).toBe(false);
    await p.end();
    const res = await pending.promise;
    expect(res.status).toBe(404);
    expect(res.headers.get("cache-control")).toBe(`public, max-age=${TD}`);
  });

  it("RFC 8216bis §6.2.5.2: a hinted part still missing after 3 × TD gets a 503", async () => {
    await p.pushPart(0, 0);
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const pending = track(t.request("/live/demo/720p/part0.1.m4s"));
    await vi.advanceTimersByTimeAsync(3 * TD * 1000 - 1);
    expect(pending.settled()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const res = await pending.promise;
    expect(res.status).toBe(503);
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("RFC 8216bis §6.2.6: a part or segment URI that was never hinted answers 404 at once", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    for (const path of ["part1.2.m4s", "part1.5.m4s", "part2.0.m4s", "part9.0.m4s", "seg1.m4s", "seg2.m4s", "seg99.m4s", "init7.mp4"]) {
      const res = await t.request(`/live/demo/720p/${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get("cache-control"), path).toBe(`public, max-age=${TD}`); // RFC 8216bis B.1: hinted media error → 1 × TD
    }
    expect(state("720p").waiterCount).toBe(0);
  });

  it("404 for unknown streams, renditions and resources; 400 for a malformed stream id", async () => {
    const cases: [string, number][] = [
      ["/live/nostream/master.m3u8", 404],
      ["/live/nostream/720p/index.m3u8", 404],
      ["/live/nostream/720p/part0.0.m4s", 404],
      ["/live/demo/1080p/index.m3u8", 404],
      ["/live/demo/1080p/seg0.m4s", 404],
      ["/live/demo/720p/other.txt", 404],
      ["/live/demo/720p/seg-1.m4s", 404],
      ["/live/demo/720p/part01.0.m4s", 404],
      ["/live/demo/index.m3u8", 404],
      ["/live/Demo/master.m3u8", 400],
      ["/nothing", 404],
    ];
    for (const [path, status] of cases) {
      const res = await t.request(path);
      expect(res.status, path).toBe(status);
      expect(res.headers.get("content-type"), path).toMatch(/^application\/json/);
    }
    expect((await t.request("/live/nostream/master.m3u8")).headers.get("cache-control")).toBe("public, max-age=1");
  });

  it("Apple HLS authoring spec 8.24, 8.18, 10.4: init as video/mp4, parts and segments as video/iso.segment (audio too); all immutable", async () => {
    await p.pushSegment(0);
    for (const r of p.renditions) {
      const init = await t.request(`/live/demo/${r}/init0.mp4`);
      expect(init.headers.get("content-type"), r).toBe("video/mp4");
      expect(init.headers.get("cache-control")).toBe("public, max-age=1209600, immutable");
      for (const path of ["part0.0.m4s", "seg0.m4s"]) {
        const res = await t.request(`/live/demo/${r}/${path}`);
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type"), `${r} ${path}`).toBe("video/iso.segment");
        expect(res.headers.get("cache-control")).toBe("public, max-age=1209600, immutable");
        expect(res.headers.get("access-control-allow-origin")).toBe("*");
      }
    }
    const seg = await bytesOf(await t.request("/live/demo/audio/seg0.m4s"));
    expect(seg).toEqual(concat(...Array.from({ length: PARTS }, (_, i) => partBytes("demo", "audio", 0, i))));
  });
});

describe("HTTP delivery (RFC 8216bis Appendix B.1)", () => {
  it("RFC 8216bis B.1, §6.2.1: playlists are gzip-encoded when the client accepts gzip, with Vary: Accept-Encoding", async () => {
    await p.pushSegment(0);
    const plain = await t.request(url("720p"));
    const text = await plain.text();
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("Accept-Encoding");
    for (const q of ["", "?_HLS_msn=0&_HLS_part=3"]) {
      const gz = await t.request(url("720p", q), { headers: { "accept-encoding": "gzip" } });
      expect(gz.headers.get("content-encoding")).toBe("gzip");
      expect(gz.headers.get("vary")).toBe("Accept-Encoding");
      expect(gunzipSync(await bytesOf(gz)).toString("utf8")).toBe(text);
    }
  });

  it("RFC 8216bis B.1: cache lifetimes — plain playlist 0.5 × TD, blocking 6 × TD, ended playlist long", async () => {
    await p.pushSegment(0);
    expect((await t.request(url("720p"))).headers.get("cache-control")).toBe(`public, max-age=${Math.round(0.5 * TD)}`);
    expect((await t.request(url("720p", "?_HLS_msn=0"))).headers.get("cache-control")).toBe(`public, max-age=${6 * TD}`);
    expect((await t.request(url("720p", "?_HLS_skip=YES"))).headers.get("cache-control")).toBe(`public, max-age=${Math.round(0.5 * TD)}`);
    await p.end();
    expect((await t.request(url("720p"))).headers.get("cache-control")).toBe("public, max-age=1209600");
  });

  it("RFC 8216bis B.1: playlist errors — 1 × TD for a plain request, 4 × TD for a blocking one, short for 400", async () => {
    await p.pushPart(0, 0);
    expect((await t.request(url("1080p"))).headers.get("cache-control")).toBe(`public, max-age=${TD}`);
    expect((await t.request(url("1080p", "?_HLS_msn=0"))).headers.get("cache-control")).toBe(`public, max-age=${4 * TD}`);
    expect((await t.request(url("720p", "?_HLS_msn=9"))).headers.get("cache-control")).toBe("public, max-age=1");
  });

  it("Apple HLS authoring spec 8.24, 8.18, 10.4: playlists are application/vnd.apple.mpegurl with Last-Modified and CORS", async () => {
    await p.pushPart(0, 0);
    const res = await t.request(url("audio"));
    expect(res.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    const lm = Date.parse(res.headers.get("last-modified") ?? "");
    expect(Math.abs(lm - state("audio").lastModifiedMs)).toBeLessThan(1000);
  });
});

describe("stream end", () => {
  it("rules 37, 48: ENDLIST on every rendition, no PRELOAD-HINT, the open segment closed", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    await p.pushPart(1, 1);
    expect((await p.end()).status).toBe(200);
    for (const r of p.renditions) {
      const pl = parseMediaPlaylist((await t.get(url(r))).text);
      expect(pl.endList, r).toBe(true);
      expect(pl.preloadHints).toEqual([]);
      expect(pl.segments.map((s) => [s.uri, s.duration])).toEqual([
        ["seg0.m4s", 2],
        ["seg1.m4s", 1],
      ]);
      expect((await t.request(`/live/demo/${r}/seg1.m4s`)).status).toBe(200);
    }
    // The master still answers; the stream leaves the live list and the health count.
    expect((await t.request("/live/demo/master.m3u8")).status).toBe(200);
    expect(await (await t.request("/live/streams")).json()).toEqual([]);
    expect(await readJson(await t.request("/healthz"))).toMatchObject({ status: "ok", streams: 0 });
  });

  it("re-announcing an ended stream id starts a new live session", async () => {
    await p.pushSegment(0);
    await p.end();
    const again = new Pusher(t, "demo");
    await again.announce();
    await again.pushPart(0, 0);
    const pl = parseMediaPlaylist((await t.get(url("720p"))).text);
    expect(pl.endList).toBe(false);
    expect(pl.segments.map((s) => s.parts.length)).toEqual([1]);
  });
});

describe("rendered playlist cache", () => {
  it("RFC 8216bis B.1: a rendition ending (a dropped rung) never leaves another rendition's playlist stale", async () => {
    await p.pushSegment(0);
    await p.pushPart(1, 0);
    // Render (and cache) the 360p playlist, then end 720p: 720p leaves the set of active renditions.
    const cached = (await t.get(url("360p"))).text;
    expect(cached).toContain('URI="../720p/index.m3u8"');
    const dropped = state("720p").version;
    expect((await p.endRendition("720p")).status).toBe(200);
    // Advance audio by exactly as many changes as 720p had: a cache keyed on the sum of the active
    // renditions' versions would now see its old key again.
    const target = state("audio").version + dropped;
    let msn = 1;
    let part = 1;
    while (state("audio").version < target) {
      if (part === PARTS) {
        await p.completeSegment(msn, ["audio"]);
        msn++;
        part = 0;
        continue;
      }
      await p.pushPart(msn, part, ["audio"]);
      part++;
    }
    expect(state("audio").version).toBe(target);
    const pl = parseMediaPlaylist((await t.get(url("360p"))).text);
    expect(pl.renditionReports.map((r) => r.URI)).toEqual(["../audio/index.m3u8"]);
    const audio = state("audio").lastPart()!;
    expect(pl.renditionReports[0]).toMatchObject({ "LAST-MSN": String(audio.msn), "LAST-PART": String(audio.part) });
  });
});

describe("health and metrics", () => {
  it("/healthz reports ok and the live stream count", async () => {
    const res = await t.request("/healthz");
    expect(res.status).toBe(200);
    const body = await readJson(res);
    expect(body).toMatchObject({ status: "ok", streams: 1 });
    expect(typeof body.uptimeSeconds).toBe("number");
    expect((await t.request("/live/streams")).status).toBe(200);
    expect(await (await t.request("/live/streams")).json()).toEqual([
      expect.objectContaining({ id: "demo", renditions: ["720p", "360p", "audio"], playlist: "/live/demo/master.m3u8" }),
    ]);
  });

  it("/metrics is Prometheus text with the documented metric names; the counters move", async () => {
    await p.pushPart(0, 0);
    await t.request(url("720p"));
    await t.request("/live/demo/720p/part0.3.m4s");
    await p.part("720p", 0, 2, { seq: 999 });
    const res = await t.request("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    for (const name of [
      "cascade_origin_streams",
      "cascade_origin_parts_pushed_total",
      "cascade_origin_push_rejected_total",
      "cascade_origin_push_latency_seconds",
      "cascade_origin_blocked_requests",
      "cascade_origin_viewer_requests_total",
      "process_cpu_seconds_total",
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(await metricValue(t, "cascade_origin_streams")).toBe(1);
    expect(await metricValue(t, "cascade_origin_parts_pushed_total", { rendition_type: "video" })).toBe(2);
    expect(await metricValue(t, "cascade_origin_parts_pushed_total", { rendition_type: "audio" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_push_rejected_total", { status: "400" })).toBe(1);
    expect(await metricValue(t, "cascade_origin_viewer_requests_total", { kind: "playlist", status: "2xx" })).toBe(1);
    const before = await metricValue(t, "cascade_origin_viewer_requests_total", { kind: "part", status: "4xx" });
    expect(before).toBe(1);
    await t.request("/live/demo/720p/part5.0.m4s");
    expect(await metricValue(t, "cascade_origin_viewer_requests_total", { kind: "part", status: "4xx" })).toBe(before + 1);
    await t.request("/live/unknown/master.m3u8");
    expect(await metricValue(t, "cascade_origin_viewer_requests_total", { kind: "master", status: "4xx" })).toBe(1);
  });
});
