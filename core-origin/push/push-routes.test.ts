import { beforeEach, describe, expect, it } from "vitest";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { box, concat } from "../../test/support/ffmpeg-fixtures.ts";
import { PUSH_HEADERS as H, PUSH_LIMITS, PUSH_PREFIX, pushPaths } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { asBody, bytesOf, encodeRealFmp4, fragment, initSegment, listFiles, MANIFEST, metricValue, PDT0, partBytes, PT, Pusher, readJson, SINGLE, TD, type TestOrigin, originPerTest } from "../../test/support/origin-harness.ts";


let t: TestOrigin;
let p: Pusher;

originPerTest("demo", { announce: false }, (o, pusher) => ((t = o), (p = pusher)));

const put = (path: string, body: Uint8Array, headers: Record<string, string> = {}) =>
  t.request(path, { method: "PUT", headers: p.auth(headers), body: asBody(body) });

/** Every stored object sits below <storage root>/<stream>/<session>/<rendition>/, and nothing else exists in the temp dir. */
const expectStoredOnly = async (allowed: RegExp) => {
  await t.storage.idle();
  const files = await listFiles(t.base);
  for (const f of files) expect(f).toMatch(/^store\//);
  for (const f of files) expect(f.slice("store/".length)).toMatch(allowed);
  for (const key of t.storage.keys) expect(key).toMatch(allowed);
  return files;
};

describe("push API: node authentication", () => {
  const endpoints = (): [string, string][] => [
    ["PUT", pushPaths.manifest("demo")],
    ["PUT", pushPaths.init("demo", "720p", 0)],
    ["PUT", pushPaths.part("demo", "720p", 0, 0)],
    ["POST", pushPaths.segment("demo", "720p", 0)],
    ["POST", pushPaths.renditionEnd("demo", "720p")],
    ["POST", pushPaths.end("demo")],
  ];

  it("401 on every push endpoint without a node token", async () => {
    for (const [method, path] of endpoints()) {
      const res = await t.request(path, { method, body: method === "PUT" ? asBody(fragment("x")) : null });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.headers.get("cache-control")).toBe("no-store");
    }
  });

  it("401 with a malformed Authorization header", async () => {
    for (const authorization of ["Basic Zm9vOmJhcg==", "Bearer", "Bearer ", "bearer x.y", "Bearer a b", `Bearer ${"a".repeat(201)}`]) {
      const res = await t.request(pushPaths.manifest("demo"), { method: "PUT", headers: { authorization }, body: JSON.stringify(MANIFEST) });
      expect(res.status, authorization).toBe(401);
    }
  });

  it("401 with a token signed by another secret, or a tampered one", async () => {
    const foreign = await signNodeToken("some-other-secret-0123456789abcdef", "unit-node");
    const [, sig] = t.token.split(".");
    for (const token of [foreign, `other-node.${sig}`, `${t.token.slice(0, -2)}AA`, "unit-node.", "unit-node"]) {
      const res = await t.request(pushPaths.manifest("demo"), {
        method: "PUT",
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify(MANIFEST),
      });
      expect(res.status, token).toBe(401);
    }
    // Nothing was announced or stored.
    expect((await t.request("/live/demo/master.m3u8")).status).toBe(404);
    expect(t.origin.registry.list()).toHaveLength(0);
    expect(await listFiles(t.base)).toEqual([]);
  });

  it("a valid node token is accepted (and again from the verified-token cache)", async () => {
    expect((await p.putManifest()).status).toBe(201);
    expect((await p.putManifest()).status).toBe(200);
  });
});

