-- Recordings (issue 6): one row per broadcast that is recorded to R2 (`recording`) or kept only in
-- the origin's DVR window (`dvr`, which `POST …/recordings/:id/convert` turns into a recording).
-- R2 layout: recordings/<id>/manifest.json, recordings/<id>/<rendition>/init-<v>.mp4,
-- recordings/<id>/<rendition>/seg-<msn>.m4s (custom metadata: duration, pdt, discontinuity, init),
-- and once finalised recordings/<id>/master.m3u8 + recordings/<id>/<rendition>/index.m3u8.
CREATE TABLE recordings (
  id             TEXT PRIMARY KEY,
  stream_id      TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title          TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('dvr', 'recording', 'finalizing', 'ready', 'failed')),
  started_at     TEXT NOT NULL,
  ended_at       TEXT,
  duration_s     REAL,
  bytes          INTEGER NOT NULL DEFAULT 0,
  retention_days INTEGER NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
  expires_at     TEXT,
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX recordings_by_stream ON recordings (stream_id, started_at DESC, id DESC);
CREATE INDEX recordings_by_expiry ON recordings (expires_at) WHERE expires_at IS NOT NULL;

-- Days a stream's recordings are kept (the retention job deletes them afterwards).
ALTER TABLE streams ADD COLUMN recording_retention_days INTEGER NOT NULL DEFAULT 30 CHECK (recording_retention_days BETWEEN 1 AND 3650);
