/**
 * edge-rss: how the local edge runtime's memory grows with the requests it serves. The soak saw the
 * edges' workerd grow for as long as viewers kept asking; this separates what Cascade's Worker
 * keeps from what the local runtime keeps per request. The Cascade edge (wrangler dev, as
 * `npm start` runs it) serves LL-HLS viewers — a blocking playlist reload and the part it names,
 * every part target — from a stand-in origin; the baseline is a one-line Worker (a fixed JSON
 * answer, no state at all) under the same wrangler dev, asked the same number of requests at the
 * same pace. The two run one after the other, so neither competes with the other for the cores.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { applyEdgeMigrations, OFFLINE_WRANGLER_ENV, startEdgeProcess } from "../scripts/edge-process.ts";
import { monoMs, sleep, sleepUntil } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN } from "./lib/edges.ts";
import { OUT_DIR, ROOT, freePort, readRss, spawnGroup, stopGroup, waitForHttp } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { fmt, ratio } from "./lib/stats.ts";
import { connectWorkerInspector, type LiveHeap } from "./lib/worker-inspector.ts";
import { workerdRoles } from "./lib/workerd.ts";

const PART_MS = 500;
const PARTS_PER_SEGMENT = 4;
const SAMPLE_EVERY_S = 15;
/** How long the viewers pause before a live-heap snapshot: requests end, timers fire, fills settle. */
const QUIESCE_MS = 10_000;
const STREAM = "rsstest";

interface Settings {
  seconds: number;
  viewers: number;
}

const settingsFor = (quick: boolean): Settings => ({
  seconds: envNumber("BENCH_EDGE_RSS_SECONDS", quick ? 60 : 240, { min: 30, max: 3600, integer: true }),
  viewers: envNumber("BENCH_EDGE_RSS_VIEWERS", quick ? 20 : 50, { min: 1, max: 1000, integer: true }),
});

/** A live rendition that gains one 0.5 s part every 0.5 s, answering blocking reloads when the part exists. */
export const standInOrigin = async (t0: number): Promise<{ url: string; close(): Promise<void> }> => {
  const part = new Uint8Array(25_000).fill(0x5a);
  const nowPart = () => Math.floor((Date.now() - t0) / PART_MS);
  const playlist = (upTo: number): string => {
    const lines = ["#EXTM3U", "#EXT-X-VERSION:9", "#EXT-X-TARGETDURATION:2", "#EXT-X-PART-INF:PART-TARGET=0.5", "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=1.5"];
    const lastMsn = Math.floor(upTo / PARTS_PER_SEGMENT);
    const first = Math.max(0, lastMsn - 4);
    lines.push(`#EXT-X-MEDIA-SEQUENCE:${first}`, '#EXT-X-MAP:URI="init.mp4"');
    for (let msn = first; msn <= lastMsn; msn++) {
      for (let p = 0; p < PARTS_PER_SEGMENT && msn * PARTS_PER_SEGMENT + p <= upTo; p++) lines.push(`#EXT-X-PART:DURATION=0.5,URI="part${msn}.${p}.m4s"${p === 0 ? ",INDEPENDENT=YES" : ""}`);
      if (msn < lastMsn) lines.push("#EXTINF:2.0,", `seg${msn}.m4s`);
    }
    const next = upTo + 1;
    lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part${Math.floor(next / PARTS_PER_SEGMENT)}.${next % PARTS_PER_SEGMENT}.m4s"`);
    return lines.join("\n") + "\n";
  };
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? "/", "http://origin");
    if (u.pathname.endsWith(".m4s") || u.pathname.endsWith(".mp4")) {
      res.writeHead(200, { "content-type": "video/iso.segment", "content-length": part.byteLength });
      res.end(part);
      return;
    }
    const msn = u.searchParams.get("_HLS_msn");
    const want = msn === null ? nowPart() : Number(msn) * PARTS_PER_SEGMENT + Number(u.searchParams.get("_HLS_part") ?? 0);
    const answer = () => {
      res.writeHead(200, { "content-type": "application/vnd.apple.mpegurl", "cache-control": "max-age=1" });
      res.end(playlist(Math.max(want, nowPart())));
    };
    const waitMs = Math.min(3 * 2000, (want - nowPart()) * PART_MS + 1);
    if (waitMs > 0) setTimeout(answer, waitMs);
    else answer();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
};

interface Sample {
  seconds: number;
  requests: number;
  /** Both workerd processes of the wrangler dev instance. */
  rssMiB: number;
  /** The Worker's own workerd. */
  workerMiB: number;
  /** wrangler's dev proxy (its own workerd, on the public port). */
  proxyMiB: number;
  /** The Worker's V8 heap in use (NaN when the inspector did not answer). */
  heapMiB: number;
}

