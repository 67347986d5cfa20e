/** Origin configuration from the environment, with the local defaults `npm start` uses. */
export interface OriginConfig {
  host: string;
  port: number;
  nodeSecret: string;
  storageDir: string;
  /** Complete segments per rendition whose bytes stay in memory. */
  memorySegments: number;
  /** Complete segments listed in each media playlist (the live window, and the minimum with DVR). */
  playlistSegments: number;
  /** DVR window (s) of streams whose manifest has none (`dvrWindowS`); 0 = live window only. Absent: 7200. */
  dvrWindowS?: number;
  /** Edge base URL recordings are archived to (`CASCADE_ARCHIVE_URL`); null/absent: archiving is off. */
  archiveUrl?: string | null;
  /** Archive uploads in flight at once (`CASCADE_ARCHIVE_CONCURRENCY`, default 2). */
  archiveConcurrency?: number;
}

/** `CASCADE_DVR_WINDOW` default: two hours of rewind. */
export const DEFAULT_DVR_WINDOW_S = 7200;

const intFromEnv = (env: Record<string, string | undefined>, name: string, fallback: number, min: number): number => {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
};

const archiveUrlFromEnv = (raw: string | undefined): string | null => {
  if (raw === undefined || raw.trim() === "") return null;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new Error(`CASCADE_ARCHIVE_URL must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`CASCADE_ARCHIVE_URL must be an http(s) URL, got "${raw}"`);
  return url.toString().replace(/\/+$/, "");
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
    dvrWindowS: intFromEnv(env, "CASCADE_DVR_WINDOW", DEFAULT_DVR_WINDOW_S, 0),
    archiveUrl: archiveUrlFromEnv(env.CASCADE_ARCHIVE_URL),
    archiveConcurrency: intFromEnv(env, "CASCADE_ARCHIVE_CONCURRENCY", 2, 1),
  };
};
