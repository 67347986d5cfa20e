/**
 * `npx tsx bench/edge-profile.ts [--viewers 100] [--seconds 30] [--via direct|proxy]`: where the
 * edge Worker's CPU goes under LL-HLS load (a diagnostic, not a benchmark: there is nothing to put
 * beside it). The Cascade edge under wrangler dev serves simulated viewers — every part target a
 * blocking playlist reload for the next part, then that part — from edge-rss's stand-in origin;
 * after a 20 s warm-up a V8 sampling CPU profile of the Worker's isolate is taken through
 * wrangler's inspector proxy. Prints self time per function (busiest first, share of the isolate's
 * busy time) and the isolate's busy time per request; writes bench/out/edge.cpuprofile (open it in
 * Chrome DevTools → Performance). `(program)` is native work outside JavaScript (HTTP, Cache API,
 * subrequests); `(idle)` is the isolate waiting.
 */
import http from "node:http";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { sleep } from "./lib/clock.ts";
import { OUT_DIR, ROOT } from "./lib/proc.ts";
import { connectWorkerInspector, selfTimes } from "./lib/worker-inspector.ts";
import { findWorker } from "./lib/workerd.ts";
import { edgeOnStandIn } from "./edge-rss.ts";

const PART_MS = 500;
const PARTS_PER_SEGMENT = 4;
const WARMUP_MS = 20_000;

const arg = (flag: string, fallback: string): string => {
  const i = process.argv.indexOf(flag);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
};
const viewers = Number(arg("--viewers", "100"));
const seconds = Number(arg("--seconds", "30"));
const via = arg("--via", "direct");
if (!Number.isInteger(viewers) || viewers < 1 || viewers > 2000 || !Number.isFinite(seconds) || seconds < 5 || seconds > 600 || (via !== "direct" && via !== "proxy")) {
  console.error("usage: npx tsx bench/edge-profile.ts [--viewers 1-2000] [--seconds 5-600] [--via direct|proxy]");
  process.exit(2);
}

const { t0Wall, origin, stateDir, port, edge } = await edgeOnStandIn("edge-profile");
try {
  await edge.ready(90_000);
  const target = via === "direct" ? (await findWorker(edge.child.pid!, port)).port : port;
  const inspector = await connectWorkerInspector(edge.child.pid!);
  console.log(`edge on :${port} (wrangler dev), requests to :${target} (${via}); ${viewers} viewers; ${WARMUP_MS / 1000} s warm-up, then ${seconds} s profiled`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: viewers * 2 });
  let requests = 0;
  let errors = 0;
  let running = true;
  const get = (p: string) =>
    new Promise<void>((resolve) => {
      http
        .get({ host: "127.0.0.1", port: target, path: p, agent, headers: { "accept-encoding": "gzip" }, timeout: 10_000 }, (res) => {
          res.resume();
          res.on("end", () => {
            requests++;
            if (res.statusCode !== 200) errors++;
            resolve();
          });
        })
        .on("error", () => {
          errors++;
          resolve();
        });
    });
  const base = "/hls/rsstest/180p";
  const loops = Array.from({ length: viewers }, async (_, i) => {
    await sleep((i / viewers) * PART_MS);
    while (running) {
      const part = Math.floor((Date.now() - t0Wall) / PART_MS) + 1;
      const msn = Math.floor(part / PARTS_PER_SEGMENT);
      const p = part % PARTS_PER_SEGMENT;
      await get(`${base}/index.m3u8?_HLS_msn=${msn}&_HLS_part=${p}`);
      await get(`${base}/part${msn}.${p}.m4s`);
      await sleep(Math.max(0, t0Wall + part * PART_MS - Date.now()));
    }
  });
  await sleep(WARMUP_MS);
  const before = requests;
  const profile = await inspector.profile(seconds * 1000);
  const served = requests - before;
  running = false;
  await Promise.all(loops);
  agent.destroy();
  inspector.close();
  if (!profile) throw new Error("the inspector returned no profile");
  writeFileSync(path.join(OUT_DIR, "edge.cpuprofile"), JSON.stringify(profile));
  const times = selfTimes(profile);
  const total = times.reduce((a, t) => a + t.ms, 0);
  const idle = times.filter((t) => t.fn === "(idle)").reduce((a, t) => a + t.ms, 0);
  const busy = total - idle;
  console.log(`\n${served} requests in ${seconds} s (${errors} errors over the whole run); isolate busy ${busy.toFixed(0)} ms of ${total.toFixed(0)} ms → ${(busy / Math.max(1, served)).toFixed(3)} ms per request\n`);
  console.log("self ms   share of busy  function");
  for (const t of times.filter((x) => x.fn !== "(idle)").slice(0, 30)) console.log(`${t.ms.toFixed(0).padStart(7)}   ${((t.ms / busy) * 100).toFixed(1).padStart(5)} %       ${t.fn}`);
  console.log(`\nwrote ${path.relative(ROOT, path.join(OUT_DIR, "edge.cpuprofile"))}`);
} finally {
  await edge.stop();
  await origin.close();
  rmSync(stateDir, { recursive: true, force: true });
}
