/** Public types of the RTMP ingest. Kept apart so consumers can import them without the server. */
import type { EventEmitter } from "node:events";

export type AuthResult = { ok: true; streamId: string } | { ok: false; reason: string };

/**
 * Decides whether a stream key may publish, and as which stream. Async because it will become a
 * control-plane call; the publisher is held (no `NetStream.Publish.Start`) until it answers.
 */
export interface PublishAuthorizer {
  authorize(req: { app: string; key: string; remoteAddress: string }): Promise<AuthResult>;
}

export interface FlvTag {
  type: 8 | 9 | 18;
  /** RTMP timestamp in ms (32-bit, as the publisher sent it). */
  timestamp: number;
  /** FLV tag body, i.e. the RTMP message payload (for 18: starting at `onMetaData`, no `@setDataFrame`). */
  data: Buffer;
  /** Date.now() when the message completed, for glass-to-glass latency accounting. */
  arrivalMs: number;
}

export interface PublishSessionEvents {
  tag: [tag: FlvTag];
  close: [reason: string];
}

export interface PublishSession extends EventEmitter<PublishSessionEvents> {
  readonly id: string;
  readonly streamId: string;
  readonly app: string;
  readonly remoteAddress: string;
  readonly startedAt: number;
  readonly metadata: { width?: number; height?: number; fps?: number };
  /** Ends the publish: the socket is closed and "close" is emitted (once) with the reason. */
  close(reason?: string): void;
  bytesReceived: number;
}

export interface IngestLogger {
  info(o: object, msg?: string): void;
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}

export interface RtmpServerOptions {
  host: string;
  /** 0 picks a free port; `listen()` reports the real one. */
  port: number;
  authorize: PublishAuthorizer;
  logger: IngestLogger;
  onPublish: (session: PublishSession) => void;
  /** Application names (the first URL path segment) accepted at `connect`. Default `["live"]`. */
  apps?: string[];
  /** A connection that has not started publishing by then is dropped. Default 15 s. */
  idleTimeoutMs?: number;
  /** A publishing connection silent for this long is dropped. Default 10 s. */
  mediaTimeoutMs?: number;
  /** An authorizer slower than this counts as a refusal. Default 10 s. */
  authorizeTimeoutMs?: number;
  /** Concurrent TCP connections accepted. Default 1000. */
  maxConnections?: number;
}

export interface RtmpServer {
  listen(): Promise<{ port: number }>;
  close(): Promise<void>;
  sessions(): PublishSession[];
}
