/**
 * kill -9 of the transcoder node mid-stream, with a second node registered. The publisher (ffmpeg,
 * as OBS with auto-reconnect) loses its connection and reconnects to the ingest address, which now
 * reaches the second node; the go-live saga moves the stream there (RETRY_WITH_ALTERNATE), the node
 * continues the origin's playlists at the next MSN with EXT-X-DISCONTINUITY, and a player following
 * the edge keeps going. The gap is reported.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EdgeProcess } from "../../scripts/edge-process.ts";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { exited, publish } from "../live-path/harness.ts";
import { boundMs } from "./documented-figures.ts";
import {
  createStreamer,
  decodableFrames,
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
} from "./harness.ts";

let dir: string;
let origin: OriginService;
let edge: EdgeProcess;
let nodeA: NodeService;
let nodeB: NodeService;
const publishers: ChildProcess[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "cascade-fault-node-"));
  origin = await startOriginService({ label: "origin", port: await freePort(), storageDir: path.join(dir, "store"), dir });
  edge = await startControlEdge({ dir, originUrl: origin.url });
  [nodeA, nodeB] = await Promise.all([
    startNodeService({ nodeId: "node-a", origins: [origin.url], controlPlaneUrl: edge.url, dir }),
    startNodeService({ nodeId: "node-b", origins: [origin.url], controlPlaneUrl: edge.url, dir }),
  ]);
  // Both register with the control plane on their first heartbeat.
  await sleep(2_000);
}, 180_000);

afterAll(async () => {
  for (const p of publishers) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
  await Promise.all([nodeA?.stop(), nodeB?.stop()]);
  await edge?.stop();
  await origin?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("fault: the transcoder node dies (kill -9) with a second node registered", () => {
  it("the stream resumes on the other node; the player continues after a discontinuity", async () => {
    const s = await createStreamer(edge.url);
    const saga = async () => (await s.api<{ phase: string; node_id: string | null }>("GET", `/api/v1/streams/${s.id}/saga`, undefined, s.token)).body;
    publishers.push(publish(nodeA.rtmpUrl, s.key));
    await waitFor("live on node-a", async () => {
      const st = await saga();
      return st.phase === "live" && st.node_id === "node-a";
    }, 90_000);
    const watcher = new PlaylistWatcher(`${edge.url}/hls/${s.id}/180p`).start();
    try {
      await waitFor("the player has 3 segments", async () => watcher.parts.filter((p) => p.part === 0).length >= 3, 30_000);
      const lastBefore = watcher.lastMsn;

      const killedAt = Date.now();
      await nodeA.kill9();
      const first = publishers[0]!;
      // The publisher sees its connection drop; OBS would reconnect after a moment.
      await Promise.race([exited(first), sleep(10_000)]);
      if (first.exitCode === null && first.signalCode === null) first.kill("SIGKILL");
      await sleep(1_000);
      publishers.push(publish(nodeB.rtmpUrl, s.key));

      const moved = await waitFor("the saga on node-b", async () => {
        const st = await saga();
        return st.node_id === "node-b" ? st : null;
      }, 30_000);
      expect(moved.phase).toBe("live");
      const resumed = await waitFor("new media after the failover", async () => watcher.parts.find((p) => p.msn > lastBefore + 1 && p.at > killedAt) ?? null, 30_000);
      // A few more segments, so the player is seen to go on, not just to get one part.
      await waitFor("two segments from node-b", async () => new Set(watcher.parts.filter((p) => p.at > resumed.at).map((p) => p.msn)).size >= 3, 30_000);
      const gapMs = watcher.longestGapSince(killedAt - 1_000);
      // The fault table's figures (test/faults/documented-figures.ts).
      expect(resumed.at - killedAt, "new media at the player after the kill (ms)").toBeLessThanOrEqual(boundMs("transcoderKillResumed"));
      expect(gapMs, "longest gap at the player (ms)").toBeLessThanOrEqual(boundMs("transcoderKillGap"));

      const events = await s.api<{ events: Array<{ event_type: string; message: string }> }>("GET", `/api/v1/streams/${s.id}/events`, undefined, s.token);
      expect(events.body.events.map((e) => e.message)).toContainEqual(expect.stringMatching(/^RETRY_WITH_ALTERNATE: publisher reconnected through node node-b/));
      expect((await s.api<{ status: string }>("GET", `/api/v1/streams/${s.id}`)).body.status).toBe("live");

      // The playlist through the edge: the new run is marked, numbering only grows, no ENDLIST.
      const text = await (await fetch(`${edge.url}/hls/${s.id}/180p/index.m3u8`)).text();
      const pl = parseMediaPlaylist(text);
      expect(pl.endList).toBe(false);
      const msns = pl.segments.map((x) => x.msn);
      expect(msns).toEqual([...msns].sort((a, b) => a - b));
      const firstNew = pl.segments.find((x) => x.msn > lastBefore && x.discontinuity);
      expect(firstNew, text).toBeDefined();
      expect(watcher.badParts).toEqual([]);
      // A player decodes node-b's first complete segment with node-b's init.
      const complete = pl.segments.find((x) => x.msn >= firstNew!.msn && x.uri);
      expect(complete, text).toBeDefined();
      const frames = await decodableFrames(`${edge.url}/hls/${s.id}/180p`, complete!.map ?? "init0.mp4", complete!.uri!, dir);
      expect(frames).toBeGreaterThan(30);

      report("transcoder-kill", {
        "resumed after (s)": ((resumed.at - killedAt) / 1000).toFixed(1),
        "player gap (s)": (gapMs / 1000).toFixed(1),
        discontinuity: true,
        "new node": "node-b",
        "decoded frames of its first segment": frames,
      });
    } finally {
      await watcher.stop();
    }
  }, 240_000);
});
