/**
 * vod-first-byte: time to first byte of a recording's VOD at the edge (`/vod/<id>/…`): the
 * multivariant playlist, a media playlist and a segment, cold (the first request for the object at
 * this edge: D1 status read, R2) and warm (the Cache API), next to nginx serving the same bytes
 * from disk on the same machine.
 *
 * The recordings are made the way the archive leaves them: before the edge starts, a streamer,
 * a stream and DVR-only recording rows go into its D1 and manifest, inits, segments (with their
 * metadata) and a poster into its R2 (miniflare's persisted state, the directory `wrangler dev
 * --persist-to` then serves). Each recording is then converted through the API
 * (`POST …/recordings/:id/convert`, a stand-in origin answering the archive endpoints with nothing
 * pending), so the edge itself writes the VOD playlists and marks it ready.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { Miniflare } from "miniflare";
import { hashPassword } from "../edge/accounts/password.ts";
import { applyEdgeMigrations, edgePersistDir, startEdgeProcess, type EdgeProcess } from "../scripts/edge-process.ts";
import { archiveKey, initFile, segmentFile, segmentMetadataToR2, type ArchiveManifest } from "../shared/archive-protocol.ts";
import type { ManifestRendition } from "../shared/push-protocol.ts";
import { sleep } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN, JWT_SECRET } from "./lib/edges.ts";
import { nginxMissing, startNginx, type RunningNginx } from "./lib/nginx.ts";
import { OUT_DIR, ROOT, freePort, trackGroup } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { fmt, ratio, summarize, type Summary } from "./lib/stats.ts";

const NODE_SECRET = "cascade-bench-node-secret-0123456789";
const PASSWORD = "correct horse battery staple";
const DATABASE_ID = "00000000-0000-4000-8000-000000000000";

/** The ladder of the recordings and the bytes of one 2 s segment of each rung (its bitrate × 2 s). */
const RENDITIONS: Array<ManifestRendition & { segmentBytes: number }> = [
  { name: "720p", type: "video", codecs: "avc1.64001f", bitrate: 3_000_000, width: 1280, height: 720, fps: 30, segmentBytes: 750_000 },
  { name: "360p", type: "video", codecs: "avc1.4d401e", bitrate: 800_000, width: 640, height: 360, fps: 30, segmentBytes: 200_000 },
  { name: "audio", type: "audio", codecs: "mp4a.40.2", bitrate: 128_000, channels: 2, segmentBytes: 32_000 },
];

interface Settings {
  recordings: number;
  segments: number;
  warm: number;
}

const settingsFor = (quick: boolean): Settings => ({
  recordings: envNumber("BENCH_VOD_RECORDINGS", quick ? 4 : 12, { min: 1, max: 200, integer: true }),
  segments: envNumber("BENCH_VOD_SEGMENTS", quick ? 3 : 6, { min: 1, max: 600, integer: true }),
  warm: envNumber("BENCH_VOD_WARM", quick ? 40 : 300, { min: 1, max: 100_000, integer: true }),
});

