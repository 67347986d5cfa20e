/**
 * kill -9 of core-origin mid-stream, on a recorded stream, twice over:
 *  - restarted on the same port and disk: the transcoder holds its pushes, re-pushes after the
 *    restart, players recover, and the recording has every segment;
 *  - never restarted, with a standby configured on both sides (the node's CASCADE_ORIGINS and the
 *    edge's ORIGIN_URL list it second): the node fails over, replaying the segments the dead origin
 *    may not have archived yet, the edge follows, players continue, and again nothing is missing.
 * "Nothing missing" is read from the finished VOD: its media playlist must list every MSN from the
 * first to the last, for video and audio, and ffmpeg must decode it to the end.
 */
import { execFile, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EdgeProcess } from "../../scripts/edge-process.ts";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { publish } from "../live-path/harness.ts";
import {
  createStreamer,
  freePort,
  PlaylistWatcher,
  report,
  sleep,
  startControlEdge,
  startNodeService,
  startOriginService,
  waitFor,
  type NodeService,
  type OriginService,
  type Service,
} from "./harness.ts";
import { boundMs } from "./documented-figures.ts";

let dir = "";
const services: Service[] = [];
let edge: EdgeProcess | null = null;
let publisher: ChildProcess | null = null;

afterEach(async () => {
  if (publisher && publisher.exitCode === null && publisher.signalCode === null) publisher.kill("SIGKILL");
  publisher = null;
  await Promise.all(services.splice(0).map((s) => s.stop()));
  await edge?.stop();
  edge = null;
  // CASCADE_FAULTS_KEEP=1 keeps the logs and state of a failed run for a look.
  if (dir && !process.env.CASCADE_FAULTS_KEEP) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`kept ${dir}`);
  dir = "";
});

const run = (cmd: string, args: string[]): Promise<{ code: number; err: string }> =>
  new Promise((resolve) => execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, _out, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, err: stderr })));

/** Stops the stream through the API and waits for its recording; returns what the VOD holds per rendition. */
const finishRecording = async (edgeUrl: string, s: Awaited<ReturnType<typeof createStreamer>>) => {
  expect((await s.api("POST", `/api/v1/streams/${s.id}/stop`, undefined, s.token)).status).toBe(200);
  const list = await waitFor("the recording", async () => {
    const r = await s.api<{ recordings: Array<{ recording_id: string; status: string }> }>("GET", `/api/v1/streams/${s.id}/recordings`, undefined, s.token);
    return r.body.recordings?.[0]?.status === "ready" ? r.body.recordings[0] : null;
  }, 120_000);
  const vod = `${edgeUrl}/vod/${list.recording_id}`;
  const msnsOf = async (rendition: string) => {
    const text = await (await fetch(`${vod}/${rendition}/index.m3u8`)).text();
    const pl = parseMediaPlaylist(text);
    expect(pl.endList, text).toBe(true);
    return pl.segments.filter((x) => !x.gap).map((x) => Number(/seg-(\d+)\.m4s/.exec(x.uri ?? "")?.[1] ?? -1));
  };
  const decode = await run("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", `${vod}/master.m3u8`, "-map", "0:v:0", "-map", "0:a:0", "-f", "null", "-"]);
  return { video: await msnsOf("180p"), audio: await msnsOf("audio"), decode };
};

/** MSNs missing between the first and the last of `msns`. */
const holes = (msns: number[]): number[] => {
  const have = new Set(msns);
  const out: number[] = [];
  for (let m = Math.min(...msns); m <= Math.max(...msns); m++) if (!have.has(m)) out.push(m);
  return out;
};

const startRecordedStream = async (origins: OriginService[]) => {
  dir ||= mkdtempSync(path.join(tmpdir(), "cascade-fault-origin-"));
  edge = await startControlEdge({ dir, originUrl: origins.map((o) => o.url).join(","), port: edgePort });
  const node: NodeService = await startNodeService({ nodeId: "origin-fault-node", origins: origins.map((o) => o.url), controlPlaneUrl: edge.url, dir, env: { CASCADE_RECONNECT_GRACE: "30" } });
  services.push(node);
  await sleep(2_000);
  const s = await createStreamer(edge.url, { recording: true });
  publisher = publish(node.rtmpUrl, s.key);
  await waitFor("live", async () => (await s.api<{ status: string }>("GET", `/api/v1/streams/${s.id}`)).body.status === "live", 90_000);
  return { node, s };
};

let edgePort = 0;
const origin = async (label: string, port: number, storageDir: string) => {
  const o = await startOriginService({ label, port, storageDir, archiveUrl: `http://127.0.0.1:${edgePort}`, dir });
  services.push(o);
  return o;
};

