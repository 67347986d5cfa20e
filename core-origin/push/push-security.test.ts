/**
 * The origin's transcoder-facing API against a hostile or broken pusher: every route without or with
 * a bad node token, payloads that are not fMP4, parts out of order, pushes for another stream or a
 * rendition not in the manifest, traversal in `:id`/`:r`, oversize bodies and odd header values.
 * Each case asserts the exact status with a JSON body and that the stream did not change: the
 * playlists served, the multivariant, and the storage keys written.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { PUSH_HEADERS as H, PUSH_LIMITS, PUSH_PREFIX, pushPaths } from "../../shared/push-protocol.ts";
import { signNodeToken } from "../../shared/tokens.ts";
import { asBody, fragment, initSegment, MANIFEST, originPerTest, Pusher, type TestOrigin } from "../../test/support/origin-harness.ts";

let t: TestOrigin;
let p: Pusher;

/** Two complete segments and two parts of the third on every rendition: a stream with a past and an open segment. */
originPerTest("secstream", {}, (o, pusher) => ((t = o), (p = pusher)));
beforeEach(async () => {
  await p.pushSegments(0, 1);
  await p.pushPart(2, 0);
  await p.pushPart(2, 1);
});

/** What a viewer or the archive could see of the stream. */
const streamState = async () => {
  await t.storage.idle();
  const playlists: Record<string, string> = {};
  for (const r of p.renditions) playlists[r] = (await t.get(`/live/secstream/${r}/index.m3u8`)).text;
  return { master: (await t.get("/live/secstream/master.m3u8")).text, playlists, stored: [...t.storage.keys].sort() };
};

const send = async (method: string, path: string, o: { headers?: Record<string, string>; body?: BodyInit | null; token?: string | null } = {}) => {
  const token = o.token === undefined ? t.token : o.token;
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...o.headers };
  const res = await t.request(path, { method, headers, body: o.body ?? null, ...(o.body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit);
  const text = await res.text();
  return { status: res.status, type: res.headers.get("content-type"), body: JSON.parse(text) as { error: string } };
};

/** Sends, expects `status` (and `error` when given) as JSON, and the stream exactly as it was. */
const refused = async (method: string, path: string, o: Parameters<typeof send>[2], status: number, error?: string | RegExp) => {
  const before = await streamState();
  const r = await send(method, path, o);
  const what = `${method} ${path}: ${JSON.stringify(r.body)}`;
  expect(r.status, what).toBe(status);
  expect(r.type, what).toMatch(/^application\/json/);
  if (error !== undefined) expect(r.body.error, what).toMatch(typeof error === "string" ? new RegExp(`^${error.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`) : error);
  expect(await streamState(), what).toEqual(before);
  return r;
};

/** The headers of the next valid part of the open segment (2.2) on `rendition`. */
const partHeaders = (rendition: string, extra: Record<string, string> = {}) => ({
  "content-type": "video/iso.segment",
  [H.seq]: String(p.nextSeq(rendition)),
  [H.partDuration]: "0.5",
  ...(rendition === "audio" ? { [H.independent]: "1" } : {}),
  ...extra,
});

describe("origin push API: credentials", () => {
  it("every ingest route answers 401 JSON without, or with a bad, node token; the stream does not change", async () => {
    const routes = t.origin.app.routes.filter((r) => r.path.startsWith(PUSH_PREFIX) && r.method !== "ALL");
    expect(routes.length).toBeGreaterThanOrEqual(9);
    const foreign = await signNodeToken("some-other-secret-0123456789abcdef", "unit-node");
    for (const route of routes) {
      const path = route.path
        .replace(":id", "secstream")
        .replace(":r", "360p")
        .replace(":version", "0")
        .replace(":msn", "2")
        .replace(":part", "2");
      for (const token of [null, "garbage", foreign, `${t.token.slice(0, -2)}AA`]) {
        await refused(route.method, path, { token, body: route.method === "GET" ? null : asBody(fragment("x")) }, 401);
      }
    }
  });
});

describe("origin push API: payloads", () => {
  it("400 for parts that are not one CMAF chunk: random bytes, a JPEG, an init segment, an empty body, a truncated box", async () => {
    const junk: Array<[string, Uint8Array]> = [
      ["random", Uint8Array.from({ length: 512 }, (_, i) => (i * 7919) & 0xff)],
      ["jpeg", new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 0xff, 0xd9])],
      ["init", initSegment("360p")],
      ["empty", new Uint8Array(0)],
      ["truncated", fragment("360p/2.2").slice(0, 40)],
      ["mdat only", fragment("x").slice(fragment("x").length - 264)],
    ];
    for (const [name, bytes] of junk) {
      const r = await refused("PUT", pushPaths.part("secstream", "360p", 2, 2), { headers: partHeaders("360p"), body: asBody(bytes) }, 400, /^not an fMP4 part: /);
      expect(r.status, name).toBe(400);
    }
  });

  it("400 for an init that is not ftyp+moov (a part, JSON, nothing)", async () => {
    for (const bytes of [fragment("x"), new TextEncoder().encode(JSON.stringify(MANIFEST)), new Uint8Array(0)]) {
      await refused("PUT", pushPaths.init("secstream", "360p", 1), { headers: { "content-type": "video/mp4" }, body: asBody(bytes) }, 400, /^not an fMP4 init segment: /);
    }
  });

  it("400 for a thumbnail that is not a JPEG", async () => {
    await refused("PUT", `${PUSH_PREFIX}/secstream/thumbnail.jpg`, { headers: { "content-type": "image/jpeg" }, body: asBody(fragment("x")) }, 400, /^not a JPEG: /);
  });
});