describe("push API: stream ids, rendition names and paths", () => {
  const badStreamIds = [
    "Demo", // uppercase
    "a".repeat(65), // too long
    "a%2F..%2Fb", // encoded slashes: the decoded id contains "/"
    "..%2F..%2Fetc", // traversal through an encoded slash
    "%2E%2E%2Fx",
    "a.b", // dots are not part of the id alphabet
    "-lead", // must start with a letter or digit
    "a%00b", // NUL
    "a%20b",
    "%C3%A9t%C3%A9", // non-ASCII
  ];

  it("400 on malformed stream ids, for the manifest and for media pushes", async () => {
    for (const id of badStreamIds) {
      const manifest = await t.request(`${PUSH_PREFIX}/${id}`, { method: "PUT", headers: p.auth(), body: JSON.stringify(MANIFEST) });
      expect(manifest.status, id).toBe(400);
      expect(await readJson(manifest)).toMatchObject({ error: "invalid stream id" });
      const init = await put(`${PUSH_PREFIX}/${id}/renditions/720p/init/0`, initSegment());
      expect(init.status, id).toBe(400);
      const part = await put(`${PUSH_PREFIX}/${id}/renditions/720p/parts/0/0`, fragment("x"), { [H.seq]: "1", [H.partDuration]: "0.5" });
      expect(part.status, id).toBe(400);
      const end = await t.request(`${PUSH_PREFIX}/${id}/end`, { method: "POST", headers: p.auth() });
      expect(end.status, id).toBe(400);
    }
    expect(t.origin.registry.list()).toHaveLength(0);
    expect(await listFiles(t.base)).toEqual([]);
  });

  it("a literal .. segment never reaches a handler (the URL is normalised first)", async () => {
    for (const path of [`${PUSH_PREFIX}/../demo`, `${PUSH_PREFIX}/%2e%2e/demo`, `${PUSH_PREFIX}/demo/renditions/../../x/init/0`]) {
      const res = await put(path, initSegment());
      expect(res.ok, path).toBe(false);
      expect([400, 404, 409]).toContain(res.status);
    }
    expect(await listFiles(t.base)).toEqual([]);
  });

  it("400 on malformed rendition names, and on names missing from the manifest", async () => {
    await p.announce();
    const badNames = ["720P", "a".repeat(33), "..%2F..%2Fx", "720p%2F..%2F..", "_x", "a%00", "aud.io"];
    for (const name of badNames) {
      const init = await put(`${PUSH_PREFIX}/demo/renditions/${name}/init/1`, initSegment());
      expect(init.status, name).toBe(400);
      const part = await put(`${PUSH_PREFIX}/demo/renditions/${name}/parts/0/0`, fragment("x"), { [H.seq]: "1", [H.partDuration]: "0.5" });
      expect(part.status, name).toBe(400);
      const seg = await t.request(`${PUSH_PREFIX}/demo/renditions/${name}/segments/0`, { method: "POST", headers: p.auth({ [H.seq]: "1", [H.segmentDuration]: "2" }) });
      expect(seg.status, name).toBe(400);
    }
    const unknown = await p.putInit("1080p");
    expect(unknown.status).toBe(400);
    expect(await readJson(unknown)).toMatchObject({ error: "rendition 1080p is not in the stream manifest" });
  });

  it("400 on malformed msn, part index and init version", async () => {
    await p.announce();
    for (const [msn, part] of [["01", "0"], ["0", "00"], ["-1", "0"], ["1e3", "0"], ["x", "0"], ["0", "1.5"], ["1234567890123456", "0"], [" 1", "0"]]) {
      const res = await put(`${PUSH_PREFIX}/demo/renditions/720p/parts/${msn}/${part}`, fragment("x"), { [H.seq]: "1", [H.partDuration]: "0.5" });
      expect(res.status, `${msn}/${part}`).toBe(400);
    }
    for (const version of ["x", "-1", "01", "1000001"]) {
      expect((await put(`${PUSH_PREFIX}/demo/renditions/720p/init/${version}`, initSegment())).status, version).toBe(400);
    }
    for (const msn of ["x", "-2", "007"]) {
      const res = await t.request(`${PUSH_PREFIX}/demo/renditions/720p/segments/${msn}`, { method: "POST", headers: p.auth({ [H.seq]: "1", [H.segmentDuration]: "2" }) });
      expect(res.status, msn).toBe(400);
    }
  });

  it("nothing is written outside the storage root, whatever the paths pushed", async () => {
    await p.announce();
    await p.pushSegment(0);
    for (const id of badStreamIds) {
      await t.request(`${PUSH_PREFIX}/${id}`, { method: "PUT", headers: p.auth(), body: JSON.stringify(MANIFEST) });
      await put(`${PUSH_PREFIX}/${id}/renditions/720p/init/0`, initSegment());
    }
    for (const name of ["..", "..%2F..%2F..%2Fescape", "%2E%2E", "x%2Fy"]) {
      await put(`${PUSH_PREFIX}/demo/renditions/${name}/init/0`, initSegment());
      await put(`${PUSH_PREFIX}/demo/renditions/${name}/parts/1/0`, fragment("x"), { [H.seq]: "99", [H.partDuration]: "0.5", [H.resync]: "1" });
    }
    const files = await expectStoredOnly(/^demo\/\d+\/(720p|360p|audio)\/(init0\.mp4|seg0\.m4s)$/);
    expect(files).toHaveLength(6);
  });
});

