/**
 * Issue 7 security suite: signed playback URLs for private streams (expiry, tamper). Live playback
 * goes through the fake origin (test/support/edge/fake-origin.ts), which counts every request, so
 * "refused without touching the origin" and "one upstream fill per object" are exact counts.
 */
import type { WorkerEnv } from "../config.ts";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signPlaybackToken } from "../../shared/playback-token.ts";
import { createEdgeApp } from "../app.ts";
import { finalizeRecording } from "../recordings/finalize.ts";
import { getRecording } from "../recordings/recording-store.ts";
import { playbackKey } from "../streams/playback-keys.ts";
import { streamVisibilities } from "../streams/visibility.ts";
import { apiClient, testEnv } from "../../test/support/edge/api-client.ts";
import { FakeOrigin } from "../../test/support/edge/fake-origin.ts";
import { AUDIO, bucket, insertRecording, putInit, putManifest, putSegments, VIDEO_360 } from "../../test/support/edge/recordings.ts";

const api = apiClient();
const nowS = () => Math.floor(Date.now() / 1000);

interface Minted {
  stream_id: string;
  token: string;
  url: string;
  watch_url: string;
  expires_at: string;
}

/** A stream of a new owner with the given visibility, live at the fake origin (parts 0.0 and 0.1 published). */
const liveStream = async (visibility: "public" | "unlisted" | "private" = "private") => {
  const owner = await api.signUp("sp");
  const s = await api.createStream(owner.token, { title: "Signed", visibility });
  const origin = new FakeOrigin(s.stream_id);
  origin.publish(0, 0);
  origin.publish(0, 1);
  const edge = createEdgeApp({ upstream: origin.fetch });
  const get = async (path: string, init: RequestInit = {}, env: Partial<WorkerEnv> = {}) => {
    const ctx = createExecutionContext();
    const res = await edge.app.fetch(new Request(`http://edge.test${path}`, init), { ...testEnv(), ...env }, ctx);
    const text = await res.text();
    await waitOnExecutionContext(ctx);
    let json: Record<string, unknown> | null = null;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, text, json };
  };
  const mint = async (body: Record<string, unknown> = {}, env: Partial<WorkerEnv> = {}) => {
    const r = await api.call<Minted>("POST", `/api/v1/streams/${s.stream_id}/playback-token`, { token: owner.token, json: body }, env);
    if (r.status !== 200) throw new Error(`mint failed: ${r.status} ${r.text}`);
    return r.body;
  };
  return { owner, id: s.stream_id, origin, edge, get, mint };
};

/** A token signed with the edge's key, with any claims (expired ones included). */
const forge = async (claims: { streamId: string; expires: number; viewer?: string | null }, env: Partial<WorkerEnv> = {}) => {
  const key = await playbackKey({ ...testEnv(), ...env });
  if (!key.ok) throw new Error(key.error);
  return signPlaybackToken(key.key, { viewer: null, ...claims });
};

const expectJsonError = (r: { status: number; headers: Headers; json: Record<string, unknown> | null }, status: number, error: string) => {
  expect(r.status).toBe(status);
  expect(r.headers.get("content-type")).toBe("application/json; charset=utf-8");
  expect(r.headers.get("cache-control")).toBe("no-store");
  expect(r.json?.error).toBe(error);
};

