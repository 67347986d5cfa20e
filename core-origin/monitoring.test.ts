/**
 * The monitoring contract: every metric that monitoring/ (Grafana dashboard, Prometheus alert
 * rules) refers to is really exported by a running core-origin, a running transcoder node or the
 * edge's exposition (edge/analytics/metric-names.ts), so a renamed metric breaks this test rather
 * than silently emptying a panel or disarming an alert.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EDGE_METRIC_NAMES } from "../edge/analytics/metric-names.ts";
import { LocalKeyList } from "../gpu-transcoder/auth/local-keys.ts";
import { probeFfmpeg } from "../gpu-transcoder/ffmpeg/probe.ts";
import { createTranscoderNode, type TranscoderNode } from "../gpu-transcoder/node.ts";
import { demoPublisherArgs } from "../scripts/demo-publisher.ts";
import { parseLadderSpec } from "../shared/ladder.ts";
import { createOrigin, type Origin } from "./app.ts";

// js-yaml comes with ESLint (a pinned devDependency); it has no type declarations of its own.
const { load: parseYaml } = createRequire(import.meta.url)("js-yaml") as { load: (text: string) => unknown };

const ROOT = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(ROOT, "monitoring", file), "utf8");

interface Rule {
  alert?: string;
  record?: string;
  expr: unknown;
  for?: unknown;
  labels?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}
const rulesFile = parseYaml(read("prometheus-alerts.yml")) as { groups: Array<{ name: string; rules: Rule[] }> };
const alerts = rulesFile.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(read("grafana-dashboard.json")) as Record<string, unknown> & { panels: Panel[] };
const scrapeConfig = parseYaml(read("prometheus.yml")) as {
  rule_files: string[];
  scrape_configs: Array<{ job_name: string; metrics_path: string; authorization?: { type: string; credentials_file?: string } }>;
};

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: Array<{ expr: string; refId: string; datasource?: { uid: string } }>;
}

/** Every PromQL string in a JSON/YAML document: values of `expr`, and template variable queries. */
const promqlIn = (node: unknown, out: string[] = []): string[] => {
  if (Array.isArray(node)) node.forEach((n) => promqlIn(n, out));
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if ((k === "expr" || k === "definition") && typeof v === "string") out.push(v);
      else if (k === "query" && typeof v === "string" && v.includes("(")) out.push(v);
      else promqlIn(v, out);
    }
  }
  return out;
};

const METRIC_RE = /\b((?:cascade|process|nodejs)_[a-zA-Z0-9_]+)/g;
const exprs = [...promqlIn(rulesFile), ...promqlIn(dashboard)];
const referenced = [...new Set(exprs.flatMap((e) => [...e.matchAll(METRIC_RE)].map((m) => m[1]!)))].sort();

