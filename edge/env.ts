/** Bindings the edge Worker reads (wrangler.toml `[vars]`, secrets, `--var` / `--env-file` locally). */
export interface EdgeEnv {
  /** Base URL of the core-origin shield, e.g. `http://127.0.0.1:8080` locally. */
  ORIGIN_URL: string;
  /** Names this edge in reports and logs (`edge-1` …); optional. */
  EDGE_ID?: string;
  /** Bearer token for the control plane's edge endpoints (prewarm). Unset: those endpoints answer 503. */
  EDGE_ADMIN_TOKEN?: string;
  /** Target duration assumed for a stream before the edge has seen one of its media playlists (seconds). */
  DEFAULT_TARGET_DURATION?: string;
  /** MiB of isolate memory for hot media (not playlists) in front of the Cache API (default 32, max 96; "0": off). */
  EDGE_MEMORY_CACHE_MB?: string;
  /** The control plane's database (users, streams, categories, follows, nodes …). */
  DB?: D1Database;
  /** HS256 secret for user tokens (secret). Unset: the accounts and streams API answers 503. */
  JWT_SECRET?: string;
  /**
   * HMAC key for signed playback URLs of private streams (secret, at least 32 characters). Unset: a
   * key derived from JWT_SECRET under its own label (edge/streams/playback-keys.ts), so every edge
   * sharing JWT_SECRET verifies the same URLs with no extra configuration.
   */
  PLAYBACK_SECRET?: string;
  /** The node secret shared with transcoders and the origin (secret): verifies node tokens. */
  NODE_SECRET?: string;
  /** RTMP ingest base URL handed to streamers (`rtmp://127.0.0.1:1935/live` by default). */
  INGEST_RTMP_URL?: string;
  /**
   * Where `/api/v1/*` control-plane routes are served when not by this edge. Unset in production
   * (D1 is global); locally `npm start --edges N` points edges 2..N at edge-1.
   */
  CONTROL_PLANE_URL?: string;
  /** Rate limits as `<count>/<seconds>`: failed logins per username, failed key checks per stream. */
  LOGIN_RATE_LIMIT?: string;
  KEY_CHECK_RATE_LIMIT?: string;
  /** One StreamControl Durable Object per stream: lifecycle and the go-live saga (edge/do/stream-control.ts). */
  STREAM_CONTROL?: DurableObjectNamespace<import("./do/stream-control.ts").StreamControl>;
  /** One ChatRoom Durable Object per stream: chat over hibernatable WebSockets (edge/chat/chat-room.ts). */
  CHAT_ROOM?: DurableObjectNamespace<import("./chat/chat-room.ts").ChatRoom>;
  /** Shards per chat room (default 1): sockets are spread over that many ChatRoom objects by user, messages relayed between them. */
  CHAT_SHARDS?: string;
  /** Coalescing window for chat broadcasts, in ms (default 50; 0 sends every frame at once). */
  CHAT_COALESCE_MS?: string;
  /** One ViewerCounter Durable Object per stream: distinct sessions in the last 60 s and the peak (edge/viewers/). */
  VIEWER_COUNTER?: DurableObjectNamespace<import("./viewers/viewer-counter.ts").ViewerCounter>;
  /** Seconds between an isolate's flushes of aggregated heartbeats to a stream's counter (default 5). */
  VIEWER_FLUSH_INTERVAL_S?: string;
  /** Recordings (R2): archived inits/segments, VOD playlists and posters under `recordings/<id>/` (edge/recordings/). */
  RECORDINGS?: R2Bucket;
  /** Seconds archive_vod waits for the origin's last archive uploads after a stream ends before writing the VOD with what R2 has (default 120). */
  RECORDING_ARCHIVE_WAIT_S?: string;
  /** Comma-separated base URLs of the edges the go-live saga prewarms (with EDGE_ADMIN_TOKEN); unset: none, the probe reads the origin. */
  EDGE_URLS?: string;
  /** Seconds a live stream stays `reconnecting` after its publisher drops (default 30). */
  RECONNECT_GRACE_S?: string;
  /** Seconds between monitor_stream checks of a live stream (default 5). */
  SAGA_MONITOR_INTERVAL_S?: string;
  /** Seconds warmup_cdn waits for the first parts through an edge before the go-live fails (default 30). */
  SAGA_WARMUP_TIMEOUT_S?: string;
  /** Go-live fan-out batches (and webhook deliveries when WEBHOOK_QUEUE is unbound); consumed by this Worker's `queue` handler. */
  NOTIFY_QUEUE?: Queue<import("./notifications/messages.ts").NotifyMessage>;
  /** Webhook deliveries, retried with backoff, dead-lettered to `cascade-webhooks-dlq` (edge/notifications/queue-handler.ts). */
  WEBHOOK_QUEUE?: Queue<import("./notifications/messages.ts").NotifyMessage>;
  /** `true` (development only): webhooks may target http and private/loopback addresses. */
  ALLOW_PRIVATE_WEBHOOKS?: string;
}
