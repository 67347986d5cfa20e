-- Follows, notifications and webhooks: what the go-live fan-out needs beyond 0001.
-- `GET /api/v1/follows` pages the channels a user follows, newest first.
CREATE INDEX follows_by_follower ON follows (follower_id, created_at DESC, followed_id DESC);

-- Unread counts without scanning a user's read notifications.
CREATE INDEX notifications_unread ON notifications (user_id) WHERE read_at IS NULL;

-- One row per (webhook, event occurrence): the signed body is fixed at creation so every retry sends
-- the same bytes, and a redelivered fan-out batch finds the row instead of creating a second one.
CREATE TABLE webhook_deliveries (
  id           TEXT PRIMARY KEY,
  webhook_id   TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
  event        TEXT NOT NULL,
  dedupe_key   TEXT NOT NULL,
  -- The JSON body sent (and signed) on every attempt.
  payload      TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  last_status  INTEGER,
  last_error   TEXT,
  -- Unix ms until which one consumer holds the delivery (an attempt in flight); a duplicate message
  -- arriving meanwhile is dropped instead of sending twice.
  lease_until  INTEGER,
  created_at   TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  delivered_at TEXT,
  UNIQUE (webhook_id, dedupe_key)
);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, created_at DESC);