/** Names and types declared in a Prometheus text exposition, and the label sets of its samples. */
const exposition = (text: string) => {
  const types = new Map<string, string>();
  const samples = new Map<string, Array<Record<string, string>>>();
  for (const line of text.split("\n")) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) types.set(t[1]!, t[2]!);
    const s = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (s && !line.startsWith("#")) {
      const labels = Object.fromEntries([...(s[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      samples.set(s[1]!, [...(samples.get(s[1]!) ?? []), { ...labels, __value: s[3]! }]);
    }
  }
  /** Whether `name` is exported, counting a histogram's _bucket/_sum/_count and a summary's _sum/_count. */
  const has = (name: string): boolean => {
    if (types.has(name)) return true;
    const m = /^(.*)_(bucket|sum|count)$/.exec(name);
    if (!m) return false;
    const type = types.get(m[1]!);
    return type === "histogram" || (type === "summary" && m[2] !== "bucket");
  };
  const value = (name: string, labels: Record<string, string> = {}): number | undefined => {
    const hit = (samples.get(name) ?? []).find((l) => Object.entries(labels).every(([k, v]) => l[k] === v));
    return hit ? Number(hit.__value) : undefined;
  };
  return { types, samples, has, value };
};

describe("monitoring/prometheus-alerts.yml", () => {
  it("has the alerts the runbook needs, each with expr, for, a severity and a summary", () => {
    const names = alerts.map((a) => a.alert);
    for (const needed of ["HighLatency", "LowBufferHealth", "LiveEdgeStalled", "OriginHighErrorRate", "PushRejected", "StreamErrors", "EncoderSlowerThanRealtime", "OriginDown", "TranscoderDown"]) {
      expect(names).toContain(needed);
    }
    expect(new Set(names).size).toBe(names.length);
    for (const a of alerts) {
      expect(a.alert, JSON.stringify(a)).toMatch(/^[A-Z][A-Za-z0-9]+$/);
      expect(typeof a.expr === "string" && a.expr.trim().length > 0, `${a.alert}: expr`).toBe(true);
      expect(String(a.for), `${a.alert}: for`).toMatch(/^\d+[smhd]$/);
      expect(["critical", "warning", "info"], `${a.alert}: labels.severity`).toContain(a.labels?.severity);
      expect(typeof a.annotations?.summary === "string" && a.annotations.summary.length > 0, `${a.alert}: annotations.summary`).toBe(true);
      expect(typeof a.annotations?.description, `${a.alert}: annotations.description`).toBe("string");
    }
  });

  it("uses the thresholds the issue asks for", () => {
    const expr = (name: string) => String(alerts.find((a) => a.alert === name)!.expr);
    const forOf = (name: string) => alerts.find((a) => a.alert === name)!.for;
    expect(expr("HighLatency")).toMatch(/cascade_stream_latency_seconds\{quantile="0\.95"\}\) > 5$/);
    expect(forOf("HighLatency")).toBe("2m");
    expect(expr("LowBufferHealth")).toMatch(/cascade_stream_player_buffer_seconds\) < 1$/);
    expect(forOf("LowBufferHealth")).toBe("2m");
    expect(expr("LiveEdgeStalled")).toMatch(/cascade_origin_live_edge_age_seconds[\s\S]*>[\s\S]*3 \* cascade_origin_part_target_seconds/);
    expect(expr("EncoderSlowerThanRealtime")).toMatch(/rate\(cascade_transcoder_encoded_seconds_total\[1m\]\)\) < 0\.97\s+and on \(instance, stream\) cascade_transcoder_speed < 1/);
    expect(forOf("EncoderSlowerThanRealtime")).toBe("1m");
    expect(expr("OriginHighErrorRate")).toContain('status=~"5.."');
  });
});

describe("monitoring/grafana-dashboard.json", () => {
  const panels = dashboard.panels.filter((p) => p.type !== "row");

  it("is an importable dashboard: uid, title, a Prometheus data source input, unique panel ids", () => {
    expect(dashboard.uid).toBe("cascade-overview");
    expect(typeof dashboard.title).toBe("string");
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" })]);
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("every panel queries Prometheus through the data source input, with unique refIds", () => {
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe("${DS_PROMETHEUS}");
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, p.title).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.expr.trim().length, p.title).toBeGreaterThan(0);
        expect(t.datasource?.uid, p.title).toBe("${DS_PROMETHEUS}");
      }
    }
  });

  it("lays panels out on the 24-column grid without overlaps", () => {
    const all = dashboard.panels;
    for (const p of all) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!.gridPos;
        const b = all[j]!.gridPos;
        const overlap = a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
        expect(overlap, `${all[i]!.title} / ${all[j]!.title}`).toBe(false);
      }
    }
  });

  it("has the panels operators look for", () => {
    const text = JSON.stringify(panels.map((p) => p.targets));
    for (const name of [
      "cascade_origin_streams",
      "cascade_origin_push_latency_seconds_bucket",
      "cascade_origin_http_requests_total",
      "cascade_origin_blocking_wait_seconds_bucket",
      "cascade_origin_live_edge_age_seconds",
      "cascade_transcoder_speed",
      "cascade_transcoder_rung_drops_total",
      "cascade_transcoder_origin_failovers_total",
      "cascade_origin_archive_lag_seconds_bucket",
      "cascade_origin_archive_queue_depth",
      ...Object.values(EDGE_METRIC_NAMES as Record<string, string> | readonly string[]),
    ]) {
      expect(text, name).toContain(name);
    }
  });

  it("balances brackets in every query (a cheap syntax check; promtool does the real one)", () => {
    for (const e of exprs) {
      let depth = 0;
      for (const ch of e.replace(/"(?:[^"\\]|\\.)*"/g, "")) {
        if ("({[".includes(ch)) depth++;
        if (")}]".includes(ch)) depth--;
        expect(depth, e).toBeGreaterThanOrEqual(0);
      }
      expect(depth, e).toBe(0);
    }
  });
});

