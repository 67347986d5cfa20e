-- Chat: a per-channel emote set (code → image), shown in every room of the channel's streams.
-- Channel moderators live in channel_moderators (0001).
CREATE TABLE channel_emotes (
  channel_user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code            TEXT NOT NULL,
  image_url       TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  PRIMARY KEY (channel_user_id, code)
);