describe("origin push API: order and target", () => {
  it("400 for pushes out of order: a skipped seq, a skipped part, a boundary for a segment not open", async () => {
    const seq = p.nextSeq("360p");
    await refused("PUT", pushPaths.part("secstream", "360p", 2, 2), { headers: { ...partHeaders("360p"), [H.seq]: String(seq + 1) }, body: asBody(fragment("gap")) }, 400);
    await refused("PUT", pushPaths.part("secstream", "360p", 2, 3), { headers: partHeaders("360p"), body: asBody(fragment("skips 2.2")) }, 400);
    await refused("POST", pushPaths.segment("secstream", "360p", 3), { headers: { [H.seq]: String(seq), [H.segmentDuration]: "2" } }, 400);
  });

  it("other bytes pushed at a position the origin holds cannot replace it: 200 duplicate, the stored part unchanged", async () => {
    // Positions are idempotent (a retry after a lost answer repeats them); the first bytes stay.
    const path = "/live/secstream/360p/part1.0.m4s";
    const original = new Uint8Array(await (await t.request(path)).arrayBuffer());
    expect(original).toEqual(p.pushed.get("360p/part1.0.m4s"));
    const before = await streamState();
    const r = await send("PUT", pushPaths.part("secstream", "360p", 1, 0), { headers: { ...partHeaders("360p"), [H.independent]: "1" }, body: asBody(fragment("replacement")) });
    expect(r).toMatchObject({ status: 200, body: { ok: true, duplicate: true } });
    expect(new Uint8Array(await (await t.request(path)).arrayBuffer())).toEqual(original);
    expect(await streamState()).toEqual(before);
  });

  it("409 with resync for another stream's id (never announced here); 400 for a rendition not in the manifest", async () => {
    for (const [method, path] of [
      ["PUT", pushPaths.part("otherstream", "360p", 2, 2)],
      ["PUT", pushPaths.init("otherstream", "360p", 0)],
      ["POST", pushPaths.segment("otherstream", "360p", 2)],
      ["POST", pushPaths.renditionEnd("otherstream", "360p")],
    ] as const) {
      const r = await refused(method, path, { headers: partHeaders("360p"), body: method === "PUT" ? asBody(fragment("x")) : null }, 409, "unknown stream: push the manifest first");
      expect(r.body).toMatchObject({ resync: true });
    }
    await refused("POST", pushPaths.end("otherstream"), {}, 404, "unknown stream");
    for (const rendition of ["1080p", "360p-copy", "audio2"]) {
      await refused("PUT", pushPaths.part("secstream", rendition, 2, 2), { headers: partHeaders("360p"), body: asBody(fragment("x")) }, 400, `rendition ${rendition} is not in the stream manifest`);
      await refused("PUT", pushPaths.init("secstream", rendition, 0), { body: asBody(initSegment(rendition)) }, 400, `rendition ${rendition} is not in the stream manifest`);
    }
  });

  it("a manifest that changes the running stream's timing is a 409; a manifest for a new id does not touch this one", async () => {
    await refused("PUT", pushPaths.manifest("secstream"), { headers: { "content-type": "application/json" }, body: JSON.stringify({ ...MANIFEST, targetDuration: 6 }) }, 409);
  });
});