describe("monitoring/prometheus.yml", () => {
  it("scrapes the origin, the transcoder and the edge (bearer EDGE_ADMIN_TOKEN), and loads the rules", () => {
    expect(scrapeConfig.rule_files).toContain("prometheus-alerts.yml");
    const jobs = Object.fromEntries(scrapeConfig.scrape_configs.map((j) => [j.job_name, j]));
    expect(jobs["cascade-origin"]?.metrics_path).toBe("/metrics");
    expect(jobs["cascade-transcoder"]?.metrics_path).toBe("/metrics");
    expect(jobs["cascade-edge"]?.metrics_path).toBe("/api/v1/edge/metrics");
    expect(jobs["cascade-edge"]?.authorization?.type).toBe("Bearer");
    // Every job an alert or a panel selects on is one this config scrapes.
    for (const e of exprs) for (const m of e.matchAll(/job=~?"([^"]+)"/g)) expect(Object.keys(jobs).some((j) => new RegExp(`^(?:${m[1]})$`).test(j)), e).toBe(true);
  });
});

describe("every metric monitoring/ refers to is exported", () => {
  const STREAM = "mon";
  const KEY = "monitoring-key-0123";
  let base: string;
  let origin: Origin;
  let node: TranscoderNode | null = null;
  let publisher: ChildProcess | null = null;
  let originText = "";
  let transcoderText = "";

  const waitFor = async (what: string, check: () => Promise<boolean>, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  beforeAll(async () => {
    base = mkdtempSync(path.join(tmpdir(), "cascade-monitoring-"));
    const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
    origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: "monitoring-test-secret-0123456789", storageDir: base, memorySegments: 8, playlistSegments: 15, dvrWindowS: 0, logger });
    const { port: originPort } = await origin.listen();
    const originUrl = `http://127.0.0.1:${originPort}`;
    node = await createTranscoderNode({
      nodeId: "monitoring-node",
      rtmpHost: "127.0.0.1",
      rtmpPort: 0,
      controlHost: "127.0.0.1",
      controlPort: 0,
      origins: [originUrl],
      nodeSecret: "monitoring-test-secret-0123456789",
      streamKeys: null,
      streamKeysFile: null,
      authorizer: new LocalKeyList({ [STREAM]: KEY }),
      caps: await probeFfmpeg({ ...process.env, CASCADE_ENCODER: "libx264" }),
      // One tiny rung plus audio: the cheapest real stream (2 shared cores).
      ladder: parseLadderSpec("90p:160x90@30:150:baseline"),
      partTarget: 0.5,
      segmentDuration: 2,
      graceMs: 5_000,
      // Never drop the only rung because the test machine is busy.
      minSpeed: 0,
      slowPeriodMs: 600_000,
      thumbnailInterval: 0,
      logger,
    });
    const { rtmpPort, controlPort } = await node.listen();
    publisher = spawn("ffmpeg", demoPublisherArgs(`rtmp://127.0.0.1:${rtmpPort}/live/${KEY}`, { width: 160, height: 90, fps: 30, durationSeconds: 60 }), { stdio: "ignore" });

    const transcoderMetrics = async () => exposition(await (await fetch(`http://127.0.0.1:${controlPort}/metrics`)).text());
    // A whole segment at the origin on both renditions, and a part delivered since.
    await waitFor("a complete segment at the origin", async () => {
      const s = origin.registry.get(STREAM);
      return !!s && s.renditions.size === 2 && [...s.renditions.values()].every((r) => r.lastComplete !== null);
    });
    await waitFor("the encoder's speed and progress", async () => {
      const m = await transcoderMetrics();
      return m.value("cascade_transcoder_speed", { stream: STREAM }) !== undefined && m.value("cascade_transcoder_encoded_seconds_total", { stream: STREAM }) !== undefined;
    });
    // A real blocking request: the playlist update after the newest part, held until the
    // transcoder pushes the next one. (A hinted part would race with the pushes: by the time the
    // request arrives it may exist already and be served without blocking.)
    const newest = origin.registry.get(STREAM)!.renditions.get("90p")!.lastPart()!;
    const playlist = await fetch(`${originUrl}/live/${STREAM}/90p/index.m3u8?_HLS_msn=${newest.msn}&_HLS_part=${newest.part + 1}`);
    expect(playlist.status).toBe(200);
    await playlist.text();
    originText = await (await fetch(`${originUrl}/metrics`)).text();
    transcoderText = await (await fetch(`http://127.0.0.1:${controlPort}/metrics`)).text();
  }, 120_000);

  afterAll(async () => {
    publisher?.kill("SIGKILL");
    await node?.close();
    await origin?.close();
    rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("monitoring/ refers to a plausible set of metrics", () => {
    expect(referenced.length).toBeGreaterThan(30);
    expect(referenced).toContain("cascade_origin_live_edge_age_seconds");
  });

  it("each cascade_origin_* / cascade_transcoder_* / cascade_stream_* name is in the origin's, the node's or the edge's exposition", () => {
    const o = exposition(originText);
    const tr = exposition(transcoderText);
    const edge = new Set<string>(Object.values(EDGE_METRIC_NAMES as Record<string, string> | readonly string[]));
    const missing: string[] = [];
    for (const name of referenced) {
      const ok = name.startsWith("cascade_origin_")
        ? o.has(name)
        : name.startsWith("cascade_transcoder_")
          ? tr.has(name)
          : name.startsWith("cascade_stream_")
            ? edge.has(name)
            : o.has(name) && tr.has(name); // process_* / nodejs_*: both run collectDefaultMetrics
      if (!ok) missing.push(name);
    }
    expect(missing).toEqual([]);
  });

  it("the per-stream series the alerts and panels select on exist while a stream is live", () => {
    const o = exposition(originText);
    const tr = exposition(transcoderText);
    expect(o.value("cascade_origin_streams")).toBe(1);
    expect(o.value("cascade_origin_live_edge_age_seconds", { stream: STREAM, rendition: "90p" })).toBeGreaterThanOrEqual(0);
    expect(o.value("cascade_origin_live_edge_age_seconds", { stream: STREAM, rendition: "audio" })).toBeGreaterThanOrEqual(0);
    expect(o.value("cascade_origin_part_target_seconds", { stream: STREAM })).toBeGreaterThan(0);
    expect(o.value("cascade_origin_segments_held", { stream: STREAM })).toBeGreaterThanOrEqual(2);
    expect(o.value("cascade_origin_memory_media_bytes", { stream: STREAM })).toBeGreaterThan(0);
    expect(o.value("cascade_origin_http_requests_total", { route: "push_part", status: "200" })).toBeGreaterThan(0);
    expect(o.value("cascade_origin_blocking_wait_seconds_count", { kind: "playlist", outcome: "ready" })).toBe(1);
    expect(o.value("cascade_origin_push_latency_seconds_count")).toBeGreaterThan(0);
    expect(o.value("cascade_origin_push_bytes_total", { rendition_type: "video" })).toBeGreaterThan(0);
    expect(o.value("cascade_origin_storage_operation_seconds_count", { op: "put" })).toBeGreaterThan(0);
    expect(tr.value("cascade_transcoder_streams", { state: "live" })).toBe(1);
    // Present while the encoder runs; a starved test machine may well measure a speed of 0.
    expect(tr.value("cascade_transcoder_speed", { stream: STREAM })).toBeGreaterThanOrEqual(0);
    expect(tr.value("cascade_transcoder_encoded_seconds_total", { stream: STREAM })).toBeGreaterThan(0);
    expect(tr.value("cascade_transcoder_active_renditions", { stream: STREAM })).toBe(2);
    expect(tr.value("cascade_transcoder_push_queue_depth", { stream: STREAM })).toBeGreaterThanOrEqual(0);
    expect(tr.value("cascade_transcoder_push_oldest_pending_seconds", { stream: STREAM })).toBeGreaterThanOrEqual(0);
    expect(tr.value("cascade_transcoder_publishers_connected")).toBe(1);
    expect(tr.value("cascade_transcoder_part_delivery_seconds_count")).toBeGreaterThan(0);
    expect(tr.value("cascade_transcoder_encoder_info", { encoder: "libx264" })).toBe(1);
    expect(tr.value("cascade_transcoder_slots")).toBe(4);
  });

  it("selectors in monitoring/ only use labels the metrics have", () => {
    const o = exposition(originText);
    const tr = exposition(transcoderText);
    const target = new Set(["job", "instance"]);
    const problems: string[] = [];
    for (const e of exprs) {
      for (const m of e.matchAll(/\b((?:cascade_origin|cascade_transcoder)_[a-zA-Z0-9_]+)\{([^}]*)\}/g)) {
        const name = m[1]!;
        const seen = (name.startsWith("cascade_origin_") ? o : tr).samples.get(name);
        if (!seen) continue;
        const known = new Set(seen.flatMap((l) => Object.keys(l)));
        for (const k of m[2]!.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)/g)) if (!target.has(k[1]!) && !known.has(k[1]!)) problems.push(`${name}: ${k[1]}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
