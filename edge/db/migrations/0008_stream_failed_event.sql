-- A node reports `stream_failed` when its encoder kept exiting within seconds of each start (the
-- stream goes to status 'failed' with the reason). The event type joins the CHECK list, which in
-- SQLite means rebuilding the table; ids and rows are kept as they are.
CREATE TABLE stream_events_new (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id  TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  event_type TEXT NOT NULL CHECK (event_type IN ('stream_started', 'stream_ended', 'stream_failed', 'quality_changed', 'connection_lost', 'connection_restored', 'high_latency', 'frame_drop', 'bitrate_change', 'error')),
  severity   TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
  message    TEXT NOT NULL,
  -- JSON object with event-specific details.
  details    TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
INSERT INTO stream_events_new (id, stream_id, event_type, severity, message, details, created_at)
  SELECT id, stream_id, event_type, severity, message, details, created_at FROM stream_events;
DROP TABLE stream_events;
ALTER TABLE stream_events_new RENAME TO stream_events;
CREATE INDEX stream_events_by_stream ON stream_events (stream_id, id DESC);