interface Run {
  label: string;
  samples: Sample[];
  requests: number;
  errors: number;
  /** Least-squares slopes over requests after the first minute, MiB per 10,000 requests. */
  perTenThousand: number;
  workerPerTenThousand: number;
  proxyPerTenThousand: number;
  /** Live heap (snapshot, no request in flight) after the first minute and at the end. */
  live: Array<{ requests: number; heap: LiveHeap | null }>;
  /** Live heap growth between those two, MiB per 10,000 requests. */
  liveGrowth: number;
}

const slope = (xs: number[], ys: number[]): number => {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return den > 0 ? num / den : Number.NaN;
};

const rssMiB = (pids: number[]): number => pids.reduce((sum, pid) => sum + (readRss(pid)?.rssKiB ?? 0), 0) / 1024;

/**
 * `viewers` loops, each asking two URLs per part target (Cascade: the blocking reload for the
 * next part, then that part), sampling the workerd processes' RSS every SAMPLE_EVERY_S.
 */
const drive = async (label: string, port: number, pgid: number, s: Settings, urls: (part: number) => [string, string], t0Wall: number, log: (line: string) => void): Promise<Run> => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: s.viewers * 2 });
  let requests = 0;
  let errors = 0;
  const get = (p: string) =>
    new Promise<void>((resolve) => {
      const req = http.get({ host: "127.0.0.1", port, path: p, agent, headers: { "accept-encoding": "gzip" }, timeout: 10_000 }, (res) => {
        res.resume();
        res.on("end", () => {
          requests++;
          if (res.statusCode !== 200) errors++;
          resolve();
        });
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", () => {
        requests++;
        errors++;
        resolve();
      });
    });
  const samples: Sample[] = [];
  const heap = await connectWorkerInspector(pgid).catch((err: Error) => {
    log(`  ${label}: the Worker's heap will not be sampled (${err.message})`);
    return null;
  });
  const t0 = monoMs();
  let running = true;
  const startLoops = () =>
    Array.from({ length: s.viewers }, async (_, i) => {
      await sleep((i / s.viewers) * PART_MS);
      while (running) {
        const part = Math.floor((Date.now() - t0Wall) / PART_MS) + 1;
        const [a, b] = urls(part);
        await get(a);
        await get(b);
        const nextAt = t0Wall + part * PART_MS;
        await sleep(Math.max(0, nextAt - Date.now()));
      }
    });
  let loops = startLoops();
  /** The Worker's live heap with no request in flight: viewers stop, the isolate idles, a snapshot. */
  const quiescentHeap = async (): Promise<LiveHeap | null> => {
    running = false;
    await Promise.all(loops);
    await sleep(QUIESCE_MS);
    const live = (await heap?.live()) ?? null;
    log(`  ${label}: after ${requests} requests, idle: live JS heap ${live ? `${fmt(live.liveMiB, 2)} MiB, ${live.objects} objects` : "not read"}`);
    return live;
  };
  const live: Array<{ requests: number; heap: LiveHeap | null }> = [];
  for (let at = SAMPLE_EVERY_S; at <= s.seconds; at += SAMPLE_EVERY_S) {
    await sleepUntil(t0 + at * 1000);
    const roles = workerdRoles(pgid);
    const workerMiB = rssMiB(roles.worker);
    const proxyMiB = rssMiB(roles.proxy);
    const sample = { seconds: at, requests, rssMiB: workerMiB + proxyMiB, workerMiB, proxyMiB, heapMiB: (await heap?.usage())?.usedMiB ?? Number.NaN };
    samples.push(sample);
    if (at === 60 && s.seconds > 60) {
      live.push({ requests, heap: await quiescentHeap() });
      running = true;
      loops = startLoops();
    }
    if (at % 60 === 0 || at === s.seconds) log(`  ${label}: ${at} s, ${requests} requests (${errors} errors), workerd RSS ${fmt(sample.rssMiB, 1)} MiB (Worker ${fmt(workerMiB, 1)}, proxy ${fmt(proxyMiB, 1)}), JS heap ${fmt(sample.heapMiB, 1)} MiB`);
  }
  live.push({ requests, heap: await quiescentHeap() });
  agent.destroy();
  heap?.close();
  // The first minute holds start-up (compilation, caches filling); the slope is taken after it.
  const steady = samples.filter((x) => x.seconds > 60);
  const used = steady.length >= 3 ? steady : samples;
  const per = (pick: (x: Sample) => number): number => {
    const pts = used.filter((x) => Number.isFinite(pick(x)));
    return slope(pts.map((x) => x.requests), pts.map(pick)) * 10_000;
  };
  const [first, end] = live;
  const liveGrowth = first?.heap && end?.heap && end.requests > first.requests ? ((end.heap.liveMiB - first.heap.liveMiB) / (end.requests - first.requests)) * 10_000 : Number.NaN;
  return { label, samples, requests, errors, live, liveGrowth, perTenThousand: per((x) => x.rssMiB), workerPerTenThousand: per((x) => x.workerMiB), proxyPerTenThousand: per((x) => x.proxyMiB) };
};

