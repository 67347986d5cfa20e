import type { Severity, StreamEventType } from "../../shared/events.ts";
import { isoNow } from "../db/database.ts";

export interface StreamEventRow {
  id: number;
  stream_id: string;
  event_type: StreamEventType;
  severity: Severity;
  message: string;
  details: string;
  created_at: string;
}

export interface NewStreamEvent {
  streamId: string;
  type: StreamEventType;
  severity: Severity;
  message: string;
  details?: Record<string, unknown>;
  at?: string;
}

/** The statement that records one event (so callers can put it in a batch with a state change). */
export const insertEventStatement = (db: D1Database, e: NewStreamEvent): D1PreparedStatement =>
  db
    .prepare("INSERT INTO stream_events (stream_id, event_type, severity, message, details, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
    .bind(e.streamId, e.type, e.severity, e.message, JSON.stringify(e.details ?? {}), e.at ?? isoNow());

/** Newest first; `beforeId` continues a previous page. */
export const listEvents = async (db: D1Database, streamId: string, limit: number, beforeId: number | null): Promise<StreamEventRow[]> => {
  const rows = await db
    .prepare(
      `SELECT id, stream_id, event_type, severity, message, details, created_at FROM stream_events
       WHERE stream_id = ?1 AND (?2 IS NULL OR id < ?2) ORDER BY id DESC LIMIT ?3`,
    )
    .bind(streamId, beforeId, limit)
    .all<StreamEventRow>();
  return rows.results;
};

export const eventView = (e: StreamEventRow) => {
  let details: unknown = {};
  try {
    details = JSON.parse(e.details);
  } catch {
    // stored by us as JSON; an unreadable value shows as {}
  }
  return { id: e.id, event_type: e.event_type, severity: e.severity, message: e.message, details, timestamp: e.created_at };
};
