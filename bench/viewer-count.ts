/**
 * viewer-count: how many Durable Object requests viewer counting costs at 10,000 viewers, against
 * the naive design of one request per heartbeat. Three edge Workers in workerd (`wrangler dev`,
 * as `npm start -- --edges 3` runs them: edges 2..3 point CONTROL_PLANE_URL at edge-1, so their
 * batches reach edge-1's ViewerCounter through its flush endpoint); a live stream in edge-1's D1;
 * this process plays N players, each with its own random session id, pinned to one edge, sending
 * `POST /api/v1/streams/:id/heartbeat` every ~20 s, the first beats spread over one interval.
 * The counter's own tally of `record` calls (`GET /api/v1/edge/viewers/:id/stats`, admin token)
 * gives the Durable Object requests; the heartbeats this process sent give the naive figure.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { applyEdgeMigrations, edgePersistDir, OFFLINE_WRANGLER_ENV, type EdgeProcess } from "../scripts/edge-process.ts";
import { sleep } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN, startLoggedEdge, JWT_SECRET } from "./lib/edges.ts";
import { OUT_DIR, ROOT, freePort, groupCpuSeconds } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { fmt, summarize } from "./lib/stats.ts";

const LABEL = "viewer-count";
/** The edge's default (VIEWER_FLUSH_INTERVAL_S unset): what the figures describe. */
const FLUSH_INTERVAL_S = 5;
/** Heartbeats in flight at once, at most; a beat due while the cap is reached waits for the next tick. */
const MAX_IN_FLIGHT = 256;
const TICK_MS = 20;
const SAMPLE_MS = 5_000;

interface Settings {
  viewers: number;
  edges: number;
  /** Mean seconds between one player's heartbeats (each gap drawn from ±10 % around it). */
  intervalS: number;
  /** Measured seconds, after one interval of ramp-up in which every player sends its first beat. */
  seconds: number;
}

const settingsFor = (quick: boolean): Settings => ({
  viewers: envNumber("BENCH_VIEWERS", quick ? 2_000 : 10_000, { min: 1, max: 100_000, integer: true }),
  edges: envNumber("BENCH_VIEWERS_EDGES", 3, { min: 1, max: 3, integer: true }),
  intervalS: envNumber("BENCH_VIEWERS_INTERVAL_S", 20, { min: 15, max: 30 }),
  seconds: envNumber("BENCH_VIEWERS_SECONDS", quick ? 15 : 60, { min: 5, max: 600 }),
});

interface CounterStats {
  viewers: number;
  peak: number;
  records: number;
  stored_sessions: number;
  edges: Record<string, number>;
}

interface EdgeLoad {
  sent: number;
  ok: number;
  errors: Map<string, number>;
  latencies: number[];
}

/** One `wrangler d1 execute --local` against edge-1's persisted database (the one its `wrangler dev` serves). */
const d1Execute = (persistTo: string, sql: string): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(
      path.join(ROOT, "node_modules", ".bin", "wrangler"),
      ["d1", "execute", "DB", "--local", "--persist-to", persistTo, "--command", sql],
      { cwd: ROOT, env: { ...process.env, ...OFFLINE_WRANGLER_ENV, CI: "true" }, timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`wrangler d1 execute failed: ${err.message}\n${stdout}${stderr}`.slice(0, 4000))) : resolve()),
    );
  });

/** A player's session id as the watch page makes one: 16 random bytes, base64url. */
const sessionId = (): string => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("base64url");

