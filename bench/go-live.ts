/**
 * go-live: how long the control plane takes to put a stream on air, and to tell its followers.
 * The real stack — core-origin and the transcoder node (own processes), one edge Worker in
 * workerd (`wrangler dev`, D1 migrations applied, secrets, EDGE_URLS = itself) serving the control
 * plane, the StreamControl object and the notification queue. A streamer with N followers is seeded
 * into D1 before the edge starts; per run: a new stream through the API, ffmpeg publishes with its
 * key (-re test source, 320x180), the node asks the edge to authorise the key, the saga runs to
 * `live`; then the fan-out's notifications are counted in D1 until every follower has one; stop.
 */
import type { ChildProcess } from "node:child_process";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashPassword } from "../edge/accounts/password.ts";
import { applyEdgeMigrations, edgePersistDir, OFFLINE_WRANGLER_ENV, type EdgeProcess } from "../scripts/edge-process.ts";
import { demoPublisherArgs } from "../scripts/demo-publisher.ts";
import { sleep } from "./lib/clock.ts";
import { startSagaEdge } from "./lib/edges.ts";
import { startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { OUT_DIR, ROOT, ffmpegPath, freePort, spawnTracked, stopChild } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber } from "./lib/settings.ts";
import { fmt, median } from "./lib/stats.ts";
import { startTranscoder, type RunningTranscoder } from "./lib/transcoder-process.ts";

const LABEL = "go-live";
const STREAMER = "bench_streamer";
const PASSWORD = "bench streamer password";
/** The saga's forward steps up to and including the pivot, in order. */
const STEPS = ["validate_event", "reserve_capacity", "configure_encoders", "warmup_cdn", "go_live"] as const;
const LADDER = "180p:320x180@30:400:main";

interface Settings {
  runs: number;
  followers: number;
}

const settingsFor = (quick: boolean): Settings => ({
  runs: envNumber("BENCH_GOLIVE_RUNS", quick ? 2 : 5, { min: 1, max: 50, integer: true }),
  followers: envNumber("BENCH_GOLIVE_FOLLOWERS", quick ? 1000 : 10_000, { min: 0, max: 1_000_000, integer: true }),
});

interface RunResult {
  streamId: string;
  /** RTMP publisher started → status `live` in D1 (streams.started_at, written by the pivot). */
  publishToLiveMs: number;
  /** The same, as this process first saw `live` through GET /api/v1/streams/:id (100 ms polls). */
  publishToLiveObservedMs: number;
  /** Publisher started → the saga began (ffmpeg start, RTMP connect, the node's key check reaching the object's begin()). */
  publishToSagaMs: number;
  /** Each step as the saga times it: from the previous step's end (begin() for validate_event), so the alarm between them is included. */
  steps: Record<(typeof STEPS)[number], number>;
  notifications: number;
  /** go_live (streams.started_at) → the last notification's created_at. */
  fanoutMs: number;
}

interface SagaRecord {
  stage: string;
  outcome: string;
  at: string;
  ms?: number;
}

/** One `wrangler d1 execute --local` against the edge's persisted database (the one `wrangler dev --persist-to` serves); its stdout. */
const d1Execute = (persistTo: string, args: string[]): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(
      path.join(ROOT, "node_modules", ".bin", "wrangler"),
      ["d1", "execute", "DB", "--local", "--persist-to", persistTo, ...args],
      // CI=true: never prompt.
      { cwd: ROOT, env: { ...process.env, ...OFFLINE_WRANGLER_ENV, CI: "true" }, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`wrangler d1 execute failed: ${err.message}\n${stdout}${stderr}`.slice(0, 4000))) : resolve(stdout)),
    );
  });

/** The rows of one SQL query, through `wrangler d1 execute --command … --json`. */
const d1Query = async (persistTo: string, sql: string): Promise<Array<Record<string, unknown>>> => {
  const stdout = await d1Execute(persistTo, ["--json", "--command", sql]);
  try {
    const out = JSON.parse(stdout) as Array<{ results: Array<Record<string, unknown>> }>;
    return out.at(-1)?.results ?? [];
  } catch {
    throw new Error(`wrangler d1 execute: unexpected output: ${stdout.slice(0, 2000)}`);
  }
};