describe("push API: payloads must be fMP4", () => {
  beforeEach(async () => {
    await p.announce();
  });

  it("400 for a part that is not a CMAF chunk; nothing is listed or stored", async () => {
    const bad: [string, Uint8Array][] = [
      ["text", new TextEncoder().encode("definitely not an mp4 fragment")],
      ["empty", new Uint8Array(0)],
      ["an init segment", initSegment()],
      ["moof without tfdt", concat(box("moof", box("mfhd", new Uint8Array(8)), box("traf", box("tfhd", new Uint8Array(8)))), box("mdat", new Uint8Array(4)))],
      ["moof without mdat", fragment("x").subarray(0, fragment("x").length - 264)],
      ["truncated", fragment("x").subarray(0, 40)],
      ["mdat first", concat(box("mdat", new Uint8Array(4)), fragment("x"))],
    ];
    for (const [what, bytes] of bad) {
      const res = await p.part("720p", 0, 0, { bytes, seq: 1 });
      expect(res.status, what).toBe(400);
      expect(String((await readJson(res)).error), what).toMatch(/^not an fMP4 part/);
    }
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    expect(pl.segments).toHaveLength(0);
    expect((await t.request("/live/demo/720p/part0.0.m4s")).status).toBe(404);
    expect(await expectStoredOnly(/^demo\/\d+\/(720p|360p|audio)\/init0\.mp4$/)).toHaveLength(3);
    // The sequence number of a rejected push was not consumed.
    expect((await p.part("720p", 0, 0, { seq: 1 })).status).toBe(200);
  });

  it("400 for an init segment that is not fMP4; the old init stays", async () => {
    const progressive = concat(box("ftyp", new TextEncoder().encode("isom\0\0\0\0")), box("moov", box("trak", box("tkhd", new Uint8Array(84)))));
    for (const [what, bytes] of [
      ["a fragment", fragment("x")],
      ["text", new TextEncoder().encode("hello")],
      ["progressive (no mvex)", progressive],
      ["ftyp only", box("ftyp", new TextEncoder().encode("iso6\0\0\0\0"))],
    ] as const) {
      const res = await p.putInit("720p", 1, bytes);
      expect(res.status, what).toBe(400);
      expect(String((await readJson(res)).error)).toMatch(/^not an fMP4 init segment/);
    }
    expect((await t.request("/live/demo/720p/init1.mp4")).status).toBe(404);
    expect(await bytesOf(await t.request("/live/demo/720p/init0.mp4"))).toEqual(initSegment("720p"));
    await t.storage.idle();
    expect((await listFiles(t.storageDir)).filter((f) => f.endsWith("init1.mp4"))).toEqual([]);
  });

  it("init pushes are idempotent by content: same bytes 200 duplicate, different bytes 409", async () => {
    const again = await p.putInit("720p", 0);
    expect(again.status).toBe(200);
    expect(await readJson(again)).toEqual({ ok: true, duplicate: true });
    const changed = await p.putInit("720p", 0, initSegment("other"));
    expect(changed.status).toBe(409);
  });

  it("real ffmpeg fMP4 (libx264, frag_keyframe+empty_moov+default_base_moof) goes through byte for byte", async () => {
    const media = await encodeRealFmp4(4);
    expect(media.parts.length).toBeGreaterThanOrEqual(8);
    const real = new Pusher(t, "real", { ...SINGLE, renditions: [{ ...SINGLE.renditions[0]!, name: "180p", width: 320, height: 180 }] });
    await real.putManifest();
    expect((await real.putInit("180p", 0, media.init)).status).toBe(200);
    // Segment 0 = the first GOP (2 s): parts up to the next keyframe.
    const nextKey = media.parts.findIndex((x, i) => i > 0 && x.independent);
    expect(nextKey).toBeGreaterThan(0);
    const seg0 = media.parts.slice(0, nextKey);
    for (const [i, part] of seg0.entries()) {
      const res = await real.part("180p", 0, i, { bytes: part.bytes, duration: Number(part.duration.toFixed(6)), independent: part.independent });
      expect(res.status, `part ${i}`).toBe(200);
    }
    const total = seg0.reduce((a, x) => a + x.duration, 0);
    expect((await real.segment("180p", 0, { duration: Number(total.toFixed(6)) })).status).toBe(200);
    expect(await bytesOf(await t.request("/live/real/180p/init0.mp4"))).toEqual(media.init);
    for (const [i, part] of seg0.entries()) {
      expect(await bytesOf(await t.request(`/live/real/180p/part0.${i}.m4s`))).toEqual(part.bytes);
    }
    expect(await bytesOf(await t.request("/live/real/180p/seg0.m4s"))).toEqual(concat(...seg0.map((x) => x.bytes)));
    const pl = await t.playlist("/live/real/180p/index.m3u8");
    expect(pl.segments[0]!.parts.map((x) => x.independent)).toEqual(seg0.map((x) => x.independent));
  });
});

