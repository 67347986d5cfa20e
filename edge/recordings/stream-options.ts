/**
 * What the go-live saga tells a node about a stream when it configures it (configure_encoders):
 * the DVR window and, when the stream records (or keeps a DVR window that can be converted into a
 * recording later), the recording this broadcast is archived under. The row is created here, once
 * per saga run: a retried configure step reuses the open row.
 */
import { isoNow } from "../db/database.ts";
import { randomId } from "../db/ids.ts";

export interface NodeStreamOptions {
  dvr_window: number;
  /** Null: nothing is archived and there is no DVR to convert. */
  recording_id: string | null;
  /** True: every init and segment goes to R2 while the stream runs; false: DVR only (convertible). */
  record: boolean;
}

interface StreamSettings {
  id: string;
  user_id: string;
  title: string;
  dvr_window: number;
  enable_recording: number;
  recording_retention_days: number;
}

export const streamOptions = async (db: D1Database, streamId: string, now = Date.now()): Promise<NodeStreamOptions> => {
  const s = await db.prepare("SELECT id, user_id, title, dvr_window, enable_recording, recording_retention_days FROM streams WHERE id = ?1").bind(streamId).first<StreamSettings>();
  if (!s) throw new Error(`stream ${streamId} not found`);
  const record = s.enable_recording === 1;
  if (!record && s.dvr_window === 0) return { dvr_window: 0, recording_id: null, record: false };
  // A row still open for this stream (a retried configure step, or a reconnect within the same run) is reused.
  const open = await db.prepare("SELECT id FROM recordings WHERE stream_id = ?1 AND status IN ('dvr', 'recording') AND ended_at IS NULL ORDER BY started_at DESC LIMIT 1").bind(streamId).first<{ id: string }>();
  if (open) return { dvr_window: s.dvr_window, recording_id: open.id, record };
  const id = randomId(12);
  const at = isoNow(now);
  await db
    .prepare("INSERT INTO recordings (id, stream_id, user_id, title, status, started_at, retention_days, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6, ?6)")
    .bind(id, s.id, s.user_id, s.title, record ? "recording" : "dvr", at, s.recording_retention_days)
    .run();
  return { dvr_window: s.dvr_window, recording_id: id, record };
};
