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
  /** The control plane's database (users, streams, categories, follows, nodes …). */
  DB?: D1Database;
  /** HS256 secret for user tokens (secret). Unset: the accounts and streams API answers 503. */
  JWT_SECRET?: string;
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
}