describe("push API: part and segment headers", () => {
  beforeEach(async () => {
    await p.announce();
  });

  it("400 on missing or malformed Cascade-* headers", async () => {
    const cases: [string, Record<string, string>][] = [
      ["no seq", { [H.seq]: "" }],
      ["seq 0", { [H.seq]: "0" }],
      ["seq -1", { [H.seq]: "-1" }],
      ["seq text", { [H.seq]: "one" }],
      ["no duration", { [H.partDuration]: "" }],
      ["duration text", { [H.partDuration]: "half" }],
      ["duration negative", { [H.partDuration]: "-0.5" }],
      ["duration exponent", { [H.partDuration]: "5e-1" }],
      ["bad date", { [H.programDateTime]: "yesterday" }],
      ["bad init version", { [H.initVersion]: "v0" }],
    ];
    for (const [what, headers] of cases) {
      const res = await p.part("720p", 0, 0, { seq: 1, headers });
      expect(res.status, what).toBe(400);
    }
    expect((await t.playlist("/live/demo/720p/index.m3u8")).segments).toHaveLength(0);
  });

  it("RFC 8216bis §4.4.4.9: a part longer than PART-TARGET is refused", async () => {
    const res = await p.part("720p", 0, 0, { duration: PT + 0.01 });
    expect(res.status).toBe(400);
    expect((await p.part("720p", 0, 0, { duration: 0 })).status).toBe(400);
    expect((await p.part("720p", 0, 0, { duration: PT })).status).toBe(200);
  });

  it("Apple HLS authoring spec 8.4: part 0 of a segment needs its PROGRAM-DATE-TIME", async () => {
    const res = await p.part("720p", 0, 0, { pdtMs: null });
    expect(res.status).toBe(400);
    expect(String((await readJson(res)).error)).toMatch(/program-date-time/);
  });

  it("409 for a part whose init version was never pushed", async () => {
    const res = await p.part("720p", 0, 0, { initVersion: 3 });
    expect(res.status).toBe(409);
  });

  it("409 with resync for pushes to a stream the origin does not know", async () => {
    const res = await t.request(pushPaths.part("nostream", "720p", 0, 0), {
      method: "PUT",
      headers: p.auth({ [H.seq]: "1", [H.partDuration]: "0.5" }),
      body: asBody(fragment("x")),
    });
    expect(res.status).toBe(409);
    expect(await readJson(res)).toMatchObject({ resync: true });
  });

  it("RFC 8216bis §4.4.3.1, §6.2.1: a segment whose duration rounds above TARGETDURATION is refused", async () => {
    for (let i = 0; i < 4; i++) expect((await p.part("720p", 0, i)).status).toBe(200);
    // The parts only add up to 2 s, so claim a longer segment through a mismatching duration first.
    expect((await p.segment("720p", 0, { duration: 2.6 })).status).toBe(400);
    expect((await p.segment("720p", 0, { duration: 1.5 })).status).toBe(400);
    expect((await p.segment("720p", 0, { duration: TD })).status).toBe(200);
  });

  it("a segment boundary needs seq and duration, and must name the open segment", async () => {
    for (let i = 0; i < 4; i++) expect((await p.part("720p", 0, i)).status).toBe(200);
    const bad: Record<string, string>[] = [
      { [H.seq]: "5" },
      { [H.seq]: "5", [H.segmentDuration]: "two" },
      { [H.segmentDuration]: "2" },
    ];
    for (const headers of bad) {
      const res = await t.request(pushPaths.segment("demo", "720p", 0), { method: "POST", headers: p.auth(headers) });
      expect(res.status).toBe(400);
    }
    expect((await p.segment("720p", 1)).status).toBe(400);
    // A gap segment needs its PROGRAM-DATE-TIME.
    const gap = await t.request(pushPaths.segment("demo", "720p", 1), { method: "POST", headers: p.auth({ [H.seq]: "5", [H.segmentDuration]: "2", [H.gap]: "1" }) });
    expect(gap.status).toBe(400);
  });
});