/** The stand-in origin (media times from `t0Wall`) and one edge in front of it, D1 migrated, in a fresh state directory. */
export const edgeOnStandIn = async (label: string) => {
  const t0Wall = Date.now();
  const origin = await standInOrigin(t0Wall);
  const stateDir = mkdtempSync(path.join(OUT_DIR, `${label}-`));
  const port = await freePort();
  await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
  const edge = startEdgeProcess({ index: 1, port, originUrl: origin.url, adminToken: EDGE_ADMIN_TOKEN, stateDir, root: ROOT });
  return { t0Wall, origin, stateDir, port, edge };
};

const cascadeRun = async (s: Settings, log: (line: string) => void): Promise<Run> => {
  const { t0Wall, origin, stateDir, port, edge } = await edgeOnStandIn("edge-rss");
  try {
    await edge.ready(90_000);
    log(`Cascade edge on :${port} (wrangler dev), stand-in origin ${origin.url}; ${s.viewers} viewers for ${s.seconds} s`);
    const base = `/hls/${STREAM}/180p`;
    return await drive("Cascade edge", port, edge.child.pid!, s, (part) => [`${base}/index.m3u8?_HLS_msn=${Math.floor(part / PARTS_PER_SEGMENT)}&_HLS_part=${part % PARTS_PER_SEGMENT}`, `${base}/part${Math.floor(part / PARTS_PER_SEGMENT)}.${part % PARTS_PER_SEGMENT}.m4s`], t0Wall, log);
  } finally {
    await edge.stop();
    await origin.close();
    rmSync(stateDir, { recursive: true, force: true });
  }
};

