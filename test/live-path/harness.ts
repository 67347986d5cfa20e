import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { LocalKeyList } from "../../gpu-transcoder/auth/local-keys.ts";
import { probeFfmpeg } from "../../gpu-transcoder/ffmpeg/probe.ts";
import { createTranscoderNode, type TranscoderNode } from "../../gpu-transcoder/node.ts";
import { parseLadderSpec } from "../../shared/ladder.ts";
import { parseMediaPlaylist, type ParsedMediaPlaylist } from "../../shared/hls/index.ts";
import { demoPublisherArgs } from "../../scripts/demo-publisher.ts";

export const NODE_SECRET = "integration-test-secret-0123456789";
export const STREAM_KEY = "it-key-0123456789";

export interface LiveStack {
  origin: Origin;
  node: TranscoderNode;
  originUrl: string;
  rtmpUrl: string;
  storageDir: string;
  close(): Promise<void>;
}

/**
 * A real origin and a real transcoder node on free loopback ports, with a 320x180 + 160x90 test
 * ladder; `ffmpegPath` runs the transcoder on that binary (its FFMPEG_PATH) instead of the one found.
 */
export const startStack = async (opts: { graceSeconds: number; ffmpegPath?: string }): Promise<LiveStack> => {
  const storageDir = mkdtempSync(path.join(tmpdir(), "cascade-it-"));
  const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
  const origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: NODE_SECRET, storageDir, memorySegments: 8, playlistSegments: 15, logger });
  const { port: originPort } = await origin.listen();
  const originUrl = `http://127.0.0.1:${originPort}`;
  const node = await createTranscoderNode({
    nodeId: "it-node",
    rtmpHost: "127.0.0.1",
    rtmpPort: 0,
    controlHost: "127.0.0.1",
    controlPort: 0,
    origins: [originUrl],
    nodeSecret: NODE_SECRET,
    streamKeys: null,
    streamKeysFile: null,
    authorizer: new LocalKeyList({ it: STREAM_KEY }),
    ladder: parseLadderSpec("180p:320x180@30:400:main,90p:160x90@30:150:baseline"),
    partTarget: 0.5,
    segmentDuration: 2,
    graceMs: opts.graceSeconds * 1000,
    // CI machines are slow and shared: never drop rungs in these tests.
    minSpeed: 0,
    slowPeriodMs: 600_000,
    logger,
    ...(opts.ffmpegPath ? { caps: await probeFfmpeg({ ...process.env, FFMPEG_PATH: opts.ffmpegPath }) } : {}),
  });
  const { rtmpPort } = await node.listen();
  return {
    origin,
    node,
    originUrl,
    rtmpUrl: `rtmp://127.0.0.1:${rtmpPort}/live`,
    storageDir,
    async close() {
      await node.close();
      await origin.close();
      rmSync(storageDir, { recursive: true, force: true });
    },
  };
};

/** Publishes the demo pattern (320x180) with ffmpeg at real time. */
export const publish = (rtmpUrl: string, key: string, seconds?: number): ChildProcess =>
  spawn("ffmpeg", demoPublisherArgs(`${rtmpUrl}/${key}`, { width: 320, height: 180, fps: 30, ...(seconds ? { durationSeconds: seconds } : {}) }), {
    stdio: ["ignore", "ignore", "pipe"],
  });

export const exited = (child: ChildProcess): Promise<number | null> =>
  // A child killed by a signal keeps exitCode null: check signalCode too, or this would wait forever.
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const getPlaylist = async (url: string): Promise<{ status: number; text: string; playlist: ParsedMediaPlaylist | null; res: Response }> => {
  const res = await fetch(url);
  const text = await res.text();
  return { status: res.status, text, playlist: res.ok ? parseMediaPlaylist(text) : null, res };
};

/** Polls until `check` returns a value (or throws after `timeoutMs`). */
export const waitFor = async <T>(what: string, check: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => null);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
};

export const ffprobeFrames = (file: string): Promise<{ code: number | null; out: string }> =>
  new Promise((resolve) => {
    const p = spawn("ffprobe", ["-v", "error", "-count_frames", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", file]);
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.on("close", (code) => resolve({ code, out }));
  });