describe("push API: manifest", () => {
  it("400 on invalid JSON and on invalid manifests, listing the problems", async () => {
    expect((await p.putManifest("{not json")).status).toBe(400);
    const cases: [string, unknown][] = [
      ["not an object", [1, 2]],
      ["TD 0", { ...MANIFEST, targetDuration: 0 }],
      ["TD fractional", { ...MANIFEST, targetDuration: 2.5 }],
      ["part target above TD", { ...MANIFEST, partTarget: 3 }],
      ["part target tiny", { ...MANIFEST, partTarget: 0.01 }],
      ["segment duration above TD + 0.5", { ...MANIFEST, segmentDuration: 2.6 }],
      ["no renditions", { ...MANIFEST, renditions: [] }],
      ["audio only", { ...MANIFEST, renditions: [MANIFEST.renditions[2]] }],
      ["duplicate names", { ...MANIFEST, renditions: [MANIFEST.renditions[0], MANIFEST.renditions[0]] }],
      ["bad name", { ...MANIFEST, renditions: [{ ...MANIFEST.renditions[0]!, name: "../x" }] }],
      ["bad codecs", { ...MANIFEST, renditions: [{ ...MANIFEST.renditions[0]!, codecs: 'avc1",x' }] }],
      ["no width", { ...MANIFEST, renditions: [{ ...MANIFEST.renditions[0]!, width: undefined }] }],
      ["bad language", { ...MANIFEST, renditions: [MANIFEST.renditions[0], { ...MANIFEST.renditions[2]!, language: "en\"" }] }],
    ];
    for (const [what, body] of cases) {
      const res = await p.putManifest(body);
      expect(res.status, what).toBe(400);
      const json = await readJson(res);
      expect(json.error, what).toBe("invalid manifest");
      expect((json.problems as string[]).length, what).toBeGreaterThan(0);
    }
    expect(t.origin.registry.list()).toHaveLength(0);
    expect((await t.request("/live/demo/master.m3u8")).status).toBe(404);
  });

  it("a repeated manifest is idempotent (200, not created again)", async () => {
    expect((await p.putManifest()).status).toBe(201);
    const again = await p.putManifest();
    expect(again.status).toBe(200);
    expect(await readJson(again)).toEqual({ ok: true, created: false, next_msn: 0, next_init_version: 0 });
    expect(t.origin.registry.list()).toHaveLength(1);
  });

  it("RFC 8216bis §6.2.1: TARGETDURATION and PART-TARGET cannot change during a stream (409)", async () => {
    await p.announce();
    expect((await p.putManifest({ ...MANIFEST, targetDuration: 4 })).status).toBe(409);
    expect((await p.putManifest({ ...MANIFEST, partTarget: 0.25 })).status).toBe(409);
    expect(parseMediaPlaylist((await t.get("/live/demo/720p/index.m3u8")).text).targetDuration).toBe(TD);
  });
});