describe("origin push API: paths", () => {
  it("400 for traversal and odd encodings in :id and :r; nothing is written outside the stream", async () => {
    const bad = ["..%2F..%2Fetc", "%2e%2e%2fx", "..%5Cx", "a%00b", "a%0D%0Ab", "UPPER", "x".repeat(70), "%F0%9F%98%80", "%ZZ", "-lead"];
    for (const id of bad) {
      await refused("PUT", pushPaths.manifest(id), { headers: { "content-type": "application/json" }, body: JSON.stringify(MANIFEST) }, 400, "invalid stream id");
      await refused("PUT", pushPaths.part(id, "360p", 2, 2), { headers: partHeaders("360p"), body: asBody(fragment("x")) }, 400, "invalid stream id");
      await refused("PUT", `${PUSH_PREFIX}/${id}/thumbnail.jpg`, { body: asBody(fragment("x")) }, 400, "invalid stream id");
      await refused("POST", `${PUSH_PREFIX}/${id}/archive`, { body: JSON.stringify({ recording_id: "abcdefgh" }) }, 400, "invalid stream id");
    }
    for (const r of bad) {
      await refused("PUT", pushPaths.part("secstream", r, 2, 2), { headers: partHeaders("360p"), body: asBody(fragment("x")) }, 400, "invalid rendition name");
      await refused("PUT", pushPaths.init("secstream", r, 0), { body: asBody(initSegment("x")) }, 400, "invalid rendition name");
    }
    for (const [msn, part] of [["-1", "0"], ["1e3", "0"], ["0x10", "0"], ["01", "0"], ["2", "1.5"], ["99999999999999999", "0"]]) {
      await refused("PUT", `${PUSH_PREFIX}/secstream/renditions/360p/parts/${msn}/${part}`, { headers: partHeaders("360p"), body: asBody(fragment("x")) }, 400, "invalid msn or part index");
    }
  });

  it("dot segments are resolved before routing: the request is another (refused) one", async () => {
    for (const path of [`${PUSH_PREFIX}/secstream/renditions/../../otherstream`, `${PUSH_PREFIX}/secstream/renditions/%2e%2e/init/0`]) {
      const r = await send("PUT", path, { body: asBody(fragment("x")) });
      expect(r.status, path).toBeGreaterThanOrEqual(400);
      expect(r.status, path).toBeLessThan(500);
    }
    expect(t.storage.keys.every((k) => k.startsWith("secstream/")), t.storage.keys.join(", ")).toBe(true);
  });
});

