/** Stream lifecycle states, latency modes and the limits the API enforces. */
export const STREAM_STATUSES = ["idle", "starting", "live", "reconnecting", "ended", "failed"] as const;
export type StreamStatus = (typeof STREAM_STATUSES)[number];
/** States in which a pipeline may be running: settings that shape it cannot change then. */
export const ACTIVE_STATUSES: readonly StreamStatus[] = ["starting", "live", "reconnecting"];

export const LATENCY_MODES = ["standard", "low"] as const;

/**
 * public: listed and playable by anyone; unlisted: playable by anyone with the link, never listed;
 * private: never listed, playable only through a signed playback URL (edge/streams/playback-access.ts).
 */
export const VISIBILITIES = ["public", "unlisted", "private"] as const;
export type Visibility = (typeof VISIBILITIES)[number];
export type LatencyMode = (typeof LATENCY_MODES)[number];

export const TITLE_MAX = 140;
export const DESCRIPTION_MAX = 2000;
export const TAGS_MAX = 10;
export const TAG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,24}$/;
export const TAG_RULE = "tags are 1–25 characters: lowercase letters, digits, '-' and '_'";
/** Seconds of DVR behind the live edge; 0 keeps only the live window. */
export const DVR_WINDOW_MAX = 4 * 60 * 60;
/** Longest a stream may keep its recordings (days). */
export const RETENTION_DAYS_MAX = 3650;
/** Rewind window of a new stream unless it asks otherwise (2 h). */
export const DEFAULT_DVR_WINDOW = 2 * 60 * 60;

export const normaliseTag = (raw: string): string | null => {
  const tag = raw.trim().toLowerCase();
  return TAG_PATTERN.test(tag) ? tag : null;
};

export interface StreamRow {
  id: string;
  user_id: string;
  username: string;
  title: string;
  description: string;
  category: string | null;
  category_name: string | null;
  /** JSON array text. */
  tags: string;
  status: StreamStatus;
  latency_mode: LatencyMode;
  visibility: Visibility;
  viewer_count: number;
  peak_viewers: number;
  dvr_window: number;
  enable_recording: number;
  recording_retention_days: number;
  node_id: string | null;
  key_rotated_at: string | null;
  started_at: string | null;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
}

/** URLs a client builds on; relative, so they hold behind any edge host. */
export const streamUrls = (id: string) => ({
  watch: `/watch/${id}`,
  hls: `/hls/${id}/master.m3u8`,
  /** The chat room's WebSocket path (the ChatRoom Durable Object serves it). */
  chat: `/api/v1/streams/${id}/chat`,
});

const parseTags = (text: string): string[] => {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((t): t is string => typeof t === "string") : [];
  } catch {
    return [];
  }
};

/** What anyone may see of a stream. */
export const publicStreamView = (s: StreamRow) => ({
  stream_id: s.id,
  title: s.title,
  description: s.description,
  category: s.category,
  category_name: s.category_name,
  tags: parseTags(s.tags),
  status: s.status,
  latency_mode: s.latency_mode,
  visibility: s.visibility,
  viewer_count: s.viewer_count,
  peak_viewers: s.peak_viewers,
  user: { id: s.user_id, username: s.username },
  playback_url: streamUrls(s.id).watch,
  started_at: s.started_at,
  ended_at: s.ended_at,
  created_at: s.created_at,
});

/** What the owner (or an admin) sees in addition; never the key nor its hash. */
export const ownerStreamView = (s: StreamRow, ingestRtmpUrl: string) => ({
  ...publicStreamView(s),
  enable_recording: s.enable_recording === 1,
  dvr_window: s.dvr_window,
  recording_retention_days: s.recording_retention_days,
  ingest_urls: { rtmp: ingestRtmpUrl },
  key_rotated_at: s.key_rotated_at,
  updated_at: s.updated_at,
});

