/**
 * The real transcoder node (`gpu-transcoder/main.ts`, as `npm run transcoder` and `npm start` run
 * it) in its own process group, configured from the environment: RTMP ingest and control API on
 * free loopback ports, pushing to one origin. It runs ffmpeg as its child, so the whole group is
 * tracked and killed if the benchmark dies.
 */
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import path from "node:path";
import { NODE_SECRET } from "./origin-process.ts";
import { OUT_DIR, TSX_EXEC_ARGV, freePort, spawnGroup, stopGroup, waitForHttp } from "./proc.ts";

export interface TranscoderOptions {
  label: string;
  originUrl: string;
  /** Stream id → RTMP stream key. */
  streamKeys: Record<string, string>;
  /** CASCADE_PART_TARGET, seconds. */
  partTarget: number;
  /** CASCADE_LADDER (`name:WxH@fps:kbps[:profile]`, comma separated). */
  ladder: string;
  /** More environment for the node (e.g. CASCADE_CONTROL_PLANE_URL, CASCADE_NODE_ID), applied last. */
  env?: Record<string, string>;
}

export interface StreamStatus {
  id: string;
  state: string;
  speed: number;
  renditions: string[];
}

export interface RunningTranscoder {
  /** `rtmp://127.0.0.1:<port>/live` — append `/<stream key>`. */
  rtmpUrl: string;
  controlUrl: string;
  logFile: string;
  pgid: number;
  /** The node's process (leader of its group). */
  child: ChildProcess;
  /** The control API's /streams (speed is ffmpeg's instantaneous encoding speed, 1 = real time). */
  streams(): Promise<StreamStatus[]>;
  /** `cascade_transcoder_events_total` by event type, from /metrics. */
  eventCounts(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

export const startTranscoder = async (o: TranscoderOptions): Promise<RunningTranscoder> => {
  const [rtmpPort, controlPort] = [await freePort(), await freePort()];
  const logFile = path.join(OUT_DIR, `${o.label}.log`);
  const fd = openSync(logFile, "w");
  const child = spawnGroup(process.execPath, [...TSX_EXEC_ARGV, "gpu-transcoder/main.ts"], {
    env: {
      ...process.env,
      CASCADE_NODE_SECRET: NODE_SECRET,
      CASCADE_NODE_ID: "bench-node",
      CASCADE_ORIGINS: o.originUrl,
      CASCADE_STREAM_KEYS: Object.entries(o.streamKeys)
        .map(([id, key]) => `${id}=${key}`)
        .join(","),
      CASCADE_RTMP_HOST: "127.0.0.1",
      CASCADE_RTMP_PORT: String(rtmpPort),
      CASCADE_CONTROL_HOST: "127.0.0.1",
      CASCADE_CONTROL_PORT: String(controlPort),
      CASCADE_PART_TARGET: String(o.partTarget),
      CASCADE_LADDER: o.ladder,
      ...o.env,
    },
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  try {
    await waitForHttp(`${controlUrl}/healthz`, child, 60_000);
  } catch (err) {
    await stopGroup(child, "SIGKILL", 1000);
    throw new Error(`the transcoder did not start (see ${logFile}): ${(err as Error).message}`);
  }
  return {
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    controlUrl,
    logFile,
    pgid: child.pid!,
    child,
    async streams() {
      return (await (await fetch(`${controlUrl}/streams`)).json()) as StreamStatus[];
    },
    async eventCounts() {
      const text = await (await fetch(`${controlUrl}/metrics`)).text();
      const counts: Record<string, number> = {};
      for (const m of text.matchAll(/^cascade_transcoder_events_total\{type="([^"]+)"\} (\S+)$/gm)) counts[m[1]!] = Number(m[2]);
      return counts;
    },
    // SIGTERM: the node closes its streams (ENDLIST pushed to the origin) and exits; its ffmpeg goes with it.
    stop: () => stopGroup(child, "SIGTERM", 10_000),
  };
};
