-- The go-live saga (StreamControl Durable Object): transcoder slot reservations.
-- `slots_used` is what a node reports in its heartbeats (pipelines running); `slots_reserved` is what
-- the control plane has promised away. Only the saga writes it, so a heartbeat never undoes a
-- reservation. One reservation per stream: reserving twice is a no-op, releasing twice too.
ALTER TABLE transcoder_nodes ADD COLUMN slots_reserved INTEGER NOT NULL DEFAULT 0 CHECK (slots_reserved >= 0);

CREATE TABLE stream_reservations (
  stream_id   TEXT PRIMARY KEY REFERENCES streams(id) ON DELETE CASCADE,
  node_id     TEXT NOT NULL REFERENCES transcoder_nodes(id) ON DELETE CASCADE,
  -- `reserved` by reserve_capacity; `configured` once the node has been told to expect the stream.
  state       TEXT NOT NULL DEFAULT 'reserved' CHECK (state IN ('reserved', 'configured')),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX stream_reservations_by_node ON stream_reservations (node_id);
