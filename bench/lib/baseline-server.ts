/**
 * The latency baseline: the least a long-poll server can do. Plain node:http, no framework, no
 * validation, no storage. A part PUT is kept in memory and announced on an EventEmitter keyed
 * by the part; a blocked playlist request listens for exactly that key and is answered the moment
 * it fires with a tiny pre-rendered playlist (the parts of the open segment and a PRELOAD-HINT, so
 * the same load generator can follow it). Whatever Cascade's origin adds on top — routing,
 * validation, sequence checks, playlist building, metrics — shows up as the ratio between the two.
 * It accepts the push protocol's paths so the same pusher drives it (auth and seq are ignored).
 */
import { EventEmitter } from "node:events";
import http from "node:http";

const port = Number(process.env.BENCH_BASELINE_PORT ?? 0);
const parts = new EventEmitter();
parts.setMaxListeners(0);

let partsPerSegment = 4;
let partTarget = 0.5;
let last: { msn: number; part: number } | null = null;
let playlist = "";
const segmentParts: string[] = [];
/** The newest parts' bytes (a real server keeps them to serve part requests). */
const store = new Map<string, Buffer>();

const renderPlaylist = (msn: number, part: number) => {
  const next = part + 1 >= partsPerSegment ? { msn: msn + 1, part: 0 } : { msn, part: part + 1 };
  playlist = [
    "#EXTM3U",
    "#EXT-X-VERSION:9",
    `#EXT-X-TARGETDURATION:${Math.ceil(partTarget * partsPerSegment)}`,
    `#EXT-X-PART-INF:PART-TARGET=${partTarget}`,
    `#EXT-X-MEDIA-SEQUENCE:${msn}`,
    ...segmentParts,
    `#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part${next.msn}.${next.part}.m4s"`,
    "",
  ].join("\n");
};

const available = (msn: number, part: number) => last !== null && (last.msn > msn || (last.msn === msn && last.part >= part));

const PART_PUT = /^\/ingest\/v1\/streams\/[^/]+\/renditions\/[^/]+\/parts\/(\d+)\/(\d+)$/;
const MANIFEST_PUT = /^\/ingest\/v1\/streams\/[^/]+$/;

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    if (req.method === "GET" && url.pathname.endsWith(".m3u8")) {
      const msn = Number(url.searchParams.get("_HLS_msn") ?? Number.NaN);
      const part = Number(url.searchParams.get("_HLS_part") ?? 0);
      const answer = () => res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl" }).end(playlist);
      if (Number.isNaN(msn) || available(msn, part)) return void (playlist ? answer() : res.writeHead(404).end());
      const key = `${msn}.${part}`;
      const timer = setTimeout(() => {
        parts.off(key, answer);
        res.writeHead(503).end();
      }, 6000);
      parts.once(key, () => {
        clearTimeout(timer);
        answer();
      });
      return;
    }
    if (req.method === "PUT" && MANIFEST_PUT.test(url.pathname)) {
      const m = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { partTarget: number; segmentDuration?: number; targetDuration: number };
      partTarget = m.partTarget;
      partsPerSegment = Math.round((m.segmentDuration ?? m.targetDuration) / m.partTarget);
    }
    const p = req.method === "PUT" ? PART_PUT.exec(url.pathname) : null;
    if (p) {
      const msn = Number(p[1]);
      const part = Number(p[2]);
      if (part === 0) segmentParts.length = 0;
      segmentParts.push(`#EXT-X-PART:DURATION=${req.headers["cascade-part-duration"]},URI="part${msn}.${part}.m4s"`);
      store.set(`${msn}.${part}`, Buffer.concat(chunks));
      if (store.size > 32) store.delete(store.keys().next().value!);
      last = { msn, part };
      renderPlaylist(msn, part);
      parts.emit(`${msn}.${part}`);
    }
    res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, "127.0.0.1");
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(0));
