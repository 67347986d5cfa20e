/**
 * The whole local system for end-to-end tests: a real origin and transcoder (in this process, on
 * free ports), N edge Workers in workerd (`wrangler dev`, as `npm start` runs them) in front of the
 * origin, and the demo publisher at 320x180 so it fits a 2-core CI machine.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { exited, publish, startStack as startLiveStack, STREAM_KEY, waitFor, type LiveStack } from "../live-path/harness.ts";

export const EDGE_ADMIN_TOKEN = "edge-admin-token-e2e-0123456789";
const ROOT = path.resolve(import.meta.dirname, "../..");

export interface EdgeStack {
  live: LiveStack;
  edges: EdgeProcess[];
  /** The first edge's base URL. */
  edgeUrl: string;
  /** The stream id the demo publisher publishes to. */
  streamId: string;
  publisher: ChildProcess | null;
  stop(): Promise<void>;
}

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });

/** Starts origin + transcoder + edges, then (unless `publish: false`) the demo publisher as stream `it`. */
export const startStack = async (opts: { edges?: number; publish?: boolean; graceSeconds?: number; ffmpegPath?: string } = {}): Promise<EdgeStack> => {
  const live = await startLiveStack({ graceSeconds: opts.graceSeconds ?? 5, ...(opts.ffmpegPath ? { ffmpegPath: opts.ffmpegPath } : {}) });
  const stateDir = mkdtempSync(path.join(tmpdir(), "cascade-edge-"));
  const edges: EdgeProcess[] = [];
  try {
    // As npm start does: the playlist routes read a stream's visibility from D1 (edge-1's; edges
    // 2..N have their own local D1 here, also migrated, and no rows: public).
    await Promise.all(Array.from({ length: opts.edges ?? 1 }, (_, i) => applyEdgeMigrations({ index: i + 1, stateDir, root: ROOT })));
    for (let i = 1; i <= (opts.edges ?? 1); i++) {
      edges.push(startEdgeProcess({ index: i, port: await freePort(), originUrl: live.originUrl, adminToken: EDGE_ADMIN_TOKEN, stateDir, root: ROOT }));
    }
    await Promise.all(edges.map((e) => e.ready()));
  } catch (err) {
    await Promise.all(edges.map((e) => e.stop()));
    await live.close();
    throw err;
  }
  const publisher = opts.publish === false ? null : publish(live.rtmpUrl, STREAM_KEY);
  return {
    live,
    edges,
    edgeUrl: edges[0]!.url,
    streamId: "it",
    publisher,
    async stop() {
      if (publisher && publisher.exitCode === null) {
        publisher.kill("SIGTERM");
        await exited(publisher);
      }
      await Promise.all(edges.map((e) => e.stop()));
      await live.close();
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
};

/** Resolves once the first edge serves the test stream's 180p playlist with two segments or more (60 s at most). */
export const edgeServesStream = (stack: EdgeStack): Promise<unknown> =>
  waitFor(
    "the stream through the edge",
    async () => {
      const res = await fetch(`${stack.edgeUrl}/hls/it/180p/index.m3u8`);
      return res.ok && parseMediaPlaylist(await res.text()).segments.length >= 2;
    },
    60_000,
  );
