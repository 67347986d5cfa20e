import { EventEmitter } from "node:events";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StreamEvent } from "../../shared/events.ts";
import { DEFAULT_LADDER } from "../../shared/ladder.ts";
import type { FfmpegCapabilities } from "../ffmpeg/probe.ts";
import type { FlvTag, PublishSession, PublishSessionEvents } from "../ingest/types.ts";
import { PushClient } from "../push/push-client.ts";
import type { RestartPolicyOptions } from "./restart-policy.ts";
import { StreamPipeline } from "./stream-pipeline.ts";

let dir = "";
let fakeFfmpeg = "";
let spawnLog = "";
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "cascade-restarts-"));
  spawnLog = path.join(dir, "spawns");
  fakeFfmpeg = path.join(dir, "ffmpeg");
  // A real process that refuses its arguments the way ffmpeg 4.x refuses force_divisible_by, at once.
  await writeFile(
    fakeFfmpeg,
    `#!/bin/sh
date +%s%3N >> "${spawnLog}"
echo "[Parsed_scale_2 @ 0x55d0c8a0] Option 'force_divisible_by' not found" >&2
echo "Error initializing complex filters." >&2
exit 1
`,
    { mode: 0o755 },
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A publisher as the RTMP ingest hands it over: AVC and AAC headers, then a keyframe every 100 ms. */
class FakePublisher extends EventEmitter<PublishSessionEvents> implements PublishSession {
  readonly id = "session-1";
  readonly app = "live";
  readonly remoteAddress = "127.0.0.1:50000";
  readonly startedAt = Date.now();
  readonly metadata = {};
  bytesReceived = 0;
  closedWith: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly streamId: string) {
    super();
  }

  start(): void {
    const tag = (type: 8 | 9, bytes: number[], timestamp: number): FlvTag => ({ type, timestamp, data: Buffer.from(bytes), arrivalMs: Date.now() });
    this.emit("tag", tag(9, [0x17, 0x00, 0, 0, 0, 1, 0x64, 0, 0x1f], 0));
    this.emit("tag", tag(8, [0xaf, 0x00, 0x11, 0x90], 0));
    let ts = 0;
    this.timer = setInterval(() => {
      ts += 100;
      this.emit("tag", tag(9, [0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65], ts));
      this.emit("tag", tag(8, [0xaf, 0x01, 0x21], ts));
    }, 100);
  }

  close(reason = "closed"): void {
    if (this.closedWith !== null) return;
    this.closedWith = reason;
    if (this.timer) clearInterval(this.timer);
    this.emit("close", reason);
  }
}

const caps = (bin: string): FfmpegCapabilities => ({
  path: bin,
  source: "FFMPEG_PATH",
  version: "fake",
  encoders: new Set(["libx264"]),
  movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe"]),
  statsPeriod: false,
  h264Encoder: "libx264",
  encoderReasons: [],
});

/** Publishes into a pipeline whose ffmpeg exits at once; resolves when the pipeline gives up. */
const publishIntoFailingEncoder = async (restartPolicy?: Partial<RestartPolicyOptions>) => {
  await writeFile(spawnLog, "");
  const events: StreamEvent[] = [];
  const log = pino({ level: "silent" });
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  const pipeline = new StreamPipeline({
    streamId: "s1",
    caps: caps(fakeFfmpeg),
    ladder: DEFAULT_LADDER,
    partTarget: 0.5,
    segmentDuration: 2,
    push: new PushClient({ streamId: "s1", origins: ["http://127.0.0.1:9"], token: "unused", logger: log }),
    log,
    graceMs: 30_000,
    realtime: { minSpeed: 0.9, slowPeriodMs: 10_000 },
    onEvent: (e) => events.push(e),
    onEnded: () => ended(),
    thumbnailInterval: 0,
    ...(restartPolicy ? { restartPolicy } : {}),
  });
  const publisher = new FakePublisher("s1");
  pipeline.attach(publisher);
  const started = Date.now();
  publisher.start();
  await endedP;
  const spawns = (await readFile(spawnLog, "utf8")).trim().split("\n").map(Number);
  return { pipeline, publisher, events, spawns, ms: Date.now() - started };
};

describe("encoder restarts: exponential backoff, then a failed stream", () => {
  it("the defaults: four restarts 0.5, 1, 2 and 4 s apart, then `failed` with ffmpeg's words, the publisher let go", async () => {
    const { pipeline, publisher, events, spawns, ms } = await publishIntoFailingEncoder();
    expect(spawns).toHaveLength(5);
    const gaps = spawns.slice(1).map((t, i) => t - spawns[i]!);
    // Each gap is the backoff plus the wait for the next keyframe (every 100 ms) and the spawn.
    [500, 1000, 2000, 4000].forEach((delay, i) => {
      expect(gaps[i]!, `gap ${i}: ${gaps.join(", ")}`).toBeGreaterThanOrEqual(delay);
      expect(gaps[i]!, `gap ${i}: ${gaps.join(", ")}`).toBeLessThan(delay + 1500);
    });
    expect(ms).toBeLessThan(15_000);
    const errors = events.filter((e) => e.type === "error");
    expect(errors.map((e) => [e.data.reason, e.data.restarts, e.data.restartInMs])).toEqual([
      ["encoder exited", 1, 500],
      ["encoder exited", 2, 1000],
      ["encoder exited", 3, 2000],
      ["encoder exited", 4, 4000],
    ]);
    const failed = events.filter((e) => e.type === "stream_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ streamId: "s1", severity: "error", data: { code: 1, quickFailures: 5, restarts: 4 } });
    expect(failed[0]!.data.reason).toBe(
      "ffmpeg exited 5 times in a row within 10 s of starting (last: code 1): [Parsed_scale_2] Option 'force_divisible_by' not found / Error initializing complex filters.",
    );
    expect(String(failed[0]!.data.stderr)).toContain("force_divisible_by");
    expect(events.map((e) => e.type)).not.toContain("stream_ended");
    expect(pipeline.state).toBe("failed");
    expect(pipeline.finished).toBe(true);
    expect(publisher.closedWith).toBe("encoder failed");
    expect(() => pipeline.attach(new FakePublisher("s1"))).toThrow(/failed/);
  });

  it("no restart while the backoff runs, whatever keyframes arrive; the cap holds the delay", async () => {
    const { events, spawns } = await publishIntoFailingEncoder({ baseMs: 300, maxMs: 400, maxQuickFailures: 4 });
    const gaps = spawns.slice(1).map((t, i) => t - spawns[i]!);
    expect(events.filter((e) => e.type === "error").map((e) => e.data.restartInMs)).toEqual([300, 400, 400]);
    for (const [i, delay] of [300, 400, 400].entries()) expect(gaps[i]!, gaps.join(", ")).toBeGreaterThanOrEqual(delay);
    expect(events.at(-1)?.type).toBe("stream_failed");
  });
});
