import { gunzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { concat } from "../../test/support/ffmpeg-fixtures.ts";
import type { StreamManifest } from "../../shared/push-protocol.ts";
import { originConfigFromEnv } from "../config.ts";
import { bytesOf, listFiles, partBytes, PARTS, PT, Pusher, SINGLE, startOrigin, TD, type TestOrigin } from "../../test/support/origin-harness.ts";

/**
 * The DVR window (issue 6): media playlists list every segment of the last `dvrWindowS` seconds
 * (the manifest's, else CASCADE_DVR_WINDOW), slide with MEDIA-SEQUENCE, stay cheap to reload with
 * delta updates, serve old segments from storage, and delete what left the window unless the
 * stream is recorded.
 */

let t: TestOrigin;
afterEach(async () => {
  await t?.close();
});

const NAME = SINGLE.renditions[0]!.name;
const url = (stream: string, query = "") => `/live/${stream}/${NAME}/index.m3u8${query}`;
const segBytes = (stream: string, msn: number) => concat(...Array.from({ length: PARTS }, (_, i) => partBytes(stream, NAME, msn, i)));
const state = (stream: string) => t.origin.registry.get(stream)!.renditions.get(NAME)!;

/** Announces `stream` with `manifest` and pushes segments 0..count-1, letting storage settle after each. */
const run = async (stream: string, manifest: StreamManifest, count: number, settleEach = true): Promise<Pusher> => {
  const p = new Pusher(t, stream, manifest);
  await p.announce();
  for (let msn = 0; msn < count; msn++) {
    await p.pushSegment(msn);
    if (settleEach) await t.storage.idle();
  }
  await t.storage.idle();
  return p;
};

const listedMsns = async (stream: string): Promise<number[]> => parseMediaPlaylist((await t.get(url(stream))).text).segments.map((s) => s.msn);

describe("DVR window: what a live media playlist lists", () => {
  it("lists every segment of the window behind the live edge, then slides it: MEDIA-SEQUENCE +1 per segment (RFC 8216bis §6.2.2), no PLAYLIST-TYPE (RFC 8216bis §6.2.1–6.2.2)", async () => {
    t = await startOrigin({ dvrWindowS: 60 });
    const p = await run("dvr", SINGLE, 40);
    // 60 s of 2 s segments: 30 listed, the oldest ten gone.
    expect(await listedMsns("dvr")).toEqual(Array.from({ length: 30 }, (_, i) => 10 + i));
    const { text } = await t.get(url("dvr"));
    const pl = parseMediaPlaylist(text);
    expect(pl.mediaSequence).toBe(10);
    expect(text).not.toContain("#EXT-X-PLAYLIST-TYPE");
    expect(pl.segments.reduce((a, s) => a + (s.duration ?? 0), 0)).toBe(60);
    for (let extra = 1; extra <= 3; extra++) {
      await p.pushSegment(39 + extra);
      await t.storage.idle();
      const next = parseMediaPlaylist((await t.get(url("dvr"))).text);
      expect(next.mediaSequence).toBe(10 + extra);
      expect(next.segments).toHaveLength(30);
    }
    // Part tags only near the live edge (RFC 8216bis §6.2.2): the DVR part of the list is plain segments.
    const tagged = pl.segments.filter((s) => s.parts.length > 0).map((s) => s.msn);
    expect(tagged.length).toBeLessThanOrEqual(4);
    expect(Math.min(...tagged)).toBeGreaterThanOrEqual(36);
  });

  it("a window longer than the stream so far never slides: everything from MSN 0 is listed", async () => {
    t = await startOrigin({ dvrWindowS: 7200 });
    await run("long", SINGLE, 50, false);
    const pl = parseMediaPlaylist((await t.get(url("long"))).text);
    expect(pl.mediaSequence).toBe(0);
    expect(pl.segments.map((s) => s.msn)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it("dvrWindowS 0 disables it: the live window only (CASCADE_PLAYLIST_SEGMENTS)", async () => {
    t = await startOrigin({ dvrWindowS: 7200, playlistSegments: 15 });
    await run("nodvr", { ...SINGLE, dvrWindowS: 0 }, 40);
    expect(await listedMsns("nodvr")).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i));
  });

  it("per stream: the manifest's dvrWindowS wins over the origin default; without one the default applies", async () => {
    t = await startOrigin({ dvrWindowS: 60 });
    await run("deflt", SINGLE, 40);
    await run("short", { ...SINGLE, dvrWindowS: 40 }, 40);
    await run("shorter", { ...SINGLE, dvrWindowS: 10 }, 40);
    expect(await listedMsns("deflt")).toHaveLength(30);
    expect(await listedMsns("short")).toEqual(Array.from({ length: 20 }, (_, i) => 20 + i));
    // Never fewer than the live window (15 segments), whatever the window.
    expect(await listedMsns("shorter")).toHaveLength(15);
    expect(state("short").window.dvrSeconds).toBe(40);
  });

  it("a manifest update that shrinks the window applies at once", async () => {
    t = await startOrigin({ dvrWindowS: 7200 });
    const p = await run("shrink", SINGLE, 40);
    expect(await listedMsns("shrink")).toHaveLength(40);
    expect((await p.putManifest({ ...SINGLE, dvrWindowS: 50 })).status).toBe(200);
    expect(await listedMsns("shrink")).toEqual(Array.from({ length: 25 }, (_, i) => 15 + i));
  });

  it("CASCADE_DVR_WINDOW: default 7200 s, 0 allowed, garbage refused", () => {
    const base = { CASCADE_NODE_SECRET: "0123456789abcdef0123" };
    expect(originConfigFromEnv(base).dvrWindowS).toBe(7200);
    expect(originConfigFromEnv({ ...base, CASCADE_DVR_WINDOW: "0" }).dvrWindowS).toBe(0);
    expect(originConfigFromEnv({ ...base, CASCADE_DVR_WINDOW: "600" }).dvrWindowS).toBe(600);
    expect(() => originConfigFromEnv({ ...base, CASCADE_DVR_WINDOW: "-1" })).toThrow(/CASCADE_DVR_WINDOW/);
    expect(() => originConfigFromEnv({ ...base, CASCADE_DVR_WINDOW: "2h" })).toThrow(/CASCADE_DVR_WINDOW/);
  });
});

describe("DVR window: delta updates keep reloads small (rules 10, 50, 51, 53)", () => {
  it("a 2 h window holding 1,000 segments: the full playlist is large, a blocking reload with _HLS_skip=YES is a few KB", async () => {
    t = await startOrigin({ dvrWindowS: 7200 });
    const p = await run("big", SINGLE, 1000, false);
    await p.pushPart(1000, 0);
    const full = await t.get(url("big"));
    const fullPl = parseMediaPlaylist(full.text);
    expect(fullPl.segments).toHaveLength(1001);
    expect(Number(fullPl.serverControl["CAN-SKIP-UNTIL"])).toBe(6 * TD);

    // What hls.js asks for while it follows the live edge: the next part, blocking, as a delta.
    const pending = t.request(url("big", "?_HLS_msn=1000&_HLS_part=1&_HLS_skip=YES"), { headers: { "accept-encoding": "gzip" } });
    await p.pushPart(1000, 1);
    const res = await pending;
    const gz = new Uint8Array(await res.arrayBuffer());
    const delta = gunzipSync(gz).toString();
    const deltaPl = parseMediaPlaylist(delta);
    console.log(`DVR delta update: full playlist ${full.text.length} B (${fullPl.segments.length} segments), delta ${delta.length} B (${gz.byteLength} B gzip), skipped ${deltaPl.skippedSegments}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(full.text.length).toBeGreaterThan(60_000);
    expect(delta.length).toBeLessThan(3000);
    expect(deltaPl.skippedSegments).toBeGreaterThan(990);
    expect(deltaPl.mediaSequence).toBe(0);
    expect(deltaPl.version).toBe(9);
    // What is left is exactly the end of the full playlist, with its parts (RFC 8216bis §4.4.5.2, §6.2.5.1).
    const now = parseMediaPlaylist((await t.get(url("big"))).text);
    expect(deltaPl.segments).toEqual(now.segments.slice(deltaPl.skippedSegments));
    // The gzip of the (incrementally rendered) full playlist is the same text.
    const gzFull = await t.request(url("big"), { headers: { "accept-encoding": "gzip" } });
    expect(gunzipSync(new Uint8Array(await gzFull.arrayBuffer())).toString()).toBe((await t.get(url("big"))).text);
  });
});

describe("DVR window: segments out of memory come from storage", () => {
  it("segments and parts listed in the window but no longer in memory are served from storage, byte for byte", async () => {
    t = await startOrigin({ dvrWindowS: 7200, memorySegments: 8 });
    await run("old", SINGLE, 40);
    const s = state("old");
    expect(s.segments).toHaveLength(40);
    // Only the newest segments keep their bytes in memory (≥ 6 × TD worth: 8 here).
    expect(s.segments.filter((x) => x.parts.some((q) => q.bytes !== null)).map((x) => x.msn)).toEqual([32, 33, 34, 35, 36, 37, 38, 39]);
    for (const msn of [0, 1, 17, 31]) {
      const res = await t.request(`/live/old/${NAME}/seg${msn}.m4s`);
      expect(res.status, `seg${msn}`).toBe(200);
      expect(res.headers.get("cache-control")).toContain("immutable");
      expect(await bytesOf(res)).toEqual(segBytes("old", msn));
    }
    // Parts: read back by byte range within the live window (RFC 8216bis §6.2.2); older segments keep no
    // part records (memory per listed segment stays small), so their parts are 404 — players
    // fetch the whole segment there.
    expect(await bytesOf(await t.request(`/live/old/${NAME}/part26.2.m4s`))).toEqual(partBytes("old", NAME, 26, 2));
    expect(s.segments.filter((x) => x.compacted).map((x) => x.msn)).toEqual(Array.from({ length: 25 }, (_, i) => i));
    expect((await t.request(`/live/old/${NAME}/part5.2.m4s`)).status).toBe(404);
  });
});

describe("DVR window: storage beyond the window", () => {
  const files = async (stream: string) => {
    const session = t.origin.registry.get(stream)!.sessionId;
    return (await listFiles(t.storageDir)).filter((f) => f.startsWith(`${stream}/${session}/`)).map((f) => f.split("/").at(-1)!);
  };
  const segFiles = async (stream: string) =>
    (await files(stream))
      .filter((f) => f.startsWith("seg"))
      .map((f) => Number(/\d+/.exec(f)![0]))
      .sort((a, b) => a - b);

  it("not recorded: a segment that left the window is deleted once its availability period (RFC 8216bis §6.2.2) is over", async () => {
    t = await startOrigin({ dvrWindowS: 60 });
    const p = await run("gone", SINGLE, 40);
    // Listed: 10..39 (60 s). Removed 0..9; RFC 8216bis §6.2.2 keeps each for the longest playlist (60 s) + TD
    // after it ended, so at 80 s only what ended before 80 − 62 = 18 s is gone: segments 0..7.
    expect(await listedMsns("gone")).toEqual(Array.from({ length: 30 }, (_, i) => 10 + i));
    expect(await segFiles("gone")).toEqual(Array.from({ length: 32 }, (_, i) => 8 + i));
    expect((await files("gone")).includes("init0.mp4")).toBe(true);
    // Removed from the playlist but still in its availability period: still served.
    expect((await t.request(`/live/gone/${NAME}/seg9.m4s`)).status).toBe(200);
    expect((await t.request(`/live/gone/${NAME}/seg0.m4s`)).status).toBe(404);
    // It keeps going: storage stays bounded by the window plus that period.
    for (let msn = 40; msn < 60; msn++) {
      await p.pushSegment(msn);
      await t.storage.idle();
    }
    expect(await segFiles("gone")).toEqual(Array.from({ length: 32 }, (_, i) => 28 + i));
  });

  it("a DVR-only recording (mode dvr) is treated the same; a recorded stream (mode record) keeps every segment", async () => {
    t = await startOrigin({ dvrWindowS: 60 });
    await run("dvrrec", { ...SINGLE, recording: { id: "rec0dvr0001", mode: "dvr" } } as StreamManifest, 40);
    await run("rec", { ...SINGLE, recording: { id: "rec0rec0001", mode: "record" } } as StreamManifest, 40);
    expect(await segFiles("dvrrec")).toEqual(Array.from({ length: 32 }, (_, i) => 8 + i));
    expect(await segFiles("rec")).toEqual(Array.from({ length: 40 }, (_, i) => i));
    // The playlist slides either way; what left it is served from storage while it is there.
    expect(await listedMsns("rec")).toEqual(Array.from({ length: 30 }, (_, i) => 10 + i));
    expect(await bytesOf(await t.request(`/live/rec/${NAME}/seg0.m4s`))).toEqual(segBytes("rec", 0));
  });

  it("keepStorage (an archive of a DVR-only recording started) stops deletion from then on", async () => {
    t = await startOrigin({ dvrWindowS: 60 });
    const p = await run("kept", SINGLE, 40);
    expect(await segFiles("kept")).toEqual(Array.from({ length: 32 }, (_, i) => 8 + i));
    expect(t.origin.registry.keepStorage("kept")).toBe(true);
    for (let msn = 40; msn < 50; msn++) {
      await p.pushSegment(msn);
      await t.storage.idle();
    }
    expect(await segFiles("kept")).toEqual(Array.from({ length: 42 }, (_, i) => 8 + i));
    // A later manifest push (failover, a dropped rung) does not turn deletion back on.
    expect((await p.putManifest()).status).toBe(200);
    await p.pushSegment(50);
    await t.storage.idle();
    expect((await segFiles("kept"))[0]).toBe(8);
  });

  it("the live window only (dvrWindowS 0): the same rule with the 30 s live window", async () => {
    t = await startOrigin({ dvrWindowS: 0, playlistSegments: 15 });
    await run("live", SINGLE, 40);
    // Listed 25..39 (30 s); the longest playlist was 30 s, so what ended before 80 − 32 = 48 s is gone.
    expect(await segFiles("live")).toEqual(Array.from({ length: 17 }, (_, i) => 23 + i));
  });
});

describe("DVR window: part timing stays live", () => {
  it("the preload hint and rendition reports are unchanged by a long window", async () => {
    t = await startOrigin({ dvrWindowS: 7200 });
    const p = await run("hint", SINGLE, 20, false);
    await p.pushPart(20, 0);
    const pl = parseMediaPlaylist((await t.get(url("hint"))).text);
    expect(pl.preloadHints).toEqual([{ TYPE: "PART", URI: "part20.1.m4s" }]);
    expect(pl.partTarget).toBe(PT);
  });
});