describe("signed playback URLs: live", () => {
  it("a minted URL plays the whole stream: master, media playlist, init and parts resolve relative to it", async () => {
    const t = await liveStream();
    const minted = await t.mint();
    expect(minted.url).toBe(`/hls/${t.id}/~${minted.token}/master.m3u8`);
    expect(minted.watch_url).toBe(`/watch/${t.id}?t=${minted.token}`);
    expect(Date.parse(minted.expires_at) / 1000).toBeGreaterThan(nowS() + 3500);
    expect(Date.parse(minted.expires_at) / 1000).toBeLessThanOrEqual(nowS() + 3600);

    const master = await t.get(minted.url);
    expect(master.status).toBe(200);
    expect(master.headers.get("content-type")).toBe("application/vnd.apple.mpegurl");
    expect(master.text).toBe(t.origin.master());
    // A player resolves the playlist's relative URIs against the signed URL: the token stays in the path.
    const mediaUrl = new URL("360p/index.m3u8", `http://edge.test${minted.url}`);
    expect(mediaUrl.pathname).toBe(`/hls/${t.id}/~${minted.token}/360p/index.m3u8`);
    const media = await t.get(mediaUrl.pathname + "?_HLS_msn=0&_HLS_part=1");
    expect(media.status).toBe(200);
    expect(media.text).toContain('URI="part0.1.m4s"');
    const init = await t.get(new URL("init0.mp4", mediaUrl).pathname);
    expect(init.status).toBe(200);
    expect(init.headers.get("content-type")).toBe("video/mp4");
    const part = await t.get(new URL("part0.1.m4s", mediaUrl).pathname);
    expect(part.status).toBe(200);
    expect(part.headers.get("content-type")).toBe("video/iso.segment");
    // The origin saw the plain stream paths: no token ever leaves the edge.
    expect([...t.origin.requests.keys()].sort()).toEqual(
      [`/live/${t.id}/360p/index.m3u8?_HLS_msn=0&_HLS_part=1`, `/live/${t.id}/360p/init0.mp4`, `/live/${t.id}/360p/part0.1.m4s`, `/live/${t.id}/master.m3u8`].sort(),
    );
    // HEAD and CORS preflights behave as on the direct path.
    expect((await t.get(minted.url, { method: "HEAD" })).status).toBe(200);
    const preflight = await t.get(minted.url, { method: "OPTIONS", headers: { origin: "https://embed.example", "access-control-request-method": "GET" } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("the direct path of a private stream is 403 JSON for every resource, without reaching the origin", async () => {
    const t = await liveStream();
    for (const path of ["master.m3u8", "360p/index.m3u8", "360p/index.m3u8?_HLS_msn=0&_HLS_part=1", "360p/init0.mp4", "360p/part0.1.m4s", "360p/seg0.m4s", "thumbnail.jpg"]) {
      const r = await t.get(`/hls/${t.id}/${path}`);
      expectJsonError(r, 403, "this stream is private: play it through a signed playback URL");
    }
    expect((await t.get(`/hls/${t.id}/master.m3u8`, { method: "HEAD" })).status).toBe(403);
    // Outside the layout it is still a 404 (nothing is looked up for it).
    expect((await t.get(`/hls/${t.id}/etc/passwd`)).status).toBe(404);
    expect(t.origin.total()).toBe(0);
  });

  it("expired, tampered, foreign, truncated and oddly encoded tokens: exact statuses, origin untouched", async () => {
    const t = await liveStream();
    const other = await liveStream();
    const good = (await t.mint()).token;
    const sig = good.slice(good.lastIndexOf(".") + 1);
    const flipped = good.slice(0, -sig.length) + (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    const expired = await forge({ streamId: t.id, expires: nowS() - 1 });
    const otherStream = (await other.mint()).token;
    const [, exp] = good.split(".");
    const cases: Array<[string, number, string]> = [
      [expired, 403, "the playback token has expired"],
      [flipped, 403, "invalid playback token"],
      [good.replace(`.${exp}.`, `.${Number(exp) + 86_400}.`), 403, "invalid playback token"],
      [good.replace(`.${exp}.`, `.${exp}.viewer2.`), 403, "invalid playback token"],
      // A genuine token for another stream: its signature holds, the stream does not match.
      [otherStream, 403, "the playback token is for another stream"],
      // The other stream's claims moved onto this stream without a new signature.
      [otherStream.replace(other.id, t.id), 403, "invalid playback token"],
      [good.slice(0, -1), 400, "malformed playback token"],
      [good.slice(0, good.lastIndexOf(".")), 400, "malformed playback token"],
      [good.slice(0, 10), 400, "malformed playback token"],
      ["", 400, "malformed playback token"],
      [`${good}=`, 400, "malformed playback token"],
      [`~${good}`, 400, "malformed playback token"],
      [good.replace(".", "%2E"), 400, "malformed playback token"],
      [encodeURIComponent(`${good}é`), 400, "malformed playback token"],
      [good.replace(/-/g, "+").replace(/_/g, "/").replace(sig.slice(0, 1), "+"), 400, "malformed playback token"],
      [`${good}${"A".repeat(200)}`, 400, "malformed playback token"],
    ];
    for (const [token, status, error] of cases) {
      const r = await t.get(`/hls/${t.id}/~${token}/master.m3u8`);
      expect({ token, status: r.status, error: r.json?.error }).toEqual({ token, status, error });
    }
    // The token must name this stream even for a segment, and for any method the route serves.
    expectJsonError(await t.get(`/hls/${t.id}/~${otherStream}/360p/part0.1.m4s`), 403, "the playback token is for another stream");
    const head = await t.get(`/hls/${t.id}/~${expired}/360p/seg0.m4s`, { method: "HEAD" });
    expect(head.status).toBe(403);
    expect(head.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(t.origin.total()).toBe(0);
    expect(other.origin.total()).toBe(0);
    // And the good one still plays.
    expect((await t.get(`/hls/${t.id}/~${good}/master.m3u8`)).status).toBe(200);
  });

  it("a token bound to a viewer id plays; PLAYBACK_SECRET replaces the derived key; a short one disables signing", async () => {
    const t = await liveStream();
    const bound = await t.mint({ viewer_id: "session_7", ttl_s: 60 });
    expect(bound.token).toMatch(new RegExp(`^${t.id}\\.\\d+\\.session_7\\.[A-Za-z0-9_-]{43}$`));
    expect((await t.get(bound.url)).status).toBe(200);

    const secret = { PLAYBACK_SECRET: "a-dedicated-playback-secret-0123456789" };
    const dedicated = await t.mint({}, secret);
    expect((await t.get(dedicated.url, {}, secret)).status).toBe(200);
    // Each key refuses the other's tokens.
    expectJsonError(await t.get(dedicated.url), 403, "invalid playback token");
    expectJsonError(await t.get(bound.url, {}, secret), 403, "invalid playback token");

    const short = await api.call("POST", `/api/v1/streams/${t.id}/playback-token`, { token: t.owner.token, json: {} }, { PLAYBACK_SECRET: "too-short" });
    expect(short.status).toBe(503);
    expect(short.body.error).toBe("signed playback URLs are disabled: PLAYBACK_SECRET must be at least 32 characters");
    expectJsonError(await t.get(dedicated.url, {}, { PLAYBACK_SECRET: "too-short" }), 503, "signed playback URLs are disabled: PLAYBACK_SECRET must be at least 32 characters");
    expectJsonError(await t.get(bound.url, {}, { JWT_SECRET: undefined }), 503, "signed playback URLs are disabled: set PLAYBACK_SECRET (or JWT_SECRET)");
  });

  it("public and unlisted streams play by their direct path, and by a signed URL too", async () => {
    for (const visibility of ["public", "unlisted"] as const) {
      const t = await liveStream(visibility);
      const direct = await t.get(`/hls/${t.id}/master.m3u8`);
      expect(direct.status).toBe(200);
      expect(direct.text).toBe(t.origin.master());
      const signed = await t.get((await t.mint()).url);
      expect(signed.status).toBe(200);
      expect(signed.headers.get("x-cascade-cache")).toBe("HIT");
      expect(t.origin.count(`/live/${t.id}/master.m3u8`)).toBe(1);
      // A bad token is refused even where the direct path would do: a URL either is valid or it is not.
      expect((await t.get(`/hls/${t.id}/~nonsense/master.m3u8`)).status).toBe(400);
    }
  });

  it("signed viewers with different tokens share one upstream fill per object (the cache key holds no token)", async () => {
    const t = await liveStream();
    const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => t.mint({ viewer_id: `viewer${i}` }).then((m) => m.token)));
    expect(new Set(tokens).size).toBe(6);
    // Blocking requests for a part that does not exist yet: they wait on one fill until it is published.
    const blocking = "360p/index.m3u8?_HLS_msn=0&_HLS_part=2";
    const pending = tokens.map((tok) => t.get(`/hls/${t.id}/~${tok}/${blocking}`));
    const key = `${t.id}/360p/index.m3u8?_HLS_msn=0&_HLS_part=2`;
    for (let i = 0; i < 200 && t.origin.count(`/live/${key}`) === 0; i++) await new Promise((r) => setTimeout(r, 5));
    t.origin.publish(0, 2);
    const results = await Promise.all(pending);
    for (const r of results) {
      expect(r.status).toBe(200);
      expect(r.text).toBe(results[0]!.text);
      expect(["MISS", "COALESCED", "HIT"]).toContain(r.headers.get("x-cascade-cache"));
    }
    expect(results[0]!.text).toContain('URI="part0.2.m4s"');
    expect(t.origin.count(`/live/${key}`)).toBe(1);
    expect(t.edge.stats.upstreamByKey.get(key)).toBe(1);
    expect([...t.edge.stats.upstreamByKey.keys()].some((k) => k.includes("~"))).toBe(false);

    // Media: the first signed viewer fills, every other one (and the owner's next token) is a hit.
    for (const tok of tokens) expect((await t.get(`/hls/${t.id}/~${tok}/360p/part0.2.m4s`)).status).toBe(200);
    expect(t.origin.count(`/live/${t.id}/360p/part0.2.m4s`)).toBe(1);
    expect(t.edge.stats.upstreamByKey.get(`${t.id}/360p/part0.2.m4s`)).toBe(1);
  });

  it("the visibility check costs one lookup per stream and isolate, not one per request", async () => {
    const t = await liveStream("public");
    const before = streamVisibilities.loads;
    for (let i = 0; i < 20; i++) expect((await t.get(`/hls/${t.id}/360p/part0.${i % 2}.m4s`)).status).toBe(200);
    expect(streamVisibilities.loads - before).toBe(1);
    // Signed requests need no lookup at all.
    const token = (await t.mint()).token;
    const after = streamVisibilities.loads;
    for (let i = 0; i < 5; i++) expect((await t.get(`/hls/${t.id}/~${token}/360p/part0.0.m4s`)).status).toBe(200);
    expect(streamVisibilities.loads).toBe(after);
  });

  it("making a stream private takes effect at once in the isolate that changed it; public again re-opens it", async () => {
    const t = await liveStream("public");
    expect((await t.get(`/hls/${t.id}/master.m3u8`)).status).toBe(200);
    const patch = await api.call("PATCH", `/api/v1/streams/${t.id}`, { token: t.owner.token, json: { visibility: "private" } });
    expect(patch.status).toBe(200);
    expect(patch.body.visibility).toBe("private");
    expectJsonError(await t.get(`/hls/${t.id}/master.m3u8`), 403, "this stream is private: play it through a signed playback URL");
    expect((await api.call("PATCH", `/api/v1/streams/${t.id}`, { token: t.owner.token, json: { visibility: "public" } })).status).toBe(200);
    expect((await t.get(`/hls/${t.id}/master.m3u8`)).status).toBe(200);
  });

  it("an edge forwarding the control plane asks it for the visibility, once per stream, and refuses when it cannot", async () => {
    const t = await liveStream("public");
    const id = `fwd-${t.id}`;
    const origin = new FakeOrigin(id);
    origin.publish(0, 0);
    const asked: string[] = [];
    let answer: Response | null = Response.json({ stream_id: id, visibility: "private" });
    const forward = async (req: Request) => {
      asked.push(req.url);
      if (!answer) throw new Error("connection refused");
      return answer.clone();
    };
    const edge = createEdgeApp({ upstream: origin.fetch, forward });
    const env = { ...testEnv(), CONTROL_PLANE_URL: "http://edge-1.test" };
    const get = async (path: string) => {
      const ctx = createExecutionContext();
      const res = await edge.app.fetch(new Request(`http://edge.test${path}`), env, ctx);
      await waitOnExecutionContext(ctx);
      return res;
    };
    for (let i = 0; i < 3; i++) expect((await get(`/hls/${id}/master.m3u8`)).status).toBe(403);
    expect(asked).toEqual([`http://edge-1.test/api/v1/streams/${id}/visibility`]);
    const token = await forge({ streamId: id, expires: nowS() + 60 });
    expect((await get(`/hls/${id}/~${token}/master.m3u8`)).status).toBe(200);
    expect(origin.count(`/live/${id}/master.m3u8`)).toBe(1);
    // A stream the control plane cannot answer for, with nothing known: 503, not a guess.
    answer = null;
    const unknown = await get(`/hls/fwd2-${t.id}/master.m3u8`);
    expect(unknown.status).toBe(503);
    expect(((await unknown.json()) as { error: string }).error).toBe("cannot check the stream's visibility right now");
  });
});

describe("signed playback URLs: VOD and the watch page", () => {
  const readyRecording = async (streamId: string, userId: string) => {
    const id = await insertRecording({ streamId, userId, status: "finalizing" });
    await putManifest(id, streamId, [VIDEO_360, AUDIO]);
    await putInit(id, "360p", 0);
    await putInit(id, "audio", 0);
    await putSegments(id, "360p", [0, 1].map((msn) => ({ msn, duration: 2, pdtMs: Date.UTC(2026, 0, 1) + msn * 2000, size: 2000 })));
    await putSegments(id, "audio", [0, 1].map((msn) => ({ msn, duration: 2, pdtMs: Date.UTC(2026, 0, 1) + msn * 2000, size: 400 })));
    await finalizeRecording({ bucket: bucket(), db: testEnv().DB! }, (await getRecording(testEnv().DB!, id))!);
    return id;
  };

  it("a private stream's recording plays only through a signed URL for that stream", async () => {
    const t = await liveStream();
    const other = await liveStream();
    const rec = await readyRecording(t.id, t.owner.user.id);
    expectJsonError(await t.get(`/vod/${rec}/master.m3u8`), 403, "this stream is private: play it through a signed playback URL");
    expectJsonError(await t.get(`/vod/${rec}/360p/seg-0.m4s`), 403, "this stream is private: play it through a signed playback URL");

    const minted = await t.mint({ recording_id: rec });
    expect(minted.url).toBe(`/vod/${rec}/~${minted.token}/master.m3u8`);
    const master = await t.get(minted.url);
    expect(master.status).toBe(200);
    expect(master.text).toContain("#EXT-X-STREAM-INF:");
    const media = new URL("360p/index.m3u8", `http://edge.test${minted.url}`);
    const playlist = await t.get(media.pathname);
    expect(playlist.status).toBe(200);
    const segment = playlist.text.split("\n").find((l) => l.endsWith(".m4s"))!;
    expect((await t.get(new URL(segment, media).pathname)).status).toBe(200);
    // The live token works for the stream's recordings as well (same stream); another stream's does not.
    const live = (await t.mint()).token;
    expect((await t.get(`/vod/${rec}/~${live}/master.m3u8`)).status).toBe(200);
    expectJsonError(await t.get(`/vod/${rec}/~${(await other.mint()).token}/master.m3u8`), 403, "the playback token is for another stream");
    expectJsonError(await t.get(`/vod/${rec}/~${await forge({ streamId: t.id, expires: nowS() - 5 })}/master.m3u8`), 403, "the playback token has expired");
    expectJsonError(await t.get(`/vod/${rec}/~garbage/master.m3u8`), 400, "malformed playback token");
    // A recording of another stream cannot be minted for.
    const foreign = await api.call("POST", `/api/v1/streams/${other.id}/playback-token`, { token: other.owner.token, json: { recording_id: rec } });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error).toBe("recording not found");
    // The recordings API does not show a private stream's recordings to anyone else.
    expect((await api.call("GET", `/api/v1/streams/${t.id}/recordings`)).status).toBe(404);
    expect((await api.call("GET", `/api/v1/streams/${t.id}/recordings/${rec}`)).status).toBe(404);
    expect((await api.call("GET", `/api/v1/streams/${t.id}/recordings`, { token: t.owner.token })).status).toBe(200);
  });

  it("a public stream's recording still plays by its direct path", async () => {
    const t = await liveStream("public");
    const rec = await readyRecording(t.id, t.owner.user.id);
    expect((await t.get(`/vod/${rec}/master.m3u8`)).status).toBe(200);
  });

  it("watch page: private without a token says so and lets the owner ask for a URL; a valid ?t= plays; a bad one is refused", async () => {
    const t = await liveStream();
    const gated = await t.get(`/watch/${t.id}`);
    expect(gated.status).toBe(200);
    expect(gated.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(gated.text).toContain('"gate":"This stream is private."');
    expect(gated.text).toContain('"askOwner":true');
    expect(gated.text).toContain('"src":null');
    expect(gated.text).toContain("/playback-token");

    const minted = await t.mint();
    const signed = await t.get(minted.watch_url);
    expect(signed.status).toBe(200);
    expect(signed.text).toContain(`"src":"${minted.url}"`);
    expect(signed.text).toContain('"gate":null');
    // The chat pane gets the same token, for the stream's chat, details and viewer count.
    expect(signed.text).toContain(`"playbackToken":${JSON.stringify(minted.token)}`);
    expect(gated.text).toContain('"playbackToken":null');

    const expired = await t.get(`/watch/${t.id}?t=${await forge({ streamId: t.id, expires: nowS() - 1 })}`);
    expect(expired.status).toBe(403);
    expect(expired.text).toContain("This playback link has expired or is not valid for this stream.");
    expect(expired.text).toContain('"src":null');
    const other = await liveStream();
    expect((await t.get(`/watch/${t.id}?t=${(await other.mint()).token}`)).status).toBe(403);
    expect((await t.get(`/watch/${t.id}?t=%3Cscript%3E`)).status).toBe(400);

    const pub = await liveStream("public");
    const page = await pub.get(`/watch/${pub.id}`);
    expect(page.status).toBe(200);
    expect(page.text).toContain('"src":null,"gate":null');
    // A stray token on a public stream's page is not needed, so not held against the viewer.
    expect((await pub.get(`/watch/${pub.id}?t=junk`)).status).toBe(200);
  });
});
