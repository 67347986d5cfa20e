import { DEFAULT_LADDER, parseLadderSpec, type Ladder } from "../shared/ladder.ts";
import { DEFAULT_THUMBNAIL_INTERVAL } from "../shared/thumbnail.ts";

/** Transcoder node configuration from the environment, with the local defaults `npm start` uses. */
export interface TranscoderConfig {
  nodeId: string;
  rtmpHost: string;
  rtmpPort: number;
  controlHost: string;
  controlPort: number;
  /** Ordered origin base URLs (first is primary). */
  origins: string[];
  nodeSecret: string;
  streamKeys: string | null;
  streamKeysFile: string | null;
  ladder: Ladder;
  partTarget: number;
  segmentDuration: number;
  graceMs: number;
  /**
   * A publishing connection that sends nothing for this long (a network drop that never closes the
   * socket, a frozen encoder) is dropped, which starts the reconnect grace period. Default 10 s:
   * shorter than the control plane's stall detection (3 monitor checks), so a silent publisher gets
   * the grace period rather than being ended as a stalled stream.
   */
  ingestTimeoutMs?: number;
  minSpeed: number;
  slowPeriodMs: number;
  /**
   * Control plane (an edge) base URL: when set, stream keys the local list does not know are checked
   * there (`POST /api/v1/ingest/authorize`), and the node registers and heartbeats its capacity.
   */
  controlPlaneUrl?: string | null;
  /** Streams this node offers to transcode at once (reported to the control plane). */
  slots?: number;
  /** Seconds between stream thumbnails (the first comes at once); 0 = none. Default 10. */
  thumbnailInterval?: number;
}

const num = (env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  return n;
};

export const transcoderConfigFromEnv = (env: Record<string, string | undefined> = process.env): TranscoderConfig => {
  const nodeSecret = env.CASCADE_NODE_SECRET ?? "";
  if (nodeSecret.length < 16) throw new Error("CASCADE_NODE_SECRET must be set (at least 16 characters)");
  const origins = (env.CASCADE_ORIGINS ?? "http://127.0.0.1:8080").split(",").map((s) => s.trim().replace(/\/+$/, "")).filter(Boolean);
  for (const o of origins) if (!/^https?:\/\/[^/]+$/.test(o)) throw new Error(`CASCADE_ORIGINS entry "${o}" must be an http(s) base URL`);
  const controlPlaneUrl = env.CASCADE_CONTROL_PLANE_URL ? env.CASCADE_CONTROL_PLANE_URL.trim().replace(/\/+$/, "") : null;
  if (controlPlaneUrl !== null && !/^https?:\/\/[^/\s]+$/.test(controlPlaneUrl)) throw new Error(`CASCADE_CONTROL_PLANE_URL "${controlPlaneUrl}" must be an http(s) base URL`);
  const thumbnailInterval = num(env, "CASCADE_THUMBNAIL_INTERVAL", DEFAULT_THUMBNAIL_INTERVAL, 0, 3600);
  if (thumbnailInterval > 0 && thumbnailInterval < 1) throw new Error(`CASCADE_THUMBNAIL_INTERVAL must be 0 (off) or at least 1 second, got "${thumbnailInterval}"`);
  return {
    nodeId: env.CASCADE_NODE_ID ?? "local-1",
    rtmpHost: env.CASCADE_RTMP_HOST ?? "0.0.0.0",
    rtmpPort: num(env, "CASCADE_RTMP_PORT", 1935, 0, 65535),
    controlHost: env.CASCADE_CONTROL_HOST ?? "127.0.0.1",
    controlPort: num(env, "CASCADE_CONTROL_PORT", 8090, 0, 65535),
    origins,
    nodeSecret,
    streamKeys: env.CASCADE_STREAM_KEYS ?? null,
    streamKeysFile: env.CASCADE_STREAM_KEYS_FILE ?? null,
    ladder: env.CASCADE_LADDER ? parseLadderSpec(env.CASCADE_LADDER) : DEFAULT_LADDER,
    partTarget: num(env, "CASCADE_PART_TARGET", 0.5, 0.2, 1),
    segmentDuration: num(env, "CASCADE_SEGMENT_DURATION", 2, 1, 10),
    graceMs: num(env, "CASCADE_RECONNECT_GRACE", 30, 0, 600) * 1000,
    ingestTimeoutMs: num(env, "CASCADE_INGEST_TIMEOUT", 10, 1, 600) * 1000,
    minSpeed: num(env, "CASCADE_MIN_SPEED", 0.95, 0, 100),
    slowPeriodMs: num(env, "CASCADE_SLOW_PERIOD", 10, 1, 600) * 1000,
    controlPlaneUrl,
    slots: num(env, "CASCADE_SLOTS", 4, 0, 1024),
    thumbnailInterval,
  };
};
