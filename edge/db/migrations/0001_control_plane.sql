-- Cascade control plane: accounts, streams, discovery, follows, notifications, transcoder nodes.
-- Applied by `npm start` (wrangler d1 migrations apply DB --local) and by the workerd tests
-- (applyD1Migrations). Times are ISO 8601 UTC strings with milliseconds (they sort as text).

CREATE TABLE users (
  pk            INTEGER PRIMARY KEY,
  id            TEXT NOT NULL UNIQUE,
  username      TEXT NOT NULL UNIQUE,
  -- PHC-style string: pbkdf2_sha256$<iterations>$<salt, base64url>$<hash, base64url>
  password_hash TEXT NOT NULL,
  role          TEXT NOT NULL DEFAULT 'streamer' CHECK (role IN ('viewer', 'streamer', 'moderator', 'admin')),
  display_name  TEXT,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);

-- Per-channel moderators (the chat room reads these): a user moderating another user's channel.
CREATE TABLE channel_moderators (
  channel_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (channel_user_id, user_id)
);

CREATE TABLE categories (
  slug        TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  position    INTEGER NOT NULL DEFAULT 0
);

INSERT INTO categories (slug, name, description, position) VALUES
  ('gaming', 'Gaming', 'Video games, speedruns, esports', 1),
  ('just-chatting', 'Just Chatting', 'Talk shows, Q&A, hanging out', 2),
  ('music', 'Music', 'Live music, DJ sets, production', 3),
  ('art', 'Art', 'Drawing, painting, design', 4),
  ('software-development', 'Software Development', 'Programming and building things', 5),
  ('science-technology', 'Science & Technology', 'Science, hardware, engineering', 6),
  ('education', 'Education', 'Lessons, lectures, tutorials', 7),
  ('sports', 'Sports', 'Sports and fitness', 8),
  ('food-drink', 'Food & Drink', 'Cooking and tasting', 9),
  ('travel-outdoors', 'Travel & Outdoors', 'IRL from around the world', 10),
  ('events', 'Events', 'Conferences, launches, ceremonies', 11),
  ('other', 'Other', 'Everything else', 99);

CREATE TABLE streams (
  pk               INTEGER PRIMARY KEY,
  id               TEXT NOT NULL UNIQUE,
  user_id          TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  title            TEXT NOT NULL,
  description      TEXT NOT NULL DEFAULT '',
  category         TEXT REFERENCES categories(slug),
  -- JSON array of lowercase tags.
  tags             TEXT NOT NULL DEFAULT '[]',
  status           TEXT NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'starting', 'live', 'reconnecting', 'ended', 'failed')),
  latency_mode     TEXT NOT NULL DEFAULT 'low' CHECK (latency_mode IN ('standard', 'low')),
  -- SHA-256 (hex) of the stream key; the key itself is never stored.
  stream_key_hash  TEXT NOT NULL,
  key_rotated_at   TEXT,
  viewer_count     INTEGER NOT NULL DEFAULT 0 CHECK (viewer_count >= 0),
  peak_viewers     INTEGER NOT NULL DEFAULT 0 CHECK (peak_viewers >= 0),
  -- Seconds of DVR window kept behind the live edge (0: the live window only).
  dvr_window       INTEGER NOT NULL DEFAULT 0 CHECK (dvr_window >= 0),
  enable_recording INTEGER NOT NULL DEFAULT 0 CHECK (enable_recording IN (0, 1)),
  -- The transcoder node the go-live saga reserved (null while idle).
  node_id          TEXT,
  started_at       TEXT,
  ended_at         TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);

CREATE INDEX streams_by_user ON streams (user_id, created_at DESC, id DESC);
CREATE INDEX streams_by_status ON streams (status, created_at DESC, id DESC);
CREATE INDEX streams_by_category ON streams (category, created_at DESC, id DESC);
CREATE INDEX streams_by_created ON streams (created_at DESC, id DESC);
CREATE INDEX streams_by_viewers ON streams (status, viewer_count DESC, id);