const baselineRun = async (s: Settings, log: (line: string) => void): Promise<Run> => {
  const dir = path.join(OUT_DIR, "edge-rss-baseline");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "wrangler.toml"), 'name = "one-line-worker"\nmain = "index.js"\ncompatibility_date = "2025-09-01"\n');
  writeFileSync(path.join(dir, "index.js"), 'export default { fetch() { return new Response(\'{"status":"ok"}\', { headers: { "content-type": "application/json" } }); } };\n');
  const port = await freePort();
  const child = spawnGroup(path.join(ROOT, "node_modules", ".bin", "wrangler"), ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", "0", "--persist-to", path.join(dir, "state"), "--show-interactive-dev-session=false", "--log-level", "warn"], {
    cwd: dir,
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV },
    stdio: "ignore",
  });
  try {
    await waitForHttp(`http://127.0.0.1:${port}/`, child, 90_000);
    log(`one-line Worker on :${port} (wrangler dev); same pace`);
    return await drive("one-line Worker", port, child.pid!, s, () => ["/a", "/b"], Date.now(), log);
  } finally {
    await stopGroup(child);
    rmSync(dir, { recursive: true, force: true });
  }
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const cascade = await cascadeRun(s, log);
  const baseline = await baselineRun(s, log);
  const runs = [cascade, baseline];
  writeFileSync(
    path.join(OUT_DIR, "edge-rss-samples.csv"),
    ["worker,seconds,requests,workerd_rss_mib,worker_workerd_rss_mib,proxy_workerd_rss_mib,js_heap_in_use_mib", ...runs.flatMap((r) => r.samples.map((x) => `${r.label},${x.seconds},${x.requests},${x.rssMiB.toFixed(1)},${x.workerMiB.toFixed(1)},${x.proxyMiB.toFixed(1)},${x.heapMiB.toFixed(1)}`))].join("\n") + "\n",
  );
  const table: Table = {
    title: "workerd RSS (MiB: the Worker's own workerd + wrangler's dev proxy) and the Worker's JS heap in use (MiB), by time",
    columns: ["seconds", ...runs.flatMap((r) => [`${r.label}: requests`, `${r.label}: Worker RSS`, `${r.label}: proxy RSS`, `${r.label}: JS heap`])],
    rows: cascade.samples.map((x, i) => [
      String(x.seconds),
      ...runs.flatMap((r) => {
        const at = r.samples[i];
        return [String(at?.requests ?? "–"), fmt(at?.workerMiB ?? Number.NaN, 1), fmt(at?.proxyMiB ?? Number.NaN, 1), fmt(at?.heapMiB ?? Number.NaN, 1)];
      }),
    ]),
  };
  const last = (r: Run) => r.samples.at(-1)?.rssMiB ?? Number.NaN;
  const liveText = (r: Run) => r.live.map((x) => (x.heap ? `${fmt(x.heap.liveMiB, 2)} (${x.requests} req.)` : "not read")).join(" → ");
  log(`RSS growth per 10,000 requests: Cascade ${fmt(cascade.perTenThousand, 1)} MiB (Worker ${fmt(cascade.workerPerTenThousand, 1)}, proxy ${fmt(cascade.proxyPerTenThousand, 1)}, live JS heap ${fmt(cascade.liveGrowth, 3)}), one-line Worker ${fmt(baseline.perTenThousand, 1)} MiB (Worker ${fmt(baseline.workerPerTenThousand, 1)}, proxy ${fmt(baseline.proxyPerTenThousand, 1)}, live JS heap ${fmt(baseline.liveGrowth, 3)})`);
  return {
    name: "edge-rss",
    title: "Edge runtime memory per request (local workerd)",
    method:
      `The Cascade edge Worker under wrangler dev (as npm start runs it, D1 migrated) serves ${s.viewers} simulated LL-HLS viewers: every part target (0.5 s) each asks a blocking playlist reload for the next part and then that part (25 kB), from a stand-in origin in the benchmark process that adds a part every 0.5 s. ` +
      "The baseline is a one-line Worker (a fixed JSON answer, nothing kept between requests) under the same wrangler dev, asked two URLs per viewer per 0.5 s. They run one after the other. " +
      `Every ${SAMPLE_EVERY_S} s: the RSS of each wrangler dev instance's two workerd processes (the Worker's own, recognised by its --inspector-addr, and wrangler's dev proxy on the public port that relays every request to it), and the Worker's V8 heap in use (Runtime.getHeapUsage through wrangler's inspector proxy; workerd does not take a forced GC, so it includes garbage not yet collected). After the first minute and at the end the viewers pause for ${QUIESCE_MS / 1000} s and a heap snapshot is taken (V8 collects all garbage first): its objects' total size is the Worker's live heap with no request in flight — what the Worker's code keeps. RSS growth figures are least-squares slopes over requests served after the first minute; the live-heap growth is the difference between the two snapshots over the requests served between them.`,
    settings: `${s.seconds} s each, ${s.viewers} viewers (≈ ${s.viewers * 4} requests/s); samples in bench/out/edge-rss-samples.csv`,
    figures: [
      { figure: "workerd RSS growth per 10,000 requests, both processes (MiB)", cascade: fmt(cascade.perTenThousand, 1), baseline: fmt(baseline.perTenThousand, 1), ratio: ratio(cascade.perTenThousand, baseline.perTenThousand) },
      { figure: "… of which wrangler's dev proxy (MiB)", cascade: fmt(cascade.proxyPerTenThousand, 1), baseline: fmt(baseline.proxyPerTenThousand, 1), ratio: ratio(cascade.proxyPerTenThousand, baseline.proxyPerTenThousand) },
      { figure: "… of which the Worker's own workerd (MiB)", cascade: fmt(cascade.workerPerTenThousand, 1), baseline: fmt(baseline.workerPerTenThousand, 1), ratio: ratio(cascade.workerPerTenThousand, baseline.workerPerTenThousand) },
      { figure: "the Worker's live JS heap, idle, after the first minute → at the end (MiB; heap snapshot)", cascade: liveText(cascade), baseline: liveText(baseline), ratio: "–" },
      { figure: "the Worker's live JS heap growth per 10,000 requests (MiB)", cascade: fmt(cascade.liveGrowth, 3), baseline: fmt(baseline.liveGrowth, 3), ratio: "–" },
      { figure: `workerd RSS after ${s.seconds} s (MiB)`, cascade: fmt(last(cascade), 1), baseline: fmt(last(baseline), 1), ratio: ratio(last(cascade), last(baseline)) },
      { figure: "requests served / errors", cascade: `${cascade.requests} / ${cascade.errors}`, baseline: `${baseline.requests} / ${baseline.errors}`, ratio: "–" },
    ],
    tables: [table],
    notes: [
      "The JS heap is what the Worker's code can keep; a flat heap under a growing RSS is the runtime's native memory (wrangler's proxy and workerd), not state the Cascade Worker holds. The Cascade Worker's own per-isolate state is bounded by design: coalescer slots released after each fill, memory tier ≤ EDGE_MEMORY_CACHE_MB (its ArrayBuffers live outside the V8 heap figure) and ≤ 30 s per object, stats map ≤ 10,000 keys.",
      "Production edges run in Cloudflare's workerd fleet, where isolates are recycled; this figure is about the local stack (npm start) and the soak run on it.",
    ],
  };
};

export const edgeRss: Benchmark = {
  name: "edge-rss",
  title: "Edge runtime memory per request (local workerd)",
  summary: "workerd RSS growth per 10,000 requests: the Cascade edge serving LL-HLS viewers vs a one-line Worker under the same wrangler dev",
  run,
};
