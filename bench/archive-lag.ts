/**
 * archive-lag: how far behind the live stream its recording in R2 is. The real stack — core-origin
 * (own process, archiving to the edge: CASCADE_ARCHIVE_URL), the transcoder node (own process) and
 * one edge Worker in workerd (`wrangler dev`: D1 migrations, the go-live saga, miniflare's R2). A
 * stream created through the API with `enable_recording: true` is published for BENCH_ARCHIVE_SECONDS;
 * per segment the origin measures segment complete (its boundary push arrived) → the edge's 2xx for
 * the upload (the object is in R2), and, as the baseline, the PUT to the edge alone.
 *
 * `withRecordedStream` is the reusable part (for the VOD first-byte measurement): it brings the
 * stack up, records a stream, stops it through the API, waits until the origin has archived
 * everything, then hands the running stack to a callback.
 */
import type { ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import path from "node:path";
import { originArchivePath, type ArchiveListing, type ArchiveStatus } from "../shared/archive-protocol.ts";
import { signNodeToken } from "../shared/tokens.ts";
import { applyEdgeMigrations, type EdgeProcess } from "../scripts/edge-process.ts";
import { demoPublisherArgs } from "../scripts/demo-publisher.ts";
import { sleep } from "./lib/clock.ts";
import { EDGE_ADMIN_TOKEN, startSagaEdge } from "./lib/edges.ts";
import { NODE_SECRET, startOrigin, type ServerProcess } from "./lib/origin-process.ts";
import { OUT_DIR, ROOT, ffmpegPath, freePort, spawnTracked, stopChild } from "./lib/proc.ts";
import type { BenchOptions, BenchResult, Benchmark, Figure, Table } from "./lib/report.ts";
import { envNumber, envString } from "./lib/settings.ts";
import { fmt, ratio, summarize } from "./lib/stats.ts";
import { startTranscoder, type RunningTranscoder } from "./lib/transcoder-process.ts";
import { listArchive } from "../test/support/archive-listing.ts";

const LABEL = "archive-lag";

export interface RecordedStreamOptions {
  /** Label for logs and state directories under bench/out. */
  label: string;
  /** Seconds the publisher runs before the stream is stopped. */
  seconds: number;
  /** CASCADE_LADDER of the node. */
  ladder: string;
  /** Publisher resolution (the ladder's top rung is usually the same). */
  source: { width: number; height: number };
  log: (line: string) => void;
}

/** The running stack after a recorded stream ended and its archive drained. */
export interface RecordedStream {
  edgeUrl: string;
  originUrl: string;
  streamId: string;
  recordingId: string;
  /** The streamer's user token (owner of the stream and the recording). */
  token: string;
  /** The origin's final archive status (lag and upload samples included). */
  archive: ArchiveStatus;
  /** What R2 holds of the recording (admin listing through the edge). */
  listing(): Promise<ArchiveListing>;
  /** The origin's Prometheus text. */
  metrics(): Promise<string>;
  /** JSON API call on the edge. */
  api<T = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: T }>;
}

/**
 * Brings up origin (archiving to the edge) + edge + transcoder, records one stream for
 * `o.seconds`, stops it through `POST /api/v1/streams/:id/stop` (the saga's archive_vod runs),
 * waits for the origin's archive to drain, calls `use` with the still-running stack, then tears
 * everything down.
 */
