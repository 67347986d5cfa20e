/**
 * Everything the go-live saga does outside its own storage and D1: node control calls, edge
 * prewarm/purge, the end-to-end probe, monitoring reads and the hooks owned by other issues. The
 * StreamControl object gets them from a `SagaDepsFactory`: the real ones from its bindings
 * (`realSagaDeps`), or, in the workerd tests, the fakes their entry (test/support/) hands it.
 */
import { parseMediaPlaylist, parseMultivariantPlaylist } from "../../../shared/hls/parse.ts";
import { signNodeToken } from "../../../shared/tokens.ts";
import { notifyFollowers } from "../../notifications/notify-seam.ts";
import { announceStream } from "../chat-room/client.ts";
import { streamOptions } from "../../recordings/stream-options.ts";
import { archiveVod } from "../../recordings/archive-vod.ts";
import { requireDb } from "../../db/database.ts";
import { EDGE_DEFAULTS, edgeConfig, type EdgeConfig } from "../../config.ts";

export const SAGA_STEPS = ["validate_event", "reserve_capacity", "configure_encoders", "warmup_cdn", "go_live"] as const;
export type SagaStep = (typeof SAGA_STEPS)[number];
/** Named stages after the pivot, for fault injection and the step history. */
export type SagaStage = SagaStep | "monitor_stream" | "archive_vod" | `compensate:${SagaStep}`;

export interface NodeTarget {
  id: string;
  controlUrl: string | null;
}

/** How far a rendition's playlist has got: the newest segment and its last part. */
export interface PlaylistProgress {
  msn: number;
  parts: number;
}

export interface SagaTiming {
  /** Wait between tries of a step that is not ready yet (warmup_cdn waits for the first parts). */
  retryMs: number;
  /** warmup_cdn gives up (and the saga compensates) after this long. */
  warmupTimeoutMs: number;
  /** Period of monitor_stream once live. */
  monitorMs: number;
  /** Consecutive monitor checks without a new part (publisher still connected) before MANUAL_INTERVENTION. */
  stallChecks: number;
  /** `reconnecting` lasts this long before the stream ends. */
  graceMs: number;
  /** A compensation that keeps failing is retried this many times, then recorded and passed. */
  compensationAttempts: number;
}

export interface SagaDeps {
  timing: SagaTiming;
  /** Edge base URLs to prewarm (EDGE_URLS); empty: no edge is prewarmed and the probe reads the origin. */
  edgeUrls: string[];
  /** Fault injection: runs before every stage; a throw fails that stage. No-op outside tests. */
  beforeStage(stage: SagaStage, streamId: string): Promise<void>;
  /** configure_encoders: tell the node to expect (and accept) the stream. */
  configureNode(node: NodeTarget, streamId: string): Promise<void>;
  /** Compensation of configure_encoders, and stop/MANUAL_INTERVENTION: end the node's pipeline (ENDLIST). */
  stopNodeStream(node: NodeTarget, streamId: string, reason: string): Promise<void>;
  prewarmEdge(edgeUrl: string, streamId: string): Promise<void>;
  purgeEdge(edgeUrl: string, streamId: string): Promise<void>;
  /** The end-to-end probe: true once a part of the stream came back through an edge (or the origin). */
  probePart(streamId: string): Promise<boolean>;
  /** warmup_cdn: tells the stream's chat room (every shard) that the stream is going live. */
  openChatRoom(streamId: string): Promise<void>;
  /** After the stream ended: tells its chat room (best effort; chat stays readable). */
  closeChatRoom(streamId: string): Promise<void>;
  /** go_live: follower fan-out (edge/notifications/notify-seam.ts). */
  notifyFollowers(streamId: string): Promise<void>;
  /** archive_vod hook: the stream's recording is finalised (VOD playlists in R2, poster; edge/recordings/archive-vod.ts). Throws while it must be retried. */
  archiveVod(streamId: string): Promise<void>;
  /** monitor_stream: the top rendition's progress, or null when it cannot be read. */
  playlistProgress(streamId: string): Promise<PlaylistProgress | null>;
  originHealthy(): Promise<boolean>;
}

export const DEFAULT_TIMING = {
  retryMs: 500,
  warmupTimeoutMs: EDGE_DEFAULTS.sagaWarmupTimeoutS * 1000,
  monitorMs: EDGE_DEFAULTS.sagaMonitorIntervalS * 1000,
  stallChecks: 3,
  graceMs: EDGE_DEFAULTS.reconnectGraceS * 1000,
  compensationAttempts: 5,
} satisfies SagaTiming;

const TIMEOUT_MS = 5_000;

const expectOk = async (what: string, res: Response): Promise<void> => {
  if (res.ok) return;
  const text = await res.text().catch(() => "");
  throw new Error(`${what} answered ${res.status}${text ? `: ${text.slice(0, 200)}` : ""}`);
};