const json = async <T>(res: Response, what: string): Promise<T> => {
  const text = await res.text();
  if (!res.ok) throw new Error(`${what}: ${res.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const parent = path.join(OUT_DIR, "edge-state");
  mkdirSync(parent, { recursive: true });
  for (const old of readdirSync(parent)) if (old.startsWith(`${LABEL}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
  const stateDir = mkdtempSync(path.join(parent, `${LABEL}-`));
  const edges: EdgeProcess[] = [];
  const gone: string[] = [];
  let stopping = false;
  const check = () => {
    if (gone.length) throw new Error(gone.join("; "));
  };
  try {
    log(`applying D1 migrations to edge-1; starting ${s.edges} edge${s.edges === 1 ? "" : "s"} (wrangler dev / workerd)`);
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    const ports: number[] = [];
    for (let i = 1; i <= s.edges; i++) ports.push(await freePort());
    const edge1 = `http://127.0.0.1:${ports[0]}`;
    for (let i = 1; i <= s.edges; i++) {
      const logFile = path.join(OUT_DIR, `${LABEL}-edge-${i}.log`);
      const p = startLoggedEdge({
        index: i,
        port: ports[i - 1]!,
        // Heartbeats never reach the origin; nothing listens there.
        originUrl: "http://127.0.0.1:9",
        adminToken: EDGE_ADMIN_TOKEN,
        stateDir,
        root: ROOT,
        secrets: { JWT_SECRET },
        vars: i > 1 ? { CONTROL_PLANE_URL: edge1 } : {},
      }, logFile);
      edges.push(p);
      p.child.once("exit", (code, signal) => {
        if (!stopping) gone.push(`${p.name} exited (${code ?? signal}); see ${path.relative(ROOT, logFile)}`);
      });
    }
    await Promise.all(edges.map((e) => e.ready(120_000)));

    // A streamer and a live stream on edge-1 (the control plane); the saga's `live` is set straight in D1.
    const username = `bench_viewers_${Date.now().toString(36)}`;
    const signUp = await json<{ token: string }>(
      await fetch(`${edge1}/api/v1/users`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: "bench viewers password" }) }),
      "sign-up",
    );
    const created = await json<{ stream_id: string }>(
      await fetch(`${edge1}/api/v1/streams`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${signUp.token}` },
        body: JSON.stringify({ title: "viewer-count benchmark", category: "gaming" }),
      }),
      "create stream",
    );
    const streamId = created.stream_id;
    await d1Execute(edgePersistDir(stateDir, 1), `UPDATE streams SET status = 'live', started_at = '${new Date().toISOString()}' WHERE id = '${streamId}'`);
    const stats = async (): Promise<CounterStats> =>
      json<CounterStats>(await fetch(`${edge1}/api/v1/edge/viewers/${streamId}/stats`, { headers: { authorization: `Bearer ${EDGE_ADMIN_TOKEN}` } }), "counter stats");
    log(`stream ${streamId} live; ${s.viewers.toLocaleString("en")} players, one heartbeat every ~${s.intervalS} s each, over ${s.edges} edge(s): ${edges.map((e) => e.url).join(", ")}`);

    // The players: session, edge, next beat. First beats spread evenly over one interval.
    const players = Array.from({ length: s.viewers }, (_, i) => ({ session: sessionId(), edge: i % s.edges, next: ((i + Math.random()) / s.viewers) * s.intervalS * 1000 }));
    players.sort((a, b) => a.next - b.next);
    const loads: EdgeLoad[] = edges.map(() => ({ sent: 0, ok: 0, errors: new Map(), latencies: [] }));
    let inFlight = 0;
    let measuring = false;
    let delayedBeats = 0;
    const beat = async (p: (typeof players)[number]) => {
      const load = loads[p.edge]!;
      load.sent++;
      inFlight++;
      const t0 = performance.now();
      try {
        const res = await fetch(`${edges[p.edge]!.url}/api/v1/streams/${streamId}/heartbeat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ session_id: p.session }) });
        await res.arrayBuffer();
        if (res.status === 204) load.ok++;
        else load.errors.set(String(res.status), (load.errors.get(String(res.status)) ?? 0) + 1);
      } catch (err) {
        const key = (err as Error).message.slice(0, 60);
        load.errors.set(key, (load.errors.get(key) ?? 0) + 1);
      } finally {
        inFlight--;
        if (measuring) load.latencies.push(performance.now() - t0);
      }
    };

    // Due beats are taken from a queue ordered by time; each sent beat goes back with its next time.
    const start = performance.now();
    let stopLoad = false;
    const loop = (async () => {
      const queue = players;
      while (!stopLoad) {
        const now = performance.now() - start;
        while (queue.length > 0 && queue[0]!.next <= now && inFlight < MAX_IN_FLIGHT) {
          const p = queue.shift()!;
          void beat(p);
          p.next += s.intervalS * 1000 * (0.9 + Math.random() * 0.2);
          // Insert in order (the queue stays sorted; next beats are ~20 s away, near the end).
          let at = queue.length;
          while (at > 0 && queue[at - 1]!.next > p.next) at--;
          queue.splice(at, 0, p);
        }
        if (queue.length > 0 && queue[0]!.next <= now) delayedBeats++;
        await sleep(TICK_MS);
      }
    })();

    const samples: Array<{ t: number; viewers: number; records: number }> = [];
    const sample = async () => {
      const st = await stats();
      samples.push({ t: (performance.now() - start) / 1000, viewers: st.viewers, records: st.records });
      return st;
    };
    // Ramp-up: one interval plus a flush interval, so every player has beaten and been flushed once.
    const rampMs = (s.intervalS + FLUSH_INTERVAL_S + 1) * 1000;
    while (performance.now() - start < rampMs) {
      await sleep(SAMPLE_MS);
      check();
      const st = await sample();
      log(`ramp-up ${fmt((performance.now() - start) / 1000, 0)} s: count ${st.viewers.toLocaleString("en")}, ${st.records} record calls so far`);
    }

    const sentNow = () => loads.reduce((n, l) => n + l.sent, 0);
    const cpuNow = () => edges.map((e) => groupCpuSeconds(e.child.pid!));
    measuring = true;
    const m0 = { at: performance.now(), stats: await stats(), sent: sentNow(), perEdge: loads.map((l) => l.sent), cpu: cpuNow() };
    const counts: number[] = [];
    const windowEnd = m0.at + s.seconds * 1000;
    while (performance.now() < windowEnd) {
      await sleep(Math.min(SAMPLE_MS, windowEnd - performance.now()));
      check();
      const st = await sample();
      counts.push(st.viewers);
      log(`measured ${fmt((performance.now() - m0.at) / 1000, 0)} s: count ${st.viewers.toLocaleString("en")}, ${st.records - m0.stats.records} record calls in the window`);
    }
    const m1 = { at: performance.now(), stats: await stats(), sent: sentNow(), perEdge: loads.map((l) => l.sent), cpu: cpuNow() };
    measuring = false;
    stopLoad = true;
    await loop;
    while (inFlight > 0) await sleep(10);
    // The last batches are flushed within one flush interval of the last beat.
    await sleep((FLUSH_INTERVAL_S + 1) * 1000);
    const final = await stats();
    const row = await json<{ viewer_count: number; peak_viewers: number }>(await fetch(`${edge1}/api/v1/streams/${streamId}`), "stream");
    check();

    const secs = (m1.at - m0.at) / 1000;
    const heartbeats = m1.sent - m0.sent;
    const records = m1.stats.records - m0.stats.records;
    const hbRate = heartbeats / secs;
    const doRate = records / secs;
    const errors = loads.reduce((n, l) => n + [...l.errors.values()].reduce((a, b) => a + b, 0), 0);
    const accuracy = (n: number) => `${n.toLocaleString("en")} (${fmt(((n - s.viewers) / s.viewers) * 100, 2)} %)`;
    const minCount = Math.min(...counts);
    const maxCount = Math.max(...counts);
    log(`${fmt(hbRate, 0)} heartbeats/s → ${fmt(doRate, 2)} counter requests/s (${records} in ${fmt(secs, 1)} s); final count ${final.viewers}, errors ${errors}`);

    const edgeName = (i: number) => edges[i]!.name;
    const figures: Figure[] = [
      {
        figure: `Durable Object requests/s for viewer counting, ${s.viewers.toLocaleString("en")} viewers (naive: one per heartbeat)`,
        cascade: fmt(doRate, 2),
        baseline: fmt(hbRate, 1),
        ratio: `${fmt(doRate / hbRate, 4)}× (${fmt(hbRate / doRate, 0)}× fewer)`,
      },
      { figure: "Durable Object requests per heartbeat", cascade: fmt(records / heartbeats, 5), baseline: "1", ratio: `${fmt(records / heartbeats, 4)}×` },
      { figure: `viewer count after the run (exact: ${s.viewers.toLocaleString("en")})`, cascade: accuracy(final.viewers), baseline: s.viewers.toLocaleString("en"), ratio: `${fmt(final.viewers / s.viewers, 4)}×` },
      { figure: "viewer count during the window, min–max", cascade: `${minCount.toLocaleString("en")}–${maxCount.toLocaleString("en")}`, baseline: s.viewers.toLocaleString("en"), ratio: `${fmt(minCount / s.viewers, 4)}–${fmt(maxCount / s.viewers, 4)}×` },
    ];
    const perEdge: Table = {
      title: `Per edge, ${fmt(secs, 0)} s window`,
      columns: ["edge", "heartbeats/s", "errors", "heartbeat p50 ms", "p99 ms", "counter requests/s (record calls from it)", "edge CPU (wrangler + workerd)"],
      rows: edges.map((_, i) => {
        const lat = summarize(loads[i]!.latencies);
        const rec = (m1.stats.edges[edgeName(i)] ?? 0) - (m0.stats.edges[edgeName(i)] ?? 0);
        const errs = [...loads[i]!.errors].map(([k, v]) => `${k}×${v}`).join(", ") || "none";
        return [
          `${edgeName(i)}${i === 0 ? " (holds the counter)" : " (flushes via edge-1)"}`,
          fmt((m1.perEdge[i]! - m0.perEdge[i]!) / secs, 1),
          errs,
          fmt(lat.p50, 1),
          fmt(lat.p99, 1),
          fmt(rec / secs, 2),
          `${fmt(((m1.cpu[i]! - m0.cpu[i]!) / secs) * 100, 0)} %`,
        ];
      }),
    };
    const overTime: Table = {
      title: "Counter over time (every 5 s)",
      columns: ["t (s)", "viewers", "record calls (total)"],
      rows: samples.map((x) => [fmt(x.t, 0), x.viewers.toLocaleString("en"), String(x.records)]),
    };
    return {
      name: LABEL,
      title: "Viewer counting: Durable Object requests at 10,000 viewers",
      method:
        `${s.edges} edge Worker(s) in workerd (\`wrangler dev\`, as \`npm start -- --edges ${s.edges}\` runs them: edges 2..${s.edges} have CONTROL_PLANE_URL = edge-1, so their batches go through edge-1's authenticated flush endpoint to the one ViewerCounter object). ` +
        `A live stream is created through edge-1's API. This process plays ${s.viewers.toLocaleString("en")} players, each with a random 16-byte session id, pinned to one edge (round-robin), sending a heartbeat every ${s.intervalS} s ± 10 %; first beats are spread evenly over one interval. ` +
        `After a ramp-up of one heartbeat interval plus one flush interval, ${s.seconds} s are measured: Durable Object requests = the counter's own count of \`record\` calls (GET /api/v1/edge/viewers/:id/stats, admin token; stats reads are not counted), heartbeats = requests this process sent. ` +
        `The naive baseline — one Durable Object request per heartbeat — makes exactly as many requests as there are heartbeats, so its figure is the heartbeat rate. Accuracy: the counter's distinct sessions in the last 60 s, against the number of players, during the window and ${FLUSH_INTERVAL_S + 1} s after the last heartbeat.`,
      settings: `${s.viewers.toLocaleString("en")} viewers, ${s.edges} edges, heartbeat every ${s.intervalS} s ± 10 %, VIEWER_FLUSH_INTERVAL_S = ${FLUSH_INTERVAL_S} (default), ${s.seconds} s measured after ${rampMs / 1000} s ramp-up`,
      figures,
      tables: [perEdge, overTime],
      notes: [
        `Expected Durable Object rate: one flush per edge isolate per stream per ${FLUSH_INTERVAL_S} s at most, i.e. ≤ ${fmt(s.edges / FLUSH_INTERVAL_S, 2)}/s here, whatever the audience; the naive rate grows with viewers (viewers ÷ heartbeat interval).`,
        `D1 after the run (written by the counter's alarm, at most every 30 s unless the count jumps): viewer_count ${row.viewer_count.toLocaleString("en")}, peak_viewers ${row.peak_viewers.toLocaleString("en")}.`,
        `Counter after the run: ${final.stored_sessions.toLocaleString("en")} session rows stored, peak ${final.peak.toLocaleString("en")}, ${final.records} record calls in all (${Object.entries(final.edges).map(([k, v]) => `${k} ${v}`).join(", ")}).`,
        ...(delayedBeats > 0 ? [`The load generator fell behind its schedule on ${delayedBeats} ticks (${MAX_IN_FLIGHT} heartbeats in flight): the heartbeat rate is what was sent.`] : []),
        ...(errors > 0 ? [`${errors} heartbeats failed (see the per-edge table).`] : []),
        "Every process (the edges, wrangler's proxies, this load generator) shares the machine's cores; local workerd, not Cloudflare's network.",
      ],
    };
  } finally {
    stopping = true;
    await Promise.all(edges.map((e) => e.stop()));
    rmSync(stateDir, { recursive: true, force: true });
  }
};

export const viewerCount: Benchmark = {
  name: LABEL,
  title: "Viewer counting: Durable Object requests at 10,000 viewers",
  summary: "Durable Object requests/s caused by viewer counting, 10,000 viewers heartbeating every 20 s over 3 edges, vs one request per heartbeat",
  run,
};