interface Sample {
  ms: number;
  status: number;
  bytes: number;
  cache: string | null;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/** One GET on a kept-alive connection: milliseconds from sending the request to the first body byte. */
const firstByte = (url: string): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent }, (res) => {
      let first: number | null = null;
      let bytes = 0;
      res.on("data", (chunk: Buffer) => {
        first ??= performance.now();
        bytes += chunk.length;
      });
      res.on("end", () => resolve({ ms: (first ?? performance.now()) - t0, status: res.statusCode ?? 0, bytes, cache: (res.headers["x-cascade-cache"] as string | undefined) ?? null }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });

/** A stand-in origin for the convert path: the archive endpoints with nothing pending. */
const startFakeOrigin = async (): Promise<{ url: string; close(): Promise<void> }> => {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://origin");
    const m = /^\/ingest\/v1\/streams\/([^/]+)\/archive$/.exec(url.pathname);
    req.resume();
    res.setHeader("content-type", "application/json");
    if (m && req.method === "POST") return res.end(JSON.stringify({ queued: 0 }));
    if (m) return res.end(JSON.stringify({ stream_id: m[1], recording_id: url.searchParams.get("recording_id"), mode: "dvr", ended: true, pending: 0, uploaded: 0, rejected: 0, lag_ms: [] }));
    res.statusCode = 404;
    res.end(JSON.stringify({ error: "not found" }));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
};

interface Seeded {
  username: string;
  streamId: string;
  recordings: string[];
  /** Every object by path below `/vod/`, for nginx. */
  files: Map<string, Buffer>;
}

/** Rows into the edge's D1 and archived objects into its R2, through miniflare on the same persisted state. */
const seed = async (persistTo: string, s: Settings): Promise<Seeded> => {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
    defaultPersistRoot: path.join(persistTo, "v3"),
    d1Databases: { DB: DATABASE_ID },
    r2Buckets: { RECORDINGS: "cascade-recordings" },
  });
  try {
    const db = await mf.getD1Database("DB");
    const bucket = await mf.getR2Bucket("RECORDINGS");
    const now = new Date().toISOString();
    const ended = new Date(Date.now() - 60_000).toISOString();
    const suffix = Date.now().toString(36);
    const userId = `bvod${suffix}`;
    const username = `bench_vod_${suffix}`;
    const streamId = `bvodstream${suffix}`;
    await db.prepare("INSERT INTO users (id, username, password_hash, role, created_at, updated_at) VALUES (?1, ?2, ?3, 'streamer', ?4, ?4)").bind(userId, username, await hashPassword(PASSWORD), now).run();
    await db
      .prepare("INSERT INTO streams (id, user_id, title, status, stream_key_hash, dvr_window, created_at, updated_at, ended_at) VALUES (?1, ?2, 'VOD benchmark', 'ended', ?3, 7200, ?4, ?4, ?5)")
      .bind(streamId, userId, "0".repeat(64), now, ended)
      .run();
    const files = new Map<string, Buffer>();
    const put = async (recordingId: string, rendition: string | null, file: string, body: Buffer, customMetadata?: Record<string, string>) => {
      // A plain ArrayBuffer: miniflare's proxy does not pass Node Buffers.
      const bytes = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
      await bucket.put(archiveKey(recordingId, rendition, file), bytes, customMetadata ? { customMetadata } : {});
      files.set(`${recordingId}/${rendition ? `${rendition}/` : ""}${file}`, body);
    };
    const recordings: string[] = [];
    for (let i = 0; i < s.recordings; i++) {
      const id = `bvod${suffix}r${i.toString().padStart(3, "0")}`;
      recordings.push(id);
      await db
        .prepare("INSERT INTO recordings (id, stream_id, user_id, title, status, started_at, ended_at, retention_days, created_at, updated_at) VALUES (?1, ?2, ?3, 'VOD benchmark', 'dvr', ?4, ?5, 30, ?4, ?4)")
        .bind(id, streamId, userId, now, ended)
        .run();
      const manifest: ArchiveManifest = { version: 1, recordingId: id, streamId, targetDuration: 2, partTarget: 0.5, segmentDuration: 2, renditions: RENDITIONS.map(({ segmentBytes: _, ...r }) => r) };
      await put(id, null, "manifest.json", Buffer.from(JSON.stringify(manifest)));
      await put(id, null, "poster.jpg", Buffer.concat([Buffer.from([0xff, 0xd8]), randomBytes(20_000), Buffer.from([0xff, 0xd9])]));
      const pdt = Date.now() - 3_600_000;
      for (const r of RENDITIONS) {
        await put(id, r.name, initFile(0), randomBytes(1_000));
        for (let msn = 0; msn < s.segments; msn++) {
          await put(id, r.name, segmentFile(msn), randomBytes(r.segmentBytes), segmentMetadataToR2({ duration: 2, programDateTimeMs: pdt + msn * 2000, discontinuity: false, initVersion: 0 }, "0".repeat(64)));
        }
      }
    }
    return { username, streamId, recordings, files };
  } finally {
    await mf.dispose();
  }
};

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

