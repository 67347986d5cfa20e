-- Per-minute stream analytics (edge/analytics/): GET /api/v1/streams/:id/analytics and the edge's
-- Prometheus exposition read it. One row per stream and UTC minute; `minute` is the unix minute
-- (floor(epoch ms / 60000)), dated by the control plane's clock when a report arrives.
--
-- Two reporters write a row, each only its own columns (their upserts' DO UPDATE names nothing
-- else), so node and player figures merge into one row whichever comes first:
--   the transcoder node (POST /api/v1/nodes/stats, every ~10 s; each report adds to the minute):
--     ingest_bytes, ingest_seconds, dropped_frames, speed_sum, speed_seconds, node_errors, node_reports
--   the stream's ViewerCounter object (once per finished minute, absolute values, so a retried
--   write changes nothing): viewers, latency_*, buffer_*, player_errors, player_reports
-- The figures the API serves that combine several columns are generated, never written.
-- A column stays NULL until its reporter has said something about that minute.
CREATE TABLE stream_analytics (
  stream_id          TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  minute             INTEGER NOT NULL CHECK (minute >= 0),
  -- Node: bytes the RTMP publisher sent, over how many seconds of reports.
  ingest_bytes       INTEGER CHECK (ingest_bytes >= 0),
  ingest_seconds     REAL CHECK (ingest_seconds >= 0),
  -- Node: frames ffmpeg dropped (its progress `drop_frames`), summed over the minute's reports.
  dropped_frames     INTEGER CHECK (dropped_frames >= 0),
  -- Node: encoder speed (1 = real time) weighted by the seconds each report covered.
  speed_sum          REAL CHECK (speed_sum >= 0),
  speed_seconds      REAL CHECK (speed_seconds >= 0),
  node_errors        INTEGER CHECK (node_errors >= 0),
  node_reports       INTEGER CHECK (node_reports >= 0),
  -- Edge: the peak of the concurrent count (distinct sessions in the last 60 s) at the minute's flushes.
  viewers            INTEGER CHECK (viewers >= 0),
  -- Edge: players' capture-to-display latency and buffer ahead, from fixed-bucket histograms.
  latency_p50_ms     INTEGER CHECK (latency_p50_ms >= 0),
  latency_p95_ms     INTEGER CHECK (latency_p95_ms >= 0),
  latency_samples    INTEGER CHECK (latency_samples >= 0),
  buffer_p10_s       REAL CHECK (buffer_p10_s >= 0),
  buffer_samples     INTEGER CHECK (buffer_samples >= 0),
  player_errors      INTEGER CHECK (player_errors >= 0),
  player_reports     INTEGER CHECK (player_reports >= 0),
  ingest_bitrate_bps INTEGER GENERATED ALWAYS AS (CASE WHEN ingest_seconds > 0 THEN CAST(round(ingest_bytes * 8.0 / ingest_seconds) AS INTEGER) END) VIRTUAL,
  encoder_speed      REAL GENERATED ALWAYS AS (CASE WHEN speed_seconds > 0 THEN round(speed_sum / speed_seconds, 3) END) VIRTUAL,
  errors             INTEGER GENERATED ALWAYS AS (CASE WHEN node_errors IS NULL AND player_errors IS NULL THEN NULL ELSE coalesce(node_errors, 0) + coalesce(player_errors, 0) END) VIRTUAL,
  PRIMARY KEY (stream_id, minute)
);

-- Retention (the cron job deletes minutes older than 30 days) walks this.
CREATE INDEX stream_analytics_by_minute ON stream_analytics (minute);