describe("push API: size limits (413)", () => {
  beforeEach(async () => {
    await p.announce();
  });

  it("413 for a manifest over its limit", async () => {
    const huge = JSON.stringify({ ...MANIFEST, padding: "x".repeat(PUSH_LIMITS.manifestBytes) });
    expect((await p.putManifest(huge)).status).toBe(413);
  });

  it("413 for an init segment over its limit", async () => {
    const big = concat(initSegment(), box("free", new Uint8Array(PUSH_LIMITS.initBytes)));
    expect((await p.putInit("720p", 1, big)).status).toBe(413);
  });

  it("413 for a part over the limit, by Content-Length or by the bytes streamed; nothing is stored", async () => {
    const big = fragment("big", PUSH_LIMITS.partBytes + 1);
    const declared = await p.part("720p", 0, 0, { bytes: big, headers: { "content-length": String(big.byteLength) } });
    expect(declared.status).toBe(413);
    // Streamed without a Content-Length: the origin stops reading once it is past the limit.
    let pulled = 0;
    const chunk = 1024 * 1024;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled * chunk > PUSH_LIMITS.partBytes * 2) return controller.close();
        controller.enqueue(big.subarray(0, chunk));
        pulled++;
      },
    });
    const streamed = await t.request(pushPaths.part("demo", "720p", 0, 0), {
      method: "PUT",
      headers: p.auth({ [H.seq]: "1", [H.partDuration]: "0.5", [H.programDateTime]: new Date().toISOString() }),
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(pulled).toBeLessThanOrEqual(PUSH_LIMITS.partBytes / chunk + 3);
    expect(await metricValue(t, "cascade_origin_push_rejected_total", { status: "413" })).toBe(2);
    expect((await t.playlist("/live/demo/720p/index.m3u8")).segments).toHaveLength(0);
    await t.storage.idle();
    expect((await listFiles(t.storageDir)).filter((f) => !f.endsWith("init0.mp4"))).toEqual([]);
  });
});

describe("push API: a new run of a stream the origin already holds (failover to another node)", () => {
  beforeEach(async () => {
    await p.announce();
    await p.pushSegments(0, 2);
    await p.pushPart(3, 0);
  });

  it("the manifest answer says where a new run continues", async () => {
    const again = await p.putManifest();
    expect(await readJson(again)).toEqual({ ok: true, created: false, next_msn: 4, next_init_version: 1 });
  });

  it("part 0 of a held MSN with another PROGRAM-DATE-TIME is refused with next_msn; nothing changes", async () => {
    const before = (await t.get("/live/demo/720p/index.m3u8")).text;
    // The node that took over starts counting at 0, one minute later.
    const res = await p.part("720p", 0, 0, { seq: 1, pdtMs: PDT0 + 60_000 });
    expect(res.status).toBe(400);
    const json = await readJson(res);
    expect(json.next_msn).toBe(4);
    expect(String(json.error)).toMatch(/earlier run; continue at msn 4/);
    expect((await t.get("/live/demo/720p/index.m3u8")).text).toBe(before);
    // A real retry (same date) is still a duplicate.
    expect(await readJson(await p.part("720p", 0, 0, { seq: 1 }))).toEqual({ ok: true, duplicate: true });
  });

  it("the new run continues at next_msn as a discontinuity, the playlist only grows", async () => {
    const res = await p.part("720p", 4, 0, { seq: 1, resync: true, discontinuity: true, pdtMs: PDT0 + 60_000 });
    expect(res.status).toBe(200);
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    // seg3 (one part when the old node died) is closed as it was; segment 4 (open: parts only) starts the new run.
    expect(pl.segments.map((x) => x.uri)).toEqual(["seg0.m4s", "seg1.m4s", "seg2.m4s", "seg3.m4s", undefined]);
    expect(pl.segments.map((x) => x.discontinuity)).toEqual([false, false, false, false, true]);
    expect(pl.segments[4]!.parts.map((x) => x.uri)).toEqual(["part4.0.m4s"]);
  });
});