/** Logs in and converts every recording through the API; the edge writes the VOD and marks each ready. */
const convertAll = async (edgeUrl: string, seeded: Seeded): Promise<void> => {
  const login = await fetch(`${edgeUrl}/api/v1/sessions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: seeded.username, password: PASSWORD }) });
  if (login.status !== 200) throw new Error(`login failed: ${login.status} ${await login.text()}`);
  const { token } = await json<{ token: string }>(login);
  const auth = { authorization: `Bearer ${token}` };
  for (const id of seeded.recordings) {
    const base = `${edgeUrl}/api/v1/streams/${seeded.streamId}/recordings/${id}`;
    const r = await fetch(`${base}/convert`, { method: "POST", headers: auth });
    if (r.status !== 202) throw new Error(`convert ${id}: ${r.status} ${await r.text()}`);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const got = await json<{ status: string }>(await fetch(base, { headers: auth }));
      if (got.status === "ready") break;
      if (Date.now() > deadline) throw new Error(`recording ${id} not ready after 30 s (${got.status})`);
      await sleep(100);
    }
  }
};

type Kind = "master" | "media playlist" | "segment";
const KINDS: Kind[] = ["master", "media playlist", "segment"];
const pathsOf = (id: string) => ({ master: `${id}/master.m3u8`, media: `${id}/720p/index.m3u8`, segment: `${id}/720p/seg-0.m4s` });

interface Measured {
  cold: Record<Kind, number[]>;
  warm: Record<Kind, number[]>;
}

const empty = (): Record<Kind, number[]> => ({ master: [], "media playlist": [], segment: [] });

/** First request for every object (a player's order: master, media playlist, first segment; then the rest), then warm rounds. */
const measure = async (base: string, seeded: Seeded, s: Settings, isEdge: boolean): Promise<Measured> => {
  const out: Measured = { cold: empty(), warm: empty() };
  const check = (what: string, sample: Sample, cold: boolean) => {
    if (sample.status !== 200) throw new Error(`${base}${what}: ${sample.status}`);
    if (isEdge && sample.cache !== (cold ? "MISS" : "HIT")) throw new Error(`${base}${what}: x-cascade-cache ${sample.cache}, expected ${cold ? "MISS" : "HIT"}`);
  };
  await firstByte(`${base}/healthz`).catch(() => undefined);
  for (const id of seeded.recordings) {
    const p = pathsOf(id);
    for (const [kind, rel] of [["master", p.master], ["media playlist", p.media], ["segment", p.segment]] as const) {
      const sample = await firstByte(`${base}/vod/${rel}`);
      check(rel, sample, true);
      out.cold[kind].push(sample.ms);
    }
    for (const r of RENDITIONS) {
      if (r.name !== "720p") {
        const sample = await firstByte(`${base}/vod/${id}/${r.name}/index.m3u8`);
        check(`${id}/${r.name}/index.m3u8`, sample, true);
        out.cold["media playlist"].push(sample.ms);
      }
      for (let msn = r.name === "720p" ? 1 : 0; msn < s.segments; msn++) {
        const sample = await firstByte(`${base}/vod/${id}/${r.name}/seg-${msn}.m4s`);
        check(`${id}/${r.name}/seg-${msn}.m4s`, sample, true);
        out.cold.segment.push(sample.ms);
      }
    }
  }
  // Let the edge's background cache writes land before the warm rounds.
  await sleep(1_000);
  for (let i = 0; i < s.warm; i++) {
    const p = pathsOf(seeded.recordings[i % seeded.recordings.length]!);
    for (const [kind, rel] of [["master", p.master], ["media playlist", p.media], ["segment", p.segment]] as const) {
      const sample = await firstByte(`${base}/vod/${rel}`);
      check(rel, sample, false);
      out.warm[kind].push(sample.ms);
    }
  }
  return out;
};

export const vodFirstByte: Benchmark = {
  name: "vod-first-byte",
  title: "VOD first byte at the edge (master, media playlist, segment; cold and warm)",
  summary: "time to first byte of /vod/<recording>/… at one edge (R2 + D1 cold, Cache API warm) vs nginx from disk",
  async run({ quick, log }: BenchOptions): Promise<BenchResult> {
    const s = settingsFor(quick);
    const parent = path.join(OUT_DIR, "edge-state");
    mkdirSync(parent, { recursive: true });
    const stateDir = mkdtempSync(path.join(parent, "vod-first-byte-"));
    const www = path.join(OUT_DIR, "vod-first-byte-www");
    const skipNginx = nginxMissing(false);
    const fakeOrigin = await startFakeOrigin();
    let edge: EdgeProcess | null = null;
    let nginx: RunningNginx | null = null;
    let edgeRun: Measured;
    let nginxRun: Measured | null = null;
    try {
      log(`applying D1 migrations and seeding ${s.recordings} recordings × ${RENDITIONS.length} renditions × ${s.segments} segments into the edge's D1 and R2 (miniflare, persisted)`);
      await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
      const seeded = await seed(edgePersistDir(stateDir, 1), s);
      const port = await freePort();
      edge = startEdgeProcess({ index: 1, port, originUrl: fakeOrigin.url, adminToken: EDGE_ADMIN_TOKEN, stateDir, root: ROOT, secrets: { JWT_SECRET, NODE_SECRET } });
      trackGroup(edge.child);
      edge.child.stdout!.resume();
      edge.child.stderr!.resume();
      await edge.ready(120_000);
      log(`edge at ${edge.url}; converting the recordings through the API (the edge writes the VOD playlists; nothing is read through /vod yet)`);
      await convertAll(edge.url, seeded);
      log(`measuring the edge: cold (every object once), then ${s.warm} warm rounds`);
      edgeRun = await measure(edge.url, seeded, s, true);
      // The playlists the edge wrote (from its cache now), for nginx.
      for (const id of seeded.recordings) {
        for (const rel of [`${id}/master.m3u8`, ...RENDITIONS.map((r) => `${id}/${r.name}/index.m3u8`)]) {
          seeded.files.set(rel, Buffer.from(await (await fetch(`${edge.url}/vod/${rel}`)).arrayBuffer()));
        }
      }
      if (!skipNginx) {
        rmSync(www, { recursive: true, force: true });
        for (const [rel, body] of seeded.files) {
          if (rel.endsWith("manifest.json")) continue;
          const file = path.join(www, "vod", rel);
          mkdirSync(path.dirname(file), { recursive: true });
          writeFileSync(file, body);
        }
        nginx = await startNginx({ label: "vod-first-byte", root: www, workers: 1 });
        log(`nginx at ${nginx.httpUrl}: the same objects from disk`);
        nginxRun = await measure(nginx.httpUrl, seeded, s, false);
      }
    } finally {
      agent.destroy();
      await edge?.stop();
      await nginx?.stop();
      await fakeOrigin.close();
      rmSync(stateDir, { recursive: true, force: true });
      rmSync(www, { recursive: true, force: true });
    }

    const sum = (m: Measured | null, phase: "cold" | "warm", kind: Kind): Summary | null => (m ? summarize(m[phase][kind]) : null);
    const figures: Figure[] = [];
    for (const phase of ["cold", "warm"] as const) {
      for (const kind of KINDS) {
        const e = sum(edgeRun, phase, kind)!;
        const n = sum(nginxRun, phase, kind);
        figures.push({ figure: `${kind} first byte p50 / p99, ${phase}`, cascade: `${fmt(e.p50)} / ${fmt(e.p99)} ms`, baseline: n ? `${fmt(n.p50)} / ${fmt(n.p99)} ms` : "–", ratio: n ? ratio(e.p50, n.p50) : "–" });
      }
    }
    const table: Table = {
      title: "Time to first byte (ms)",
      columns: ["server", "object", "phase", "samples", "p50", "p90", "p99", "max"],
      rows: [
        ...(["cold", "warm"] as const).flatMap((phase) =>
          KINDS.map((kind) => {
            const e = sum(edgeRun, phase, kind)!;
            return [phase === "cold" ? "edge (R2 + D1; miss)" : "edge (Cache API hit)", kind, phase, String(e.count), fmt(e.p50), fmt(e.p90), fmt(e.p99), fmt(e.max)];
          }),
        ),
        ...(nginxRun
          ? (["cold", "warm"] as const).flatMap((phase) =>
              KINDS.map((kind) => {
                const n = sum(nginxRun, phase, kind)!;
                return ["nginx (disk)", kind, phase, String(n.count), fmt(n.p50), fmt(n.p90), fmt(n.p99), fmt(n.max)];
              }),
            )
          : []),
      ],
    };
    return {
      name: "vod-first-byte",
      title: "VOD first byte at the edge (master, media playlist, segment; cold and warm)",
      method:
        `${s.recordings} recordings (720p 750 KB, 360p 200 KB and audio 32 KB segments of 2 s, ${s.segments} per rendition, inits, a poster) are put into one edge's R2 and D1 the way the archive leaves them, ` +
        "converted through the recordings API (the edge lists R2 and writes the VOD playlists; nothing is read through /vod before the measurement). " +
        "One keep-alive client (node:http, one request at a time) then asks for every object once — master, 720p media playlist, first 720p segment per recording, then the other playlists and segments — " +
        `(cold: the recording's status from D1, the object from R2, x-cascade-cache: MISS), then ${s.warm} rounds of master, media playlist and segment (warm: Cache API hits, checked). ` +
        "Time to first byte = request sent → first body byte received. nginx (1 worker, sendfile) serves the same files from disk, measured the same way (its \"cold\" reads come from the page cache).",
      settings: `${s.recordings} recordings × ${RENDITIONS.length} renditions × ${s.segments} segments; ${s.warm} warm rounds`,
      figures,
      tables: [table],
      notes: [
        ...(skipNginx ? [`nginx baseline skipped: ${skipNginx}`] : []),
        "The edge is `wrangler dev` (workerd with miniflare's local R2, D1 and Cache API, all on this machine's disk), not Cloudflare's network: cold figures here have no R2 network round trip.",
        "A recording's `ready` status is remembered per isolate for 5 s, so some warm requests include a D1 read.",
      ],
    };
  },
};