-- Full-text search over streams. rowid = streams.pk; kept in sync by the triggers below.
CREATE VIRTUAL TABLE streams_fts USING fts5 (
  title,
  description,
  tags,
  category,
  username,
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER streams_fts_insert AFTER INSERT ON streams BEGIN
  INSERT INTO streams_fts (rowid, title, description, tags, category, username) VALUES (
    new.pk,
    new.title,
    new.description,
    new.tags,
    coalesce((SELECT name || ' ' || slug FROM categories WHERE slug = new.category), ''),
    coalesce((SELECT username FROM users WHERE id = new.user_id), '')
  );
END;

CREATE TRIGGER streams_fts_update AFTER UPDATE OF title, description, tags, category, user_id ON streams BEGIN
  UPDATE streams_fts SET
    title = new.title,
    description = new.description,
    tags = new.tags,
    category = coalesce((SELECT name || ' ' || slug FROM categories WHERE slug = new.category), ''),
    username = coalesce((SELECT username FROM users WHERE id = new.user_id), '')
  WHERE rowid = new.pk;
END;

CREATE TRIGGER streams_fts_delete AFTER DELETE ON streams BEGIN
  DELETE FROM streams_fts WHERE rowid = old.pk;
END;

CREATE TRIGGER users_fts_rename AFTER UPDATE OF username ON users BEGIN
  UPDATE streams_fts SET username = new.username WHERE rowid IN (SELECT pk FROM streams WHERE user_id = new.id);
END;

CREATE TRIGGER categories_fts_rename AFTER UPDATE OF name ON categories BEGIN
  UPDATE streams_fts SET category = new.name || ' ' || new.slug WHERE rowid IN (SELECT pk FROM streams WHERE category = new.slug);
END;

CREATE TABLE follows (
  follower_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  followed_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (follower_id, followed_id),
  CHECK (follower_id <> followed_id)
);
-- Fan-out on go-live walks a channel's followers in keyset batches.
CREATE INDEX follows_by_followed ON follows (followed_id, follower_id);

CREATE TABLE webhooks (
  id            TEXT PRIMARY KEY,
  user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  url           TEXT NOT NULL,
  -- JSON array of event types the hook wants (e.g. ["stream_started"]).
  events        TEXT NOT NULL DEFAULT '[]',
  -- HMAC key for the signature header: needed in clear to sign deliveries, shown once to the owner.
  secret        TEXT NOT NULL,
  active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  failure_count INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX webhooks_by_user ON webhooks (user_id);

CREATE TABLE notifications (
  id         TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  type       TEXT NOT NULL,
  stream_id  TEXT,
  -- JSON payload shown by the client.
  payload    TEXT NOT NULL DEFAULT '{}',
  -- Makes queue redelivery idempotent: one notification per (user, dedupe_key).
  dedupe_key TEXT NOT NULL,
  created_at TEXT NOT NULL,
  read_at    TEXT,
  UNIQUE (user_id, dedupe_key)
);
CREATE INDEX notifications_by_user ON notifications (user_id, created_at DESC, id DESC);

CREATE TABLE stream_events (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  stream_id  TEXT NOT NULL REFERENCES streams(id) ON DELETE CASCADE,
  event_type TEXT NOT NULL CHECK (event_type IN ('stream_started', 'stream_ended', 'quality_changed', 'connection_lost', 'connection_restored', 'high_latency', 'frame_drop', 'bitrate_change', 'error')),
  severity   TEXT NOT NULL CHECK (severity IN ('info', 'warning', 'error', 'critical')),
  message    TEXT NOT NULL,
  -- JSON object with event-specific details.
  details    TEXT NOT NULL DEFAULT '{}',
  created_at TEXT NOT NULL
);
CREATE INDEX stream_events_by_stream ON stream_events (stream_id, id DESC);

CREATE TABLE transcoder_nodes (
  id                TEXT PRIMARY KEY,
  -- The node's control API and RTMP ingest, as the node reports them.
  control_url       TEXT,
  rtmp_url          TEXT,
  slots             INTEGER NOT NULL DEFAULT 0 CHECK (slots >= 0),
  slots_used        INTEGER NOT NULL DEFAULT 0 CHECK (slots_used >= 0),
  encoder           TEXT NOT NULL DEFAULT '',
  load              REAL NOT NULL DEFAULT 0,
  speed             REAL NOT NULL DEFAULT 0,
  version           TEXT,
  status            TEXT NOT NULL DEFAULT 'online' CHECK (status IN ('online', 'draining', 'offline')),
  registered_at     TEXT NOT NULL,
  last_heartbeat_at TEXT NOT NULL
);

-- Fixed-window counters for rate limits (login, stream-key checks). One row per bucket.
CREATE TABLE rate_limits (
  bucket       TEXT PRIMARY KEY,
  window_start INTEGER NOT NULL,
  count        INTEGER NOT NULL
);