/** The finished recording: every segment from MSN 0 to past the fault, in both renditions, and it decodes. */
const wholeRecording = async (s: Parameters<typeof finishRecording>[1], lastBefore: number) => {
  const vod = await finishRecording(edge!.url, s);
  expect(holes(vod.video), `video MSNs ${vod.video.join(",")}`).toEqual([]);
  expect(holes(vod.audio), `audio MSNs ${vod.audio.join(",")}`).toEqual([]);
  expect(vod.video[0]).toBe(0);
  expect(Math.max(...vod.video)).toBeGreaterThanOrEqual(lastBefore + 3);
  expect(vod.decode.code, vod.decode.err).toBe(0);
  return vod;
};

/** The figures a recovery prints: when the player resumed, its longest gap, and the recording. */
const recoveryFigures = (resumedMs: number, gapMs: number, vod: { video: number[]; audio: number[] }) => ({
  "player resumed after (s)": (resumedMs / 1000).toFixed(1),
  "player gap (s)": (gapMs / 1000).toFixed(1),
  "recorded segments": vod.video.length,
  "segments lost": holes(vod.video).length + holes(vod.audio).length,
});

describe("fault: core-origin dies (kill -9)", () => {
  it("restarted: the node re-pushes, players recover, the recording has every segment", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cascade-fault-origin-"));
    edgePort = await freePort();
    const port = await freePort();
    const storageDir = path.join(dir, "store");
    const first = await origin("origin", port, storageDir);
    const { s } = await startRecordedStream([first]);
    const watcher = new PlaylistWatcher(`${edge!.url}/hls/${s.id}/180p`).start();
    try {
      await waitFor("the player has 3 segments", async () => watcher.parts.filter((p) => p.part === 0).length >= 3, 30_000);
      const killedAt = Date.now();
      await first.kill9();
      await sleep(3_000);
      await origin("origin-restarted", port, storageDir);
      const lastBefore = watcher.parts.filter((p) => p.at <= killedAt).at(-1)!.msn;
      const resumed = await waitFor("media after the restart", async () => watcher.parts.find((p) => p.at > killedAt + 3_000 && p.msn > lastBefore) ?? null, 45_000);
      await waitFor("three more segments", async () => new Set(watcher.parts.filter((p) => p.at >= resumed.at).map((p) => p.msn)).size >= 3, 30_000);
      const gapMs = watcher.longestGapSince(killedAt - 1_000);
      expect(watcher.badParts).toEqual([]);
      // The fault table's figures (test/faults/documented-figures.ts).
      expect(resumed.at - killedAt, "player resumed after the kill (ms)").toBeLessThanOrEqual(boundMs("originRestartResumed"));
      expect(gapMs, "longest gap at the player (ms)").toBeLessThanOrEqual(boundMs("originRestartGap"));
      await watcher.stop();
      const vod = await wholeRecording(s, lastBefore);
      report("origin-kill-restart", {
        "outage (s)": 3,
        ...recoveryFigures(resumed.at - killedAt, gapMs, vod),
      });
    } finally {
      await watcher.stop();
    }
  }, 300_000);

  it("not restarted: the standby takes over on both sides, players continue, the recording has every segment", async () => {
    dir = mkdtempSync(path.join(tmpdir(), "cascade-fault-origin-"));
    edgePort = await freePort();
    const primary = await origin("primary", await freePort(), path.join(dir, "primary"));
    const standby = await origin("standby", await freePort(), path.join(dir, "standby"));
    const { s } = await startRecordedStream([primary, standby]);
    const watcher = new PlaylistWatcher(`${edge!.url}/hls/${s.id}/180p`).start();
    try {
      await waitFor("the player has 3 segments", async () => watcher.parts.filter((p) => p.part === 0).length >= 3, 30_000);
      const killedAt = Date.now();
      await primary.kill9();
      const lastBefore = watcher.parts.filter((p) => p.at <= killedAt).at(-1)!.msn;
      const resumed = await waitFor("media from the standby", async () => watcher.parts.find((p) => p.at > killedAt && p.msn > lastBefore) ?? null, 45_000);
      await waitFor("three more segments", async () => new Set(watcher.parts.filter((p) => p.at >= resumed.at).map((p) => p.msn)).size >= 3, 30_000);
      const gapMs = watcher.longestGapSince(killedAt - 1_000);
      expect(watcher.badParts).toEqual([]);
      expect(resumed.at - killedAt, "player resumed after the kill (ms)").toBeLessThanOrEqual(boundMs("originStandbyResumed"));
      expect(gapMs, "longest gap at the player (ms)").toBeLessThanOrEqual(boundMs("originStandbyGap"));
      // The standby holds the stream (the edge asked it, since the primary is gone).
      expect((await fetch(`${standby.url}/live/${s.id}/180p/index.m3u8`)).status).toBe(200);
      await watcher.stop();
      const vod = await wholeRecording(s, lastBefore);
      report("origin-kill-standby", {
        ...recoveryFigures(resumed.at - killedAt, gapMs, vod),
      });
    } finally {
      await watcher.stop();
    }
  }, 300_000);
});