describe("origin push API: sizes (413)", () => {
  const cases = (): Array<[string, string, number, Record<string, string>]> => [
    ["PUT", pushPaths.manifest("secstream"), PUSH_LIMITS.manifestBytes, { "content-type": "application/json" }],
    ["PUT", pushPaths.init("secstream", "360p", 1), PUSH_LIMITS.initBytes, {}],
    ["PUT", pushPaths.part("secstream", "360p", 2, 2), PUSH_LIMITS.partBytes, partHeaders("360p")],
    ["PUT", `${PUSH_PREFIX}/secstream/thumbnail.jpg`, PUSH_LIMITS.thumbnailBytes, {}],
    ["POST", `${PUSH_PREFIX}/secstream/archive`, 1024, { "content-type": "application/json" }],
  ];

  it("413 by Content-Length, before the body is read", async () => {
    for (const [method, path, limit, headers] of cases()) {
      await refused(method, path, { headers: { ...headers, "content-length": String(limit + 1) }, body: asBody(new Uint8Array(limit + 1)) }, 413, `body exceeds ${limit} bytes`);
    }
  });

  it("413 while streaming a body with no length, as soon as it passes the limit", async () => {
    for (const [method, path, limit, headers] of cases()) {
      let sent = 0;
      const chunk = Math.min(limit, 64 * 1024);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          // A little past the limit, then it would go on for ever: the origin must stop reading.
          if (sent > limit + 4 * chunk) return controller.close();
          sent += chunk;
          controller.enqueue(new Uint8Array(chunk));
        },
      });
      await refused(method, path, { headers, body }, 413, `body exceeds ${limit} bytes`);
    }
  });
});

describe("origin push API: odd header values", () => {
  it("400 for Cascade-Seq, durations, dates and versions that are not what they claim; the part is not applied", async () => {
    const bad: Array<[string, string, RegExp]> = [
      [H.seq, "abc", /^cascade-seq must be a positive integer$/],
      [H.seq, "1e3", /^cascade-seq must be a positive integer$/],
      [H.seq, "0x10", /^cascade-seq must be a positive integer$/],
      [H.seq, "-5", /^cascade-seq must be a positive integer$/],
      [H.seq, "0", /^cascade-seq must be a positive integer$/],
      [H.seq, "\uff11", /^cascade-seq must be a positive integer$/],
      [H.seq, "9".repeat(40), /^cascade-seq must be a positive integer$/],
      [H.seq, "1, 2", /^cascade-seq must be a positive integer$/],
      [H.partDuration, "Infinity", /^cascade-part-duration must be a number of seconds$/],
      [H.partDuration, "NaN", /^cascade-part-duration must be a number of seconds$/],
      [H.partDuration, "-0.5", /^cascade-part-duration must be a number of seconds$/],
      [H.partDuration, "5e-1", /^cascade-part-duration must be a number of seconds$/],
      [H.programDateTime, "yesterday", /^cascade-program-date-time must be an ISO date$/],
      [H.initVersion, "01", /^cascade-init-version must be an integer$/],
      [H.initVersion, "1.0", /^cascade-init-version must be an integer$/],
    ];
    for (const [header, value, error] of bad) {
      // Latin-1 only: fetch refuses CR/LF and non-Latin-1 in header values before they are sent.
      const encoded = [...value].every((ch) => ch.charCodeAt(0) < 256) ? value : encodeURIComponent(value);
      await refused("PUT", pushPaths.part("secstream", "360p", 2, 2), { headers: partHeaders("360p", { [header]: encoded }), body: asBody(fragment("odd")) }, 400, error);
    }
  });

  it("a segment boundary with a non-numeric seq or duration is a 400; the open segment stays open", async () => {
    await refused("POST", pushPaths.segment("secstream", "360p", 2), { headers: { [H.seq]: "x", [H.segmentDuration]: "2" } }, 400, "cascade-seq must be a positive integer");
    await refused("POST", pushPaths.segment("secstream", "360p", 2), { headers: { [H.seq]: String(p.nextSeq("360p")), [H.segmentDuration]: "two" } }, 400, "cascade-segment-duration must be a number of seconds");
  });
});
