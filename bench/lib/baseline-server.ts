/**
 * The latency baseline: the least a long-poll server can do. Plain node:http, no framework, no
 * validation, no storage. A part PUT is kept in memory and announced on an EventEmitter keyed by
 * rendition and part; a blocked playlist request listens for exactly that key and is answered the
 * moment it fires with a tiny pre-rendered playlist (the parts of the open segment and a
 * PRELOAD-HINT, so the same load generator can follow it). Whatever Cascade's origin adds on top —
 * routing, token checks, validation, sequence checks, full playlists with rendition reports,
 * metrics — shows up as the ratio between the two.
 *
 * It accepts the push protocol's paths so the same push client drives it (auth and seq are
 * ignored) and serves `/live/<stream>/<rendition>/index.m3u8` like the origin. Run as its own
 * process: `BENCH_BASELINE_PORT=8081 node --import tsx bench/lib/baseline-server.ts`.
 */
import { EventEmitter } from "node:events";
import http from "node:http";
import { PUSH_HEADERS } from "../../shared/push-protocol.ts";

const port = Number(process.env.BENCH_BASELINE_PORT ?? 0);
/** The same 503 deadline the origin applies (3 × TD with the benchmarks' 2 s target duration). */
const BLOCK_TIMEOUT_MS = 6000;

interface Rendition {
  last: { msn: number; part: number } | null;
  /** EXT-X-PART lines of the open segment. */
  segmentParts: string[];
  playlist: string;
  /** The newest parts' bytes (a real server keeps them to serve part requests). */
  store: Map<string, Buffer>;
}

const events = new EventEmitter();
events.setMaxListeners(0);
const renditions = new Map<string, Rendition>();
let partsPerSegment = 4;
let partTarget = 0.5;
let targetDuration = 2;

const rendition = (name: string): Rendition => {
  let r = renditions.get(name);
  if (!r) {
    r = { last: null, segmentParts: [], playlist: "", store: new Map() };
    renditions.set(name, r);
  }
  return r;
};

const render = (r: Rendition, msn: number, part: number) => {
  const next = part + 1 >= partsPerSegment ? { msn: msn + 1, part: 0 } : { msn, part: part + 1 };
  r.playlist = [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    `#EXT-X-TARGETDURATION:${targetDuration}`,
    `#EXT-X-PART-INF:PART-TARGET=${partTarget}`,
    `#EXT-X-MEDIA-SEQUENCE:${msn}`,
    ...r.segmentParts,
    `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part${next.msn}.${next.part}.m4s"`,
    "",
  ].join("\n");
};

const available = (r: Rendition, msn: number, part: number) =>
  r.last !== null && (r.last.msn > msn || (r.last.msn === msn && r.last.part >= part));

const PLAYLIST_GET = /^\/live\/[^/]+\/([^/]+)\/index\.m3u8$/;
const PART_PUT = /^\/ingest\/v1\/streams\/[^/]+\/renditions\/([^/]+)\/parts\/(\d+)\/(\d+)$/;
const MANIFEST_PUT = /^\/ingest\/v1\/streams\/[^/]+$/;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const get = req.method === "GET" ? PLAYLIST_GET.exec(url.pathname) : null;
    if (get) {
      const r = rendition(get[1]!);
      const msn = Number(url.searchParams.get("_HLS_msn") ?? Number.NaN);
      const part = Number(url.searchParams.get("_HLS_part") ?? 0);
      const answer = () => res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" }).end(r.playlist);
      if (Number.isNaN(msn) || available(r, msn, part)) return void (r.playlist ? answer() : res.writeHead(404).end());
      const key = `${get[1]}/${msn}.${part}`;
      const onPart = () => {
        clearTimeout(timer);
        answer();
      };
      const timer = setTimeout(() => {
        events.off(key, onPart);
        res.writeHead(503).end();
      }, BLOCK_TIMEOUT_MS);
      events.once(key, onPart);
      return;
    }
    if (req.method === "PUT" && MANIFEST_PUT.test(url.pathname)) {
      const m = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { partTarget: number; segmentDuration?: number; targetDuration: number };
      partTarget = m.partTarget;
      targetDuration = m.targetDuration;
      partsPerSegment = Math.round((m.segmentDuration ?? m.targetDuration) / m.partTarget);
    }
    const p = req.method === "PUT" ? PART_PUT.exec(url.pathname) : null;
    if (p) {
      const name = p[1]!;
      const msn = Number(p[2]);
      const part = Number(p[3]);
      const r = rendition(name);
      if (part === 0) r.segmentParts.length = 0;
      r.segmentParts.push(`#EXT-X-PART:DURATION=${req.headers[PUSH_HEADERS.partDuration]},URI="part${msn}.${part}.m4s"`);
      r.store.set(`${msn}.${part}`, Buffer.concat(chunks));
      if (r.store.size > 32) r.store.delete(r.store.keys().next().value!);
      r.last = { msn, part };
      render(r, msn, part);
      events.emit(`${name}/${msn}.${part}`);
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1");
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
