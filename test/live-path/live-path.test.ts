import type { ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMultivariantPlaylist } from "../../shared/hls/index.ts";
import { validateMediaFragment } from "../../shared/mp4/index.ts";
import { PUSH_HEADERS, pushPaths } from "../../shared/push-protocol.ts";
import { isJpeg, jpegSize } from "../../shared/thumbnail.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { exited, ffprobeFrames, getPlaylist, NODE_SECRET, publish, sleep, startStack, STREAM_KEY, waitFor, type LiveStack } from "./harness.ts";

/**
 * The live path end to end: a real RTMP publish (ffmpeg) → transcoder (real ffmpeg ladder) →
 * core-origin over HTTP, checked the way a player sees it against RFC 8216bis.
 */
let stack: LiveStack;
let publisher: ChildProcess | null = null;
const GRACE_S = 9;
/** When the master playlist first answered 200 (the stream is up at the origin). */
let masterAt = 0;
/** ETag of the first thumbnail; a later one (every 10 s) replaces it. */
let firstThumbnailEtag: string | null = null;

beforeAll(async () => {
  stack = await startStack({ graceSeconds: GRACE_S });
});

afterAll(async () => {
  publisher?.kill("SIGKILL");
  await stack?.close();
});

const media = (r: string, q = "") => `${stack.originUrl}/live/it/${r}/index.m3u8${q}`;