const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * The streamer (a real PBKDF2 hash, so it logs in through the API) and `followers` viewer accounts
 * following it, the way test/support/edge/fanout-measure.ts seedFollowers inserts them.
 */
const seedSql = async (streamerId: string, followers: number): Promise<string> => {
  const now = new Date().toISOString();
  const hash = await hashPassword(PASSWORD);
  const lines = [
    `INSERT INTO users (id, username, password_hash, role, created_at, updated_at) VALUES (${sqlText(streamerId)}, ${sqlText(STREAMER)}, ${sqlText(hash)}, 'streamer', ${sqlText(now)}, ${sqlText(now)});`,
  ];
  if (followers > 0) {
    lines.push(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${followers}) INSERT INTO users (id, username, password_hash, role, created_at, updated_at) SELECT 'bf_' || i, 'bf_' || i, 'disabled', 'viewer', ${sqlText(now)}, ${sqlText(now)} FROM n;`,
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${followers}) INSERT INTO follows (follower_id, followed_id, created_at) SELECT 'bf_' || i, ${sqlText(streamerId)}, ${sqlText(now)} FROM n;`,
    );
  }
  return `${lines.join("\n")}\n`;
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const s = settingsFor(quick);
  const ffmpeg = ffmpegPath();
  const parent = path.join(OUT_DIR, "edge-state");
  mkdirSync(parent, { recursive: true });
  for (const old of readdirSync(parent)) if (old.startsWith(`${LABEL}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
  const stateDir = mkdtempSync(path.join(parent, `${LABEL}-`));
  const persistTo = edgePersistDir(stateDir, 1);

  let origin: ServerProcess | null = null;
  let edge: EdgeProcess | null = null;
  let transcoder: RunningTranscoder | null = null;
  let publisher: ChildProcess | null = null;
  let edgeGone: string | null = null;
  const edgeLog = path.join(OUT_DIR, `${LABEL}-edge-1.log`);
  try {
    origin = await startOrigin(`${LABEL}-origin`);
    log(`origin ${origin.url}; applying D1 migrations and seeding ${s.followers.toLocaleString("en")} followers`);
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    const streamerId = "u_bench_streamer";
    const seedFile = path.join(stateDir, "seed.sql");
    writeFileSync(seedFile, await seedSql(streamerId, s.followers));
    const seedStart = performance.now();
    await d1Execute(persistTo, ["--file", seedFile]);
    const [counted] = await d1Query(persistTo, `SELECT count(*) AS n FROM follows WHERE followed_id = ${sqlText(streamerId)}`);
    if (Number(counted?.n) !== s.followers) throw new Error(`seeded ${String(counted?.n)} followers, expected ${s.followers}`);
    log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);

    const port = await freePort();
    const edgeUrl = `http://127.0.0.1:${port}`;
    edge = startSagaEdge({ port, originUrl: origin.url, stateDir }, edgeLog);
    const runningEdge = edge;
    edge.child.once("exit", (code, signal) => {
      if (runningEdge === edge) edgeGone = `edge-1 exited (${code ?? signal}); see ${path.relative(ROOT, edgeLog)}`;
    });
    log(`starting the edge (wrangler dev / workerd) at ${edgeUrl}`);
    await edge.ready(120_000);

    transcoder = await startTranscoder({
      label: `${LABEL}-transcoder`,
      originUrl: origin.url,
      streamKeys: {},
      partTarget: 0.5,
      ladder: LADDER,
      env: { CASCADE_CONTROL_PLANE_URL: edgeUrl, CASCADE_NODE_ID: "bench-node", CASCADE_SLOTS: "4" },
    });
    // The node registers with its first heartbeat, right after it listens.
    await sleep(2_000);

    const api = async <T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }> => {
      if (edgeGone) throw new Error(edgeGone);
      const res = await fetch(`${edgeUrl}${p}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as T };
    };
    const login = await api<{ token?: string }>("POST", "/api/v1/sessions", { username: STREAMER, password: PASSWORD });
    if (login.status !== 200 || !login.body.token) throw new Error(`login failed: ${login.status} ${JSON.stringify(login.body)}`);
    const token = login.body.token;

    const results: RunResult[] = [];
    for (let i = 1; i <= s.runs; i++) {
      const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: `go-live benchmark ${i}`, category: "gaming" }, token);
      if (created.status !== 201) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body)}`);
      const id = created.body.stream_id;
      const rtmp = `${transcoder.rtmpUrl}/${created.body.stream_key}`;
      const publishAt = Date.now();
      publisher = spawnTracked(ffmpeg, demoPublisherArgs(rtmp, { width: 320, height: 180, fps: 30 }), { stdio: ["ignore", "ignore", "ignore"] });
      let observedAt = 0;
      let startedAt = "";
      for (const deadline = Date.now() + 90_000; ; ) {
        const st = await api<{ status: string; started_at?: string | null }>("GET", `/api/v1/streams/${id}`);
        if (st.body.status === "live") {
          observedAt = Date.now();
          startedAt = st.body.started_at ?? "";
          break;
        }
        if (publisher.exitCode !== null) throw new Error(`run ${i}: the publisher exited (${publisher.exitCode}) before the stream went live`);
        if (Date.now() > deadline) {
          const saga = await api("GET", `/api/v1/streams/${id}/saga`, undefined, token);
          throw new Error(`run ${i}: not live after 90 s (status ${st.body.status}); saga: ${JSON.stringify(saga.body).slice(0, 1500)}`);
        }
        await sleep(100);
      }
      if (!startedAt) {
        const [row] = await d1Query(persistTo, `SELECT started_at FROM streams WHERE id = ${sqlText(id)}`);
        startedAt = String(row?.started_at ?? "");
      }
      const liveAt = Date.parse(startedAt);
      const saga = await api<{ history: SagaRecord[] }>("GET", `/api/v1/streams/${id}/saga`, undefined, token);
      const steps = {} as RunResult["steps"];
      const records = {} as Record<(typeof STEPS)[number], SagaRecord>;
      for (const step of STEPS) {
        const rec = [...saga.body.history].reverse().find((r) => r.stage === step && r.outcome === "ok" && typeof r.ms === "number");
        if (!rec) throw new Error(`run ${i}: no completed ${step} in the saga history: ${JSON.stringify(saga.body.history).slice(0, 1500)}`);
        steps[step] = rec.ms!;
        records[step] = rec;
      }
      // A record's `at` is when its step ended; `ms` runs from the previous step's end (from begin() for the first).
      const sagaStart = Date.parse(records.validate_event.at) - steps.validate_event;

      // Fan-out: count this go-live's notifications in D1 until every follower has one.
      let notifications = 0;
      let lastCreated = "";
      if (s.followers > 0) {
        await sleep(2_000);
        for (const deadline = Date.now() + 180_000; ; ) {
          const [row] = await d1Query(persistTo, `SELECT count(*) AS n, max(created_at) AS last FROM notifications WHERE stream_id = ${sqlText(id)}`);
          notifications = Number(row?.n ?? 0);
          lastCreated = String(row?.last ?? "");
          if (notifications >= s.followers) break;
          if (edgeGone) throw new Error(edgeGone);
          if (Date.now() > deadline) throw new Error(`run ${i}: ${notifications} of ${s.followers} notifications after 180 s`);
          await sleep(2_000);
        }
      }
      const r: RunResult = {
        streamId: id,
        publishToLiveMs: liveAt - publishAt,
        publishToLiveObservedMs: observedAt - publishAt,
        publishToSagaMs: sagaStart - publishAt,
        steps,
        notifications,
        fanoutMs: lastCreated ? Date.parse(lastCreated) - liveAt : Number.NaN,
      };
      results.push(r);
      log(
        `run ${i}/${s.runs} (${id}): publish → live ${r.publishToLiveMs} ms (${STEPS.map((k) => `${k} ${steps[k]}`).join(", ")} ms); ` +
          `${notifications.toLocaleString("en")} notifications, last ${fmt(r.fanoutMs, 0)} ms after go_live`,
      );

      const stop = await api("POST", `/api/v1/streams/${id}/stop`, undefined, token);
      if (stop.status !== 200) throw new Error(`run ${i}: stop answered ${stop.status} ${JSON.stringify(stop.body)}`);
      await stopChild(publisher);
      publisher = null;
      // Let the node end the pipeline and release the slot before the next run.
      for (const deadline = Date.now() + 20_000; Date.now() < deadline; await sleep(250)) {
        const streams = await transcoder.streams();
        if (!streams.some((x) => x.id === id && x.state !== "ended")) break;
      }
      await sleep(1_000);
    }

    const p50 = (f: (r: RunResult) => number) => median(results.map(f));
    const figures: Figure[] = [
      { figure: "RTMP publish → status live, p50 (ms)", cascade: fmt(p50((r) => r.publishToLiveMs), 0), baseline: "none (absolute)", ratio: "–" },
      ...STEPS.map((k) => ({ figure: `saga step ${k}, p50 (ms)`, cascade: fmt(p50((r) => r.steps[k]), 0), baseline: "none (absolute)", ratio: "–" })),
      ...(s.followers > 0
        ? [{ figure: `go_live → last of ${s.followers.toLocaleString("en")} notifications, p50 (ms)`, cascade: fmt(p50((r) => r.fanoutMs), 0), baseline: "none (absolute)", ratio: "–" }]
        : []),
    ];
    const perRun: Table = {
      title: "Per run (ms)",
      columns: ["run", "publish→live", "(seen by poll)", "publish→saga begin", ...STEPS, "notifications", "go_live→last notification"],
      rows: results.map((r, i) => [
        String(i + 1),
        String(r.publishToLiveMs),
        String(r.publishToLiveObservedMs),
        String(r.publishToSagaMs),
        ...STEPS.map((k) => String(r.steps[k])),
        r.notifications.toLocaleString("en"),
        fmt(r.fanoutMs, 0),
      ]),
    };
    const summary: Table = {
      title: `p50 over ${results.length} runs (ms)`,
      columns: ["publish→live", "publish→saga begin", ...STEPS, "go_live→last notification"],
      rows: [
        [
          fmt(p50((r) => r.publishToLiveMs), 0),
          fmt(p50((r) => r.publishToSagaMs), 0),
          ...STEPS.map((k) => fmt(p50((r) => r.steps[k]), 0)),
          fmt(p50((r) => r.fanoutMs), 0),
        ],
      ],
    };
    return {
      name: LABEL,
      title: "Go-live: RTMP publish → live, and follower fan-out",
      method:
        "The real stack: core-origin and the transcoder node (own processes, one 180p rung), one edge Worker (`wrangler dev`/workerd, D1 migrations applied, " +
        "`EDGE_URLS` = itself, so warmup_cdn prewarms it and probes a part through it). A streamer and its followers are seeded into D1 (`wrangler d1 execute --local`) " +
        "before the edge starts; per run a new stream is created through the API, ffmpeg publishes with its key (`-re` testsrc2 320x180@30, x264 ultrafast), and the " +
        "stream is polled until `live`. Publish → live = `streams.started_at` (written by the go_live pivot's D1 transaction, before the step enqueues the fan-out) − " +
        "the publisher's spawn time (so ffmpeg's own start-up is included); step durations are the saga's own (`GET /api/v1/streams/:id/saga`, history `ms`; go_live " +
        "includes enqueueing the fan-out; each step is timed from the previous one's end, so the alarm that schedules it is included); publish → saga begin " +
        "covers ffmpeg's start, the RTMP handshake and the node's key check reaching the StreamControl object. " +
        "Fan-out: the notifications of that go-live are counted in D1 until every follower has one; go_live → last = max(`notifications.created_at`) − `started_at`. " +
        "The stream is stopped between runs. There is no external baseline: the figures are absolute.",
      settings: `${results.length} runs, ${s.followers.toLocaleString("en")} followers, ladder ${LADDER}, part target 0.5 s, local queues (max_batch_size 10, max_batch_timeout 1 s)`,
      figures,
      tables: [summary, perRun],
      notes: [
        "No baseline exists for these figures: they are absolute times on this machine, not ratios.",
        "warmup_cdn waits for real parts through the edge, so it includes the encoder's start-up and the first 0.5 s part.",
        `The edge's log: ${path.relative(ROOT, edgeLog)}.`,
      ],
    };
  } finally {
    if (publisher) await stopChild(publisher);
    await transcoder?.stop();
    const e = edge;
    edge = null;
    await e?.stop();
    await origin?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
};

export const goLive: Benchmark = {
  name: LABEL,
  title: "Go-live: RTMP publish → live, and follower fan-out",
  summary: "publish → live with each saga step (p50 of 5 runs), go_live → last of 10,000 follower notifications",
  run,
};