export const withRecordedStream = async <T>(o: RecordedStreamOptions, use: (r: RecordedStream) => Promise<T>): Promise<T> => {
  const parent = path.join(OUT_DIR, "edge-state");
  mkdirSync(parent, { recursive: true });
  for (const old of readdirSync(parent)) if (old.startsWith(`${o.label}-`)) rmSync(path.join(parent, old), { recursive: true, force: true });
  const stateDir = mkdtempSync(path.join(parent, `${o.label}-`));
  let origin: ServerProcess | null = null;
  let edge: EdgeProcess | null = null;
  let transcoder: RunningTranscoder | null = null;
  let publisher: ChildProcess | null = null;
  const edgeLog = path.join(OUT_DIR, `${o.label}-edge-1.log`);
  try {
    const edgePort = await freePort();
    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    origin = await startOrigin(`${o.label}-origin`, { CASCADE_ARCHIVE_URL: edgeUrl });
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    edge = startSagaEdge({ port: edgePort, originUrl: origin.url, stateDir }, edgeLog);
    o.log(`origin ${origin.url} archiving to the edge at ${edgeUrl} (wrangler dev / workerd)`);
    await edge.ready(120_000);
    transcoder = await startTranscoder({
      label: `${o.label}-transcoder`,
      originUrl: origin.url,
      streamKeys: {},
      partTarget: 0.5,
      ladder: o.ladder,
      env: { CASCADE_CONTROL_PLANE_URL: edgeUrl, CASCADE_NODE_ID: "bench-node", CASCADE_SLOTS: "4" },
    });
    await sleep(2_000); // the node registers with its first heartbeat

    const api = async <R = Record<string, unknown>>(method: string, p: string, body?: unknown, token?: string): Promise<{ status: number; body: R }> => {
      const res = await fetch(`${edgeUrl}${p}`, {
        method,
        headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, body: (await res.json()) as R };
    };
    const user = await api<{ token: string }>("POST", "/api/v1/users", { username: `bench_rec_${Date.now().toString(36)}`, password: "bench streamer password" });
    if (user.status !== 201) throw new Error(`sign-up: ${user.status} ${JSON.stringify(user.body)}`);
    const token = user.body.token;
    const created = await api<{ stream_id: string; stream_key: string }>("POST", "/api/v1/streams", { title: "archive benchmark", enable_recording: true }, token);
    if (created.status !== 201) throw new Error(`create stream: ${created.status} ${JSON.stringify(created.body)}`);
    const streamId = created.body.stream_id;
    const nodeToken = await signNodeToken(NODE_SECRET, "bench");
    const originUrl = origin.url;
    const status = async (): Promise<ArchiveStatus> => {
      const res = await fetch(`${originUrl}${originArchivePath(streamId)}`, { headers: { authorization: `Bearer ${nodeToken}` } });
      if (!res.ok) throw new Error(`archive status: ${res.status} ${await res.text()}`);
      return (await res.json()) as ArchiveStatus;
    };

    publisher = spawnTracked(ffmpegPath(), demoPublisherArgs(`${transcoder.rtmpUrl}/${created.body.stream_key}`, { ...o.source, fps: 30 }), { stdio: ["ignore", "ignore", "ignore"] });
    for (const deadline = Date.now() + 90_000; ; await sleep(250)) {
      const st = await api<{ status: string }>("GET", `/api/v1/streams/${streamId}`);
      if (st.body.status === "live") break;
      if (publisher.exitCode !== null) throw new Error(`the publisher exited (${publisher.exitCode}) before the stream went live`);
      if (Date.now() > deadline) throw new Error(`not live after 90 s (status ${st.body.status})`);
    }
    const first = await status();
    if (!first.recording_id || first.mode !== "record") throw new Error(`the origin does not record the stream: ${JSON.stringify(first).slice(0, 500)}`);
    o.log(`live; recording ${first.recording_id}; publishing for ${o.seconds} s`);
    for (let left = o.seconds; left > 0; left -= 10) {
      await sleep(Math.min(10, left) * 1000);
      const s = await status();
      o.log(`${o.seconds - Math.max(0, left - 10)} s: ${s.uploaded} uploads, ${s.pending} pending`);
    }
    const stop = await api("POST", `/api/v1/streams/${streamId}/stop`, undefined, token);
    if (stop.status !== 200) throw new Error(`stop answered ${stop.status} ${JSON.stringify(stop.body)}`);
    await stopChild(publisher);
    publisher = null;
    let archive = await status();
    for (const deadline = Date.now() + 60_000; !(archive.ended && archive.pending === 0); archive = await status()) {
      if (Date.now() > deadline) throw new Error(`archive not drained 60 s after the stop: ${JSON.stringify({ ...archive, lag_ms: undefined, upload_ms: undefined })}`);
      await sleep(250);
    }
    const recordingId = first.recording_id;
    return await use({
      edgeUrl,
      originUrl,
      streamId,
      recordingId,
      token,
      archive,
      api,
      metrics: async () => (await fetch(`${originUrl}/metrics`)).text(),
      listing: () => listArchive(edgeUrl, EDGE_ADMIN_TOKEN, recordingId),
    });
  } finally {
    if (publisher) await stopChild(publisher);
    await transcoder?.stop();
    await edge?.stop();
    await origin?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
};

/** One sample of a Prometheus metric without labels (0 when absent). */
const metricValue = (text: string, name: string): number => {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
};

const run = async ({ quick, log }: BenchOptions): Promise<BenchResult> => {
  const seconds = envNumber("BENCH_ARCHIVE_SECONDS", quick ? 20 : 60, { min: 10, max: 3600, integer: true });
  const ladder = envString("BENCH_ARCHIVE_LADDER", "360p:640x360@30:800:main,180p:320x180@30:300:main");
  return withRecordedStream({ label: LABEL, seconds, ladder, source: { width: 640, height: 360 }, log }, async (r) => {
    const lag = summarize(r.archive.lag_ms);
    const upload = summarize(r.archive.upload_ms);
    const listing = await r.listing();
    const segments = listing.objects.filter((o) => /\/seg-\d+\.m4s$/.test(o.key));
    const segBytes = segments.map((o) => o.size);
    const metrics = await r.metrics();
    const journalCount = metricValue(metrics, "cascade_origin_archive_journal_seconds_count");
    const journalMeanMs = journalCount > 0 ? (metricValue(metrics, "cascade_origin_archive_journal_seconds_sum") / journalCount) * 1000 : Number.NaN;
    const retries = [...metrics.matchAll(/^cascade_origin_archive_failures_total\{outcome="retry"\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    log(`${lag.count} segments archived; lag p50 ${fmt(lag.p50, 0)} ms, p99 ${fmt(lag.p99, 0)} ms; upload alone p50 ${fmt(upload.p50, 0)} ms`);
    const figures: Figure[] = [
      { figure: "archive lag: segment complete → in R2, p50 (ms)", cascade: fmt(lag.p50, 0), baseline: `${fmt(upload.p50, 0)} (the PUT alone)`, ratio: ratio(lag.p50, upload.p50) },
      { figure: "archive lag: segment complete → in R2, p99 (ms)", cascade: fmt(lag.p99, 0), baseline: `${fmt(upload.p99, 0)} (the PUT alone)`, ratio: ratio(lag.p99, upload.p99) },
    ];
    const table: Table = {
      title: "Archive lag and its parts (ms)",
      columns: ["measure", "samples", "p50", "p90", "p99", "max", "mean"],
      rows: [
        ["segment complete → 2xx from the edge (R2 put done)", String(lag.count), fmt(lag.p50, 0), fmt(lag.p90, 0), fmt(lag.p99, 0), fmt(lag.max, 0), fmt(lag.mean, 1)],
        ["the PUT to the edge alone (read entry, send, R2 put, D1 update)", String(upload.count), fmt(upload.p50, 0), fmt(upload.p90, 0), fmt(upload.p99, 0), fmt(upload.max, 0), fmt(upload.mean, 1)],
      ],
    };
    const sizes = summarize(segBytes);
    return {
      name: LABEL,
      title: "Archive lag: segment complete at the origin → in R2",
      method:
        "The real stack: core-origin (own process, `CASCADE_ARCHIVE_URL` = the edge), the transcoder node (own process) and one edge Worker (`wrangler dev`/workerd with " +
        "D1 and miniflare's R2). A stream is created through the API with `enable_recording: true`, ffmpeg publishes (`-re` testsrc2 640x360@30) and the go-live saga hands " +
        "the recording to the node and the origin; after the publishing time the stream is stopped through the API. For every segment the origin timestamps the segment " +
        "boundary push (before it journals the segment, fsync included, and acknowledges it) and the edge's 2xx for the segment's upload (the R2 put and the D1 byte count " +
        "are done by then); the samples come from the origin's `GET /ingest/v1/streams/:id/archive`. The baseline is the upload request alone for the same segments " +
        "(journal entry read, PUT, R2 put, D1 update, response), so lag − upload is the journal write plus queueing (2 uploads in flight).",
      settings: `${seconds} s of publishing, ladder ${ladder} + AAC audio, part target 0.5 s, 2 s segments, archive concurrency 2`,
      figures,
      tables: [
        table,
        {
          title: "What was archived",
          columns: ["segments in R2", "segment size p50 (KiB)", "segment size max (KiB)", "recording bytes (D1)", "journal write mean (ms)", "upload retries"],
          rows: [[String(segments.length), fmt(sizes.p50 / 1024, 1), fmt(sizes.max / 1024, 1), listing.recording.bytes.toLocaleString("en"), fmt(journalMeanMs, 2), String(retries)]],
        },
      ],
      notes: [
        "Lag is measured on the origin's clock at both ends (segment boundary arrival, the edge's response), so no clock skew enters.",
        "R2 here is miniflare's local, SQLite-backed implementation; a production bucket adds its own latency to the PUT.",
        `The edge's log: ${path.relative(ROOT, path.join(OUT_DIR, `${LABEL}-edge-1.log`))}.`,
      ],
    };
  });
};

export const archiveLag: Benchmark = {
  name: LABEL,
  title: "Archive lag: segment complete → in R2",
  summary: "recorded stream through origin → edge → R2: segment complete → R2 put done, p50/p99, vs the PUT alone",
  run,
};
