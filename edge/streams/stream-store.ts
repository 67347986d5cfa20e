import { isoNow } from "../db/database.ts";
import type { LatencyMode, StreamRow, StreamStatus, Visibility } from "./model.ts";

/** The columns every stream read returns (owner's username and category name joined in). */
export const STREAM_SELECT = `SELECT s.id, s.user_id, u.username, s.title, s.description, s.category, c.name AS category_name, s.tags,
  s.status, s.latency_mode, s.visibility, s.viewer_count, s.peak_viewers, s.dvr_window, s.enable_recording, s.recording_retention_days, s.node_id, s.key_rotated_at,
  s.started_at, s.ended_at, s.created_at, s.updated_at
  FROM streams s JOIN users u ON u.id = s.user_id LEFT JOIN categories c ON c.slug = s.category`;

export interface NewStream {
  id: string;
  userId: string;
  title: string;
  description: string;
  category: string | null;
  tags: string[];
  latencyMode: LatencyMode;
  visibility: Visibility;
  enableRecording: boolean;
  dvrWindow: number;
  keyHash: string;
  /** Days the stream's recordings are kept. */
  retentionDays: number;
}

export const insertStream = async (db: D1Database, s: NewStream): Promise<void> => {
  const now = isoNow();
  await db
    .prepare(
      `INSERT INTO streams (id, user_id, title, description, category, tags, status, latency_mode, stream_key_hash, dvr_window, enable_recording, recording_retention_days, visibility, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'idle', ?7, ?8, ?9, ?10, ?12, ?13, ?11, ?11)`,
    )
    .bind(s.id, s.userId, s.title, s.description, s.category, JSON.stringify(s.tags), s.latencyMode, s.keyHash, s.dvrWindow, s.enableRecording ? 1 : 0, now, s.retentionDays, s.visibility)
    .run();
};

export const getStream = (db: D1Database, id: string): Promise<StreamRow | null> => db.prepare(`${STREAM_SELECT} WHERE s.id = ?1`).bind(id).first<StreamRow>();

/** The key hash and status only: what a key check needs. */
export const getStreamKeyRecord = (db: D1Database, id: string): Promise<{ id: string; status: StreamStatus; stream_key_hash: string } | null> =>
  db.prepare("SELECT id, status, stream_key_hash FROM streams WHERE id = ?1").bind(id).first();

/** A category slug from a slug or a display name (case-insensitive); null when unknown. */
export const resolveCategory = async (db: D1Database, input: string): Promise<string | null> => {
  const row = await db.prepare("SELECT slug FROM categories WHERE slug = lower(?1) OR lower(name) = lower(?1)").bind(input.trim()).first<{ slug: string }>();
  return row?.slug ?? null;
};

export interface StreamPatch {
  title?: string;
  description?: string;
  category?: string | null;
  tags?: string[];
  latency_mode?: LatencyMode;
  enable_recording?: boolean;
  dvr_window?: number;
  recording_retention_days?: number;
  visibility?: Visibility;
}

/** Applies a validated patch; returns false when the stream is gone. */
export const updateStream = async (db: D1Database, id: string, patch: StreamPatch): Promise<boolean> => {
  const sets: string[] = [];
  const params: unknown[] = [];
  const set = (column: string, value: unknown) => {
    params.push(value);
    sets.push(`${column} = ?${params.length}`);
  };
  if (patch.title !== undefined) set("title", patch.title);
  if (patch.description !== undefined) set("description", patch.description);
  if (patch.category !== undefined) set("category", patch.category);
  if (patch.tags !== undefined) set("tags", JSON.stringify(patch.tags));
  if (patch.latency_mode !== undefined) set("latency_mode", patch.latency_mode);
  if (patch.enable_recording !== undefined) set("enable_recording", patch.enable_recording ? 1 : 0);
  if (patch.dvr_window !== undefined) set("dvr_window", patch.dvr_window);
  if (patch.recording_retention_days !== undefined) set("recording_retention_days", patch.recording_retention_days);
  if (patch.visibility !== undefined) set("visibility", patch.visibility);
  set("updated_at", isoNow());
  params.push(id);
  const result = await db.prepare(`UPDATE streams SET ${sets.join(", ")} WHERE id = ?${params.length}`).bind(...params).run();
  // D1 counts the search-index trigger's rows in `changes` too.
  return result.meta.changes >= 1;
};

/** Replaces the key hash: the old key stops working at once. False when the stream is gone or ended. */
export const replaceKeyHash = async (db: D1Database, id: string, hash: string): Promise<boolean> => {
  const now = isoNow();
  const result = await db
    .prepare("UPDATE streams SET stream_key_hash = ?1, key_rotated_at = ?2, updated_at = ?2 WHERE id = ?3 AND status <> 'ended'")
    .bind(hash, now, id)
    .run();
  return result.meta.changes === 1;
};
