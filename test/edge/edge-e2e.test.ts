import { spawn } from "node:child_process";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../shared/hls/index.ts";
import { EDGE_ADMIN_TOKEN, edgeServesStream, startStack, type EdgeStack } from "./stack.ts";

let stack: EdgeStack;

/** Raw GET so the test sees the bytes on the wire (fetch would inflate gzip). */
const rawGet = (url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> =>
  new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", reject);
  });

/** Sum of the origin's viewer request counter for one kind (all statuses). */
const originRequests = async (kind: string): Promise<number> => {
  const text = await (await fetch(`${stack.live.originUrl}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cascade_origin_viewer_requests_total{") && line.includes(`kind="${kind}"`)) total += Number(line.split(" ").pop());
  }
  return total;
};

beforeAll(async () => {
  stack = await startStack({ edges: 2 });
  // Wait until the edge serves a media playlist with a few parts.
  await edgeServesStream(stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("end to end through the edge Worker (workerd)", () => {
  it("serves master, media playlists, init and parts with gzip, MIME types, CORS and Age", async () => {
    const master = await rawGet(`${stack.edgeUrl}/hls/it/master.m3u8`, { "accept-encoding": "gzip" });
    expect(master.status).toBe(200);
    expect(master.headers["content-type"]).toBe("application/vnd.apple.mpegurl");
    expect(master.headers["content-encoding"]).toBe("gzip");
    expect(master.body.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(master.headers["access-control-allow-origin"]).toBe("*");
    expect(master.headers["age"]).toMatch(/^\d+$/);

    const text = await (await fetch(`${stack.edgeUrl}/hls/it/master.m3u8`)).text();
    const variants = parseMultivariantPlaylist(text).variants.map((v) => v.uri);
    expect(variants).toEqual(["180p/index.m3u8", "90p/index.m3u8"]);
    const playlist = parseMediaPlaylist(await (await fetch(`${stack.edgeUrl}/hls/it/180p/index.m3u8`)).text());
    const seg = playlist.segments.find((s) => s.parts.length > 0)!;
    const init = await fetch(`${stack.edgeUrl}/hls/it/180p/${seg.map ?? "init0.mp4"}`);
    expect(init.status).toBe(200);
    expect(init.headers.get("content-type")).toBe("video/mp4");
    const part = await fetch(`${stack.edgeUrl}/hls/it/180p/${seg.parts[0]!.uri}`);
    expect(part.status).toBe(200);
    expect(part.headers.get("content-type")).toBe("video/iso.segment");
    expect(part.headers.get("cache-control")).toContain("immutable");
    const direct = await fetch(`${stack.live.originUrl}/live/it/180p/${seg.parts[0]!.uri}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(Buffer.from(await direct.arrayBuffer()));
  });

  it("ffmpeg reads the edge URL and decodes 10 s of the stream", async () => {
    const result = await new Promise<{ code: number | null; outTimeUs: number; err: string }>((resolve) => {
      const p = spawn("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", `${stack.edgeUrl}/hls/it/master.m3u8`, "-map", "0:v:0", "-map", "0:a:0", "-t", "10", "-progress", "pipe:1", "-f", "null", "-"]);
      let out = "";
      let err = "";
      p.stdout.on("data", (d: Buffer) => (out += d.toString()));
      p.stderr.on("data", (d: Buffer) => (err += d.toString()));
      p.on("close", (code) => {
        const times = [...out.matchAll(/out_time_us=(\d+)/g)].map((m) => Number(m[1]));
        resolve({ code, outTimeUs: Math.max(0, ...times), err });
      });
    });
    expect(result.code, result.err).toBe(0);
    expect(result.outTimeUs).toBeGreaterThanOrEqual(9_900_000);
  }, 60_000);

  it("200 concurrent blocking requests for the next part reach the origin once per object per edge", async () => {
    const text = await (await fetch(`${stack.live.originUrl}/live/it/180p/index.m3u8`)).text();
    const hint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s"/.exec(text);
    expect(hint).not.toBeNull();
    // The hinted part: requests for it block until the transcoder pushes it.
    const target = { msn: Number(hint![1]), part: Number(hint![2]) };
    const playlistsBefore = await originRequests("playlist");
    const partsBefore = await originRequests("part");
    const requests: Promise<{ status: number; body: string; edge: number }>[] = [];
    for (let i = 0; i < 200; i++) {
      const edge = stack.edges[i % stack.edges.length]!;
      const url = i % 2 === 0 ? `${edge.url}/hls/it/180p/index.m3u8?_HLS_msn=${target.msn}&_HLS_part=${target.part}` : `${edge.url}/hls/it/180p/index.m3u8?_HLS_part=${target.part}&_HLS_msn=${target.msn}&_HLS_skip=NO`;
      requests.push(fetch(url).then(async (r) => ({ status: r.status, body: await r.text(), edge: i % stack.edges.length })));
    }
    const results = await Promise.all(requests);
    for (const r of results) {
      expect(r.status, `${JSON.stringify(target)} after hint ${hint![0]}: ${r.body}`).toBe(200);
      expect(r.body).toContain(`part${target.msn}.${target.part}.m4s`);
    }
    for (let e = 0; e < stack.edges.length; e++) {
      const bodies = new Set(results.filter((r) => r.edge === e).map((r) => r.body));
      expect(bodies.size, `edge ${e} answered every waiter from one fill`).toBe(1);
    }
    expect((await originRequests("playlist")) - playlistsBefore).toBe(stack.edges.length);

    // The hinted part of that playlist: 200 concurrent GETs, again one upstream fetch per edge.
    const nextHint = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="(part\d+\.\d+\.m4s)"/.exec(results[0]!.body)![1]!;
    const parts = await Promise.all(
      Array.from({ length: 200 }, (_, i) => fetch(`${stack.edges[i % stack.edges.length]!.url}/hls/it/180p/${nextHint}`).then(async (r) => ({ status: r.status, bytes: Buffer.from(await r.arrayBuffer()) }))),
    );
    for (const p of parts) {
      expect(p.status).toBe(200);
      expect(p.bytes.equals(parts[0]!.bytes)).toBe(true);
    }
    expect((await originRequests("part")) - partsBefore).toBe(stack.edges.length);
  }, 60_000);

  it("prewarm (authenticated) pulls master, media playlists and init segments into each edge", async () => {
    const unauth = await fetch(`${stack.edgeUrl}/api/v1/edge/prewarm/it`, { method: "POST" });
    expect(unauth.status).toBe(401);
    expect(await unauth.json()).toEqual({ error: "missing or invalid bearer token", code: "unauthorized" });
    const bad = await fetch(`${stack.edgeUrl}/api/v1/edge/prewarm/Bad!`, { method: "POST", headers: { authorization: `Bearer ${EDGE_ADMIN_TOKEN}` } });
    expect(bad.status).toBe(400);
    for (const edge of stack.edges) {
      const res = await fetch(`${edge.url}/api/v1/edge/prewarm/it`, { method: "POST", headers: { authorization: `Bearer ${EDGE_ADMIN_TOKEN}` } });
      expect(res.status).toBe(200);
      const report = (await res.json()) as { ok: boolean; edge: string; warmed: { path: string; status: number }[]; failed: unknown[] };
      expect(report.ok).toBe(true);
      expect(report.edge).toBe(edge.name);
      expect(report.failed).toEqual([]);
      const paths = report.warmed.map((w) => w.path).sort();
      expect(paths).toEqual(["180p/index.m3u8", "180p/init0.mp4", "90p/index.m3u8", "90p/init0.mp4", "audio/index.m3u8", "audio/init0.mp4", "master.m3u8"].sort());
      const init = await fetch(`${edge.url}/hls/it/90p/init0.mp4`);
      expect(init.headers.get("x-cascade-cache")).toBe("HIT");
    }
    const unknown = await fetch(`${stack.edgeUrl}/api/v1/edge/prewarm/nosuchstream`, { method: "POST", headers: { authorization: `Bearer ${EDGE_ADMIN_TOKEN}` } });
    expect(unknown.status).toBe(502);
    expect(((await unknown.json()) as { ok: boolean }).ok).toBe(false);
  });

  it("is not an open proxy: only the stream layout is served", async () => {
    expect((await fetch(`${stack.edgeUrl}/hls/it/..%2F..%2Fmetrics`)).status).toBe(404);
    expect((await fetch(`${stack.edgeUrl}/hls/it/180p/index.m3u8?_HLS_part=1`)).status).toBe(400);
    expect((await fetch(`${stack.edgeUrl}/hls/nosuchstream/master.m3u8`)).status).toBe(404);
    expect((await fetch(`${stack.edgeUrl}/live/it/master.m3u8`)).status).toBe(404);
  });
});
