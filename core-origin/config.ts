/** Origin configuration from the environment, with the local defaults `npm start` uses. */
export interface OriginConfig {
  host: string;
  port: number;
  nodeSecret: string;
  storageDir: string;
  /** Complete segments per rendition whose bytes stay in memory. */
  memorySegments: number;
  /** Complete segments listed in each media playlist. */
  playlistSegments: number;
}

const intFromEnv = (env: Record<string, string | undefined>, name: string, fallback: number, min: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
};

export const originConfigFromEnv = (env: Record<string, string | undefined> = process.env): OriginConfig => {
  const nodeSecret = env.CASCADE_NODE_SECRET ?? "";
  if (nodeSecret.length < 16) throw new Error("CASCADE_NODE_SECRET must be set (at least 16 characters)");
  return {
    host: env.CASCADE_ORIGIN_HOST ?? "127.0.0.1",
    port: intFromEnv(env, "CASCADE_ORIGIN_PORT", 8080, 0),
    nodeSecret,
    storageDir: env.CASCADE_STORAGE_DIR ?? ".cascade/origin-store",
    memorySegments: intFromEnv(env, "CASCADE_MEMORY_SEGMENTS", 8, 4),
    playlistSegments: intFromEnv(env, "CASCADE_PLAYLIST_SEGMENTS", 15, 6),
  };
};