describe("push API: ordering and idempotent retries", () => {
  beforeEach(async () => {
    await p.announce();
  });

  it("the same part pushed twice (a retry) gives the same answer and is stored once", async () => {
    const first = await p.part("720p", 0, 0, { seq: 1 });
    expect(first.status).toBe(200);
    expect(await readJson(first)).toEqual({ ok: true, duplicate: false });
    const retry = await p.part("720p", 0, 0, { seq: 1 });
    expect(retry.status).toBe(200);
    expect(await readJson(retry)).toEqual({ ok: true, duplicate: true });
    expect((await p.part("720p", 0, 1, { seq: 2 })).status).toBe(200);
    // A late retry of part 0 after part 1 went through is still just a duplicate.
    expect(await readJson(await p.part("720p", 0, 0, { seq: 1 }))).toEqual({ ok: true, duplicate: true });
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    expect(pl.segments).toHaveLength(1);
    expect(pl.segments[0]!.parts.map((x) => x.uri)).toEqual(["part0.0.m4s", "part0.1.m4s"]);
    expect(await metricValue(t, "cascade_origin_parts_pushed_total", { rendition_type: "video" })).toBe(2);
    expect(await bytesOf(await t.request("/live/demo/720p/part0.0.m4s"))).toEqual(partBytes("demo", "720p", 0, 0));
  });

  it("a retried segment boundary is a duplicate, and a segment is stored once", async () => {
    for (let i = 0; i < 4; i++) await p.part("720p", 0, i);
    expect(await readJson(await p.segment("720p", 0, { seq: 5 }))).toEqual({ ok: true, duplicate: false });
    expect(await readJson(await p.segment("720p", 0, { seq: 5 }))).toEqual({ ok: true, duplicate: true });
    await t.storage.idle();
    expect(t.storage.keys.filter((k) => k.endsWith("/seg0.m4s"))).toHaveLength(1);
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    expect(pl.segments.map((s) => s.uri)).toEqual(["seg0.m4s"]);
  });

  it("400 on out-of-order sequence numbers; the playlist does not change", async () => {
    expect((await p.part("720p", 0, 0, { seq: 1 })).status).toBe(200);
    const before = (await t.get("/live/demo/720p/index.m3u8")).text;
    const skipped = await p.part("720p", 0, 1, { seq: 3 });
    expect(skipped.status).toBe(400);
    expect(String((await readJson(skipped)).error)).toMatch(/out-of-order sequence number 3, expected 2/);
    const backwards = await p.part("720p", 0, 1, { seq: 1 });
    expect(backwards.status).toBe(400);
    // Right seq, wrong part index.
    expect((await p.part("720p", 0, 2, { seq: 2 })).status).toBe(400);
    expect((await p.part("720p", 1, 0, { seq: 2 })).status).toBe(400);
    expect((await t.get("/live/demo/720p/index.m3u8")).text).toBe(before);
    // part0.1 is the preload hint (its GET would block); part0.2 was never hinted.
    expect((await t.request("/live/demo/720p/part0.2.m4s")).status).toBe(404);
    // The right one still goes through.
    expect((await p.part("720p", 0, 1, { seq: 2 })).status).toBe(200);
    expect(await metricValue(t, "cascade_origin_push_rejected_total", { status: "400" })).toBe(4);
  });

  it("400 on an out-of-order segment boundary", async () => {
    for (let i = 0; i < 4; i++) await p.part("720p", 0, i);
    expect((await p.segment("720p", 0, { seq: 7 })).status).toBe(400);
    expect((await p.segment("720p", 0, { seq: 5 })).status).toBe(200);
  });

  it("Cascade-Resync on part 0 starts a new run at any seq, after a discontinuity (RFC 8216bis §6.2.1)", async () => {
    await p.pushSegment(0, ["720p"]);
    expect((await p.part("720p", 1, 1, { seq: 100, resync: true })).status).toBe(400); // a run starts at part 0
    expect(await readJson(await p.part("720p", 0, 0, { seq: 100, resync: true }))).toEqual({ ok: true, duplicate: true });
    expect((await p.part("720p", 1, 0, { seq: 100, resync: true, discontinuity: true })).status).toBe(200);
    expect((await p.part("720p", 1, 1, { seq: 101 })).status).toBe(200);
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    expect(pl.segments.map((s) => [s.msn, s.discontinuity])).toEqual([
      [0, false],
      [1, true],
    ]);
  });

  it("RFC 8216bis §4.4.4.9, §6.2.1: a resync that skips MSNs fills the hole with EXT-X-GAP segments, so playlist MSNs stay the pushed ones", async () => {
    await p.pushSegment(0, ["720p"]);
    expect((await p.part("720p", 3, 0, { seq: 100, resync: true })).status).toBe(200);
    for (let i = 1; i < 4; i++) expect((await p.part("720p", 3, i)).status).toBe(200);
    expect((await p.segment("720p", 3)).status).toBe(200);
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    // MSNs are implicit in a playlist (MEDIA-SEQUENCE + position): the segment listed as seg3.m4s must be MSN 3.
    expect(pl.segments.map((s) => [s.msn, s.uri, s.gap ?? false, s.discontinuity])).toEqual([
      [0, "seg0.m4s", false, false],
      [1, "seg1.m4s", true, false],
      [2, "seg2.m4s", true, false],
      [3, "seg3.m4s", false, true],
    ]);
    expect(await bytesOf(await t.request("/live/demo/720p/part3.0.m4s"))).toEqual(partBytes("demo", "720p", 3, 0));
    expect((await t.request("/live/demo/720p/seg3.m4s")).status).toBe(200);
    expect((await t.request("/live/demo/720p/seg1.m4s")).status).toBe(404);
  });

  it("a resync far ahead of the window starts a fresh window (no flood of gap segments)", async () => {
    await p.pushSegment(0, ["720p"]);
    expect((await p.part("720p", 1_000_000, 0, { seq: 1, resync: true })).status).toBe(200);
    const pl = await t.playlist("/live/demo/720p/index.m3u8");
    const state = t.origin.registry.get("demo")!.renditions.get("720p")!;
    expect(state.segments.length).toBeLessThanOrEqual(state.window.playlistSegments + 1);
    expect(pl.mediaSequence + pl.segments.length - 1).toBe(1_000_000);
    expect(pl.segments.at(-1)!.parts[0]!.uri).toBe("part1000000.0.m4s");
    expect(pl.segments.at(-1)!.discontinuity).toBe(true);
  });

  it("a rejected resync (no PROGRAM-DATE-TIME) leaves the open segment as it was", async () => {
    await p.part("720p", 0, 0);
    await p.part("720p", 0, 1);
    const before = (await t.get("/live/demo/720p/index.m3u8")).text;
    expect((await p.part("720p", 1, 0, { seq: 50, resync: true, pdtMs: null })).status).toBe(400);
    expect((await t.get("/live/demo/720p/index.m3u8")).text).toBe(before);
  });

  it("pushes after the stream ended get 409; ending twice is a duplicate", async () => {
    await p.pushSegment(0);
    expect(await readJson(await p.end())).toEqual({ ok: true, duplicate: false });
    expect(await readJson(await p.end())).toEqual({ ok: true, duplicate: true });
    expect((await p.part("720p", 1, 0)).status).toBe(409);
    expect((await t.request(pushPaths.end("unknown"), { method: "POST", headers: p.auth() })).status).toBe(404);
  });
});