/** Where playlists and parts of a stream are read from: the first edge, else the origin. */
const streamBase = (config: EdgeConfig, streamId: string): string =>
  config.edgeUrls[0] ? `${config.edgeUrls[0]}/hls/${streamId}/` : `${config.primaryOrigin}/live/${streamId}/`;

const getText = async (url: string, fetcher: typeof fetch): Promise<string | null> => {
  const res = await fetcher(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  if (res.status !== 200) {
    await res.body?.cancel();
    return null;
  }
  return res.text();
};

/** The first (top) variant's media playlist URL, or null while the stream has none. */
const topPlaylist = async (base: string, fetcher: typeof fetch): Promise<string | null> => {
  const master = await getText(`${base}master.m3u8`, fetcher);
  if (master === null) return null;
  const variant = parseMultivariantPlaylist(master).variants[0];
  return variant ? new URL(variant.uri, base).toString() : null;
};

/** The real dependencies, from the Worker's bindings. */
export const defaultSagaDeps = (env: Env, fetcher: typeof fetch = (input, init) => fetch(input, init)): SagaDeps => {
  const config = edgeConfig(env);
  const nodeCall = async (node: NodeTarget, streamId: string, action: "expect" | "stop", body: Record<string, unknown>) => {
    if (!node.controlUrl) throw new Error(`node ${node.id} has no control URL`);
    const secret = config.nodeSecret;
    if (secret.length < 16) throw new Error("NODE_SECRET is not configured");
    const res = await fetcher(`${node.controlUrl.replace(/\/+$/, "")}/control/streams/${streamId}/${action}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await signNodeToken(secret, node.id)}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await expectOk(`node ${node.id} ${action}`, res);
  };
  const edgeCall = async (edgeUrl: string, action: "prewarm" | "purge", streamId: string) => {
    const token = config.adminToken;
    if (!token) throw new Error("EDGE_ADMIN_TOKEN is not configured");
    const res = await fetcher(`${edgeUrl}/api/v1/edge/${action}/${streamId}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(TIMEOUT_MS * 2),
    });
    await expectOk(`${action} on ${edgeUrl}`, res);
  };
  return {
    timing: {
      ...DEFAULT_TIMING,
      ...config.saga,
    },
    edgeUrls: config.edgeUrls,
    beforeStage: async () => {},
    // The node learns the stream's DVR window and recording id here and hands them to the origin.
    configureNode: async (node, streamId) => nodeCall(node, streamId, "expect", { ...(await streamOptions(requireDb(env), streamId)) }),
    stopNodeStream: (node, streamId, reason) => nodeCall(node, streamId, "stop", { reason }),
    prewarmEdge: (edgeUrl, streamId) => edgeCall(edgeUrl, "prewarm", streamId),
    purgeEdge: (edgeUrl, streamId) => edgeCall(edgeUrl, "purge", streamId),
    probePart: async (streamId) => {
      const base = streamBase(config, streamId);
      const playlistUrl = await topPlaylist(base, fetcher);
      if (!playlistUrl) return false;
      const text = await getText(playlistUrl, fetcher);
      if (text === null) return false;
      const segments = parseMediaPlaylist(text).segments;
      const part = segments.flatMap((s) => s.parts).at(-1) ?? null;
      const uri = part?.uri ?? segments.at(-1)?.uri;
      if (!uri) return false;
      const res = await fetcher(new URL(uri, playlistUrl).toString(), { signal: AbortSignal.timeout(TIMEOUT_MS) });
      const bytes = res.status === 200 ? (await res.arrayBuffer()).byteLength : (await res.body?.cancel(), 0);
      return bytes > 0;
    },
    openChatRoom: (streamId) => announceStream(env, streamId, "stream_live"),
    closeChatRoom: (streamId) => announceStream(env, streamId, "stream_ended"),
    notifyFollowers: (streamId) => notifyFollowers(env, streamId),
    archiveVod: (streamId) => archiveVod(env, streamId, { fetch: (req) => fetcher(req), timing: { waitMs: config.recordingArchiveWaitMs } }),
    playlistProgress: async (streamId) => {
      const base = streamBase(config, streamId);
      const playlistUrl = await topPlaylist(base, fetcher);
      const text = playlistUrl ? await getText(playlistUrl, fetcher) : null;
      if (text === null) return null;
      const playlist = parseMediaPlaylist(text);
      const last = playlist.segments.at(-1);
      if (!last) return { msn: playlist.mediaSequence, parts: 0 };
      return { msn: last.msn, parts: last.parts.length };
    },
    originHealthy: async () => {
      try {
        const res = await fetcher(`${config.primaryOrigin}/healthz`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        await res.body?.cancel();
        return res.ok;
      } catch {
        return false;
      }
    },
  };
};

/** Builds the dependencies of one stream's saga. */
export type SagaDepsFactory = (env: Env, streamId: string) => SagaDeps;

/** The real dependencies, whatever the stream. */
export const realSagaDeps: SagaDepsFactory = (env) => defaultSagaDeps(env);