describe("live path: RTMP → ladder → LL-HLS at the origin", () => {
  it("refuses a wrong stream key before the publisher is live", async () => {
    const bad = publish(stack.rtmpUrl, "not-the-key-123", 5);
    const code = await exited(bad);
    expect(code).not.toBe(0);
    expect(stack.node.pipelines.size).toBe(0);
    expect((await fetch(`${stack.originUrl}/live/it/master.m3u8`)).status).toBe(404);
  });

  it("serves the multivariant playlist with the measured ladder and an audio group", async () => {
    publisher = publish(stack.rtmpUrl, STREAM_KEY);
    const text = await waitFor("master playlist", async () => {
      const res = await fetch(`${stack.originUrl}/live/it/master.m3u8`);
      return res.ok ? res.text() : null;
    });
    masterAt = Date.now();
    const master = parseMultivariantPlaylist(text);
    expect(master.tags).toContain("#EXT-X-INDEPENDENT-SEGMENTS");
    expect(master.media).toHaveLength(1);
    expect(master.media[0]!["TYPE"]).toBe("AUDIO");
    expect(master.media[0]!["GROUP-ID"]).toBe("audio");
    expect(master.media[0]!["LANGUAGE"]).toBe("en");
    expect(master.variants.map((v) => v.uri)).toEqual(["180p/index.m3u8", "90p/index.m3u8"]);
    const top = master.variants[0]!.attributes;
    expect(top["RESOLUTION"]).toBe("320x180");
    expect(top["FRAME-RATE"]).toBe("30.000");
    expect(top["CODECS"]).toMatch(/^avc1\.4d40[0-9a-f]{2},mp4a\.40\.2$/);
    expect(Number(top["BANDWIDTH"])).toBeGreaterThan(0);
    expect(Number(top["AVERAGE-BANDWIDTH"])).toBeGreaterThan(0);
    expect(top["AUDIO"]).toBe("audio");
  });

  it("a JPEG thumbnail (320 px wide) of the first frames reaches the origin within seconds of the start", async () => {
    const res = await waitFor("thumbnail", async () => {
      const r = await fetch(`${stack.originUrl}/live/it/thumbnail.jpg`);
      return r.ok ? r : null;
    }, 10_000);
    // The first thumbnail is the first frame (select, not fps=1/10, which would wait 5–10 s).
    expect(Date.now() - masterAt).toBeLessThan(3_000);
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    expect(res.headers.get("cache-control")).toBe("public, max-age=5");
    const jpeg = new Uint8Array(await res.arrayBuffer());
    expect(jpeg.subarray(0, 2)).toEqual(new Uint8Array([0xff, 0xd8]));
    expect(jpeg.subarray(-2)).toEqual(new Uint8Array([0xff, 0xd9]));
    expect(isJpeg(jpeg)).toBe(true);
    expect(jpegSize(jpeg)).toEqual({ width: 320, height: 180 });
    firstThumbnailEtag = res.headers.get("etag");
    expect(firstThumbnailEtag).toBeTruthy();
  });

  it("publishes parts, segments, hints and rendition reports on every rendition", async () => {
    const { playlist } = await waitFor("two segments", async () => {
      const r = await getPlaylist(media("180p"));
      return r.playlist && r.playlist.segments.filter((s) => s.uri).length >= 2 ? r : null;
    });
    const p = playlist!;
    expect(p.version).toBe(6);
    expect(p.targetDuration).toBe(2);
    expect(p.partTarget).toBe(0.5);
    expect(p.serverControl).toMatchObject({ "CAN-BLOCK-RELOAD": "YES", "PART-HOLD-BACK": "1.5", "CAN-SKIP-UNTIL": "12.0" });
    expect(p.preloadHints).toHaveLength(1);
    expect(p.renditionReports.map((r) => r["URI"]).sort()).toEqual(["../90p/index.m3u8", "../audio/index.m3u8"]);
    for (const seg of p.segments) {
      expect(seg.programDateTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      if (seg.parts.length > 0) expect(seg.parts[0]!.independent).toBe(true);
      for (const part of seg.parts) expect(part.duration).toBeLessThanOrEqual(0.5);
    }
    // Capture-to-playlist: the newest segment's PDT is recent wall-clock time.
    const newest = Date.parse(p.segments.at(-1)!.programDateTime!);
    expect(Date.now() - newest).toBeLessThan(10_000);
    const audio = (await getPlaylist(media("audio"))).playlist!;
    expect(audio.targetDuration).toBe(2);
    expect(audio.serverControl).toEqual(p.serverControl);
  });

  it("blocking reload returns the playlist once the requested part exists; bad directives get 400", async () => {
    const p = (await getPlaylist(media("180p"))).playlist!;
    const last = p.segments.at(-1)!;
    const nextPart = last.uri ? { msn: last.msn + 1, part: 0 } : { msn: last.msn, part: last.parts.length };
    const started = Date.now();
    const r = await getPlaylist(media("180p", `?_HLS_msn=${nextPart.msn}&_HLS_part=${nextPart.part}`));
    expect(r.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(6000);
    const seg = r.playlist!.segments.find((s) => s.msn === nextPart.msn)!;
    expect(seg.parts.length).toBeGreaterThan(nextPart.part);
    expect(r.res.headers.get("cache-control")).toBe("public, max-age=12");
    expect((await fetch(media("180p", `?_HLS_msn=${last.msn + 10}`))).status).toBe(400);
    expect((await fetch(media("180p", `?_HLS_part=1`))).status).toBe(400);
    expect((await fetch(media("180p", `?_HLS_msn=${nextPart.msn}&_HLS_part=${nextPart.part + 9}`))).status).toBe(400);
    // An msn that already left (or is older than) the window gets the whole playlist at once.
    expect((await getPlaylist(media("180p", `?_HLS_msn=0`))).status).toBe(200);
  });

  it("a hinted part's GET blocks until the whole part exists", async () => {
    const p = (await getPlaylist(media("90p"))).playlist!;
    const hint = p.preloadHints[0]!["URI"]!;
    const res = await fetch(`${stack.originUrl}/live/it/90p/${hint}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("video/iso.segment");
    const bytes = new Uint8Array(await res.arrayBuffer());
    expect(validateMediaFragment(bytes)).toBeNull();
    const after = (await getPlaylist(media("90p"))).text;
    expect(after).toContain(`URI="${hint}"`);
    // A future part that was never hinted is a 404 at once.
    expect((await fetch(`${stack.originUrl}/live/it/90p/part${p.segments.at(-1)!.msn + 5}.0.m4s`)).status).toBe(404);
  });

  it("ffprobe decodes init + whole segments and init + parts of every rung", async () => {
    const dir = stack.storageDir;
    for (const r of ["180p", "90p", "audio"]) {
      const p = (await getPlaylist(media(r))).playlist!;
      const seg = p.segments.find((s) => s.uri && s.parts.length > 0)!;
      const init = new Uint8Array(await (await fetch(`${stack.originUrl}/live/it/${r}/${seg.map}`)).arrayBuffer());
      const segBytes = new Uint8Array(await (await fetch(`${stack.originUrl}/live/it/${r}/${seg.uri}`)).arrayBuffer());
      const partBytes = await Promise.all(seg.parts.map(async (pt) => new Uint8Array(await (await fetch(`${stack.originUrl}/live/it/${r}/${pt.uri}`)).arrayBuffer())));
      const whole = path.join(dir, `${r}-seg.mp4`);
      const fromParts = path.join(dir, `${r}-parts.mp4`);
      writeFileSync(whole, Buffer.concat([init, segBytes]));
      writeFileSync(fromParts, Buffer.concat([init, ...partBytes]));
      // A segment is exactly its parts.
      expect(Buffer.concat(partBytes).equals(Buffer.from(segBytes))).toBe(true);
      for (const file of [whole, fromParts]) {
        const { code, out } = await ffprobeFrames(file);
        expect(code).toBe(0);
        const stream = (JSON.parse(out) as { streams: Array<{ codec_name: string; nb_read_frames: string; width?: number }> }).streams[0]!;
        expect(stream.codec_name).toBe(r === "audio" ? "aac" : "h264");
        if (r === "180p") {
          expect(stream.width).toBe(320);
          expect(Number(stream.nb_read_frames)).toBe(60);
        }
        expect(Number(stream.nb_read_frames)).toBeGreaterThan(0);
      }
    }
  });

  it("answers _HLS_skip with a delta update once the playlist is longer than the skip boundary", async () => {
    const r = await waitFor("a delta update", async () => {
      const res = await getPlaylist(media("180p", "?_HLS_skip=YES"));
      return res.playlist && res.playlist.skippedSegments > 0 ? res : null;
    }, 40_000);
    const full = (await getPlaylist(media("180p"))).playlist!;
    const delta = r.playlist!;
    expect(delta.version).toBe(9);
    expect(delta.tags.filter((t) => t === "#EXT-X-SKIP")).toHaveLength(1);
    expect(delta.mediaSequence).toBe(full.mediaSequence);
    const v2 = await getPlaylist(media("180p", "?_HLS_skip=v2"));
    expect(v2.playlist!.version).toBe(10);
    expect(v2.text).toContain('RECENTLY-REMOVED-DATERANGES=""');
  });

  it("the thumbnail is replaced by a newer frame every interval (10 s) and kept in storage", async () => {
    // By now the stream has run for more than 10 s: no extra waiting in the usual case.
    const etag = await waitFor("a newer thumbnail", async () => {
      const r = await fetch(`${stack.originUrl}/live/it/thumbnail.jpg`);
      const e = r.headers.get("etag");
      await r.arrayBuffer();
      return r.ok && e !== firstThumbnailEtag ? e : null;
    }, 15_000);
    expect(etag).not.toBe(firstThumbnailEtag);
    expect(existsSync(path.join(stack.storageDir, "it", "thumbnail.jpg"))).toBe(true);
  });

  it("rejects a bad push with nothing stored", async () => {
    const before = (await getPlaylist(media("180p"))).text;
    const token = await signNodeToken(NODE_SECRET, "intruder");
    const last = parseInt(/seg(\d+)\.m4s\s*$/m.exec(before)?.[1] ?? "0", 10);
    const res = await fetch(`${stack.originUrl}${pushPaths.part("it", "180p", last + 1, 0)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, [PUSH_HEADERS.seq]: "999999", [PUSH_HEADERS.partDuration]: "0.5" },
      body: "definitely not fMP4",
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/fMP4/);
    const noAuth = await fetch(`${stack.originUrl}/ingest/v1/streams/it`, { method: "PUT", body: "{}" });
    expect(noAuth.status).toBe(401);
  });

  it("publisher gone: blocking requests 503 after 3 × TD; a reconnect within the grace period continues after a DISCONTINUITY; then ENDLIST", async () => {
    publisher!.kill("SIGKILL");
    await exited(publisher!);
    await waitFor("reconnecting", async () => [...stack.node.pipelines.values()][0]?.state === "reconnecting");
    const p = (await getPlaylist(media("180p"))).playlist!;
    const last = p.segments.at(-1)!;
    const started = Date.now();
    const blocked = await fetch(media("180p", `?_HLS_msn=${last.msn + 1}&_HLS_part=1`));
    expect(blocked.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5_500);

    publisher = publish(stack.rtmpUrl, STREAM_KEY);
    const resumed = await waitFor("a discontinuity", async () => {
      const r = await getPlaylist(media("180p"));
      return r.playlist?.segments.some((s) => s.discontinuity && s.parts.length > 1) ? r.playlist : null;
    });
    const disc = resumed.segments.find((s) => s.discontinuity)!;
    expect(disc.msn).toBeGreaterThan(last.msn);
    expect(resumed.tags).toContain("#EXT-X-DISCONTINUITY");
    // MSNs are positional: no rendition may skip one (a rendition without media for an MSN lists an EXT-X-GAP segment).
    for (const r of ["180p", "90p", "audio"]) {
      const segs = (await getPlaylist(media(r))).playlist!.segments;
      segs.forEach((s, i) => expect(s.uri ?? `seg${s.msn}.m4s`).toBe(`seg${segs[0]!.msn + i}.m4s`));
    }
    // Every rendition breaks at the same MSN.
    for (const r of ["90p", "audio"]) {
      const other = await waitFor(`${r} discontinuity`, async () => (await getPlaylist(media(r))).playlist?.segments.find((s) => s.discontinuity));
      expect(other.msn).toBe(disc.msn);
    }

    publisher.kill("SIGKILL");
    await exited(publisher);
    publisher = null;
    const ended = await waitFor("ENDLIST", async () => {
      const r = await getPlaylist(media("180p"));
      return r.playlist?.endList ? r.playlist : null;
    }, (GRACE_S + 10) * 1000);
    expect(ended.preloadHints).toHaveLength(0);
    // Blocking directives are ignored once the playlist has ENDLIST.
    expect((await getPlaylist(media("180p", `?_HLS_msn=${ended.segments.at(-1)!.msn + 1}`))).status).toBe(200);
    expect([...stack.node.events.map((e) => e.type)]).toEqual(expect.arrayContaining(["stream_started", "connection_lost", "connection_restored", "stream_ended"]));
    await sleep(10);
  });
});
