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
}
