import { isoNow } from "../db/database.ts";
import { HEARTBEAT_INTERVAL_S, type NodeRow } from "./node-store.ts";

/** A node whose last heartbeat is older than this is not offered new streams. */
export const NODE_STALE_MS = 3 * HEARTBEAT_INTERVAL_S * 1000;

export interface Reservation {
  streamId: string;
  nodeId: string;
  controlUrl: string | null;
}

/** Online nodes with a recent heartbeat and a free slot, the preferred one first, then least loaded. */
export const candidateNodes = async (db: D1Database, o: { prefer?: string | null; exclude?: string[]; now?: number } = {}): Promise<NodeRow[]> => {
  const freshSince = isoNow((o.now ?? Date.now()) - NODE_STALE_MS);
  const { results } = await db
    .prepare(
      `SELECT * FROM transcoder_nodes WHERE status = 'online' AND last_heartbeat_at >= ?1 AND slots_reserved < slots
       ORDER BY (id = ?2) DESC, CAST(slots_reserved AS REAL) / slots, load, id`,
    )
    .bind(freshSince, o.prefer ?? "")
    .all<NodeRow & { slots_reserved: number }>();
  return results.filter((n) => !(o.exclude ?? []).includes(n.id));
};

export const getReservation = async (db: D1Database, streamId: string): Promise<Reservation | null> => {
  const row = await db
    .prepare("SELECT r.stream_id, r.node_id, n.control_url FROM stream_reservations r JOIN transcoder_nodes n ON n.id = r.node_id WHERE r.stream_id = ?1")
    .bind(streamId)
    .first<{ stream_id: string; node_id: string; control_url: string | null }>();
  return row ? { streamId: row.stream_id, nodeId: row.node_id, controlUrl: row.control_url } : null;
};

/**
 * Takes one slot on `nodeId` for `streamId`, atomically (one D1 transaction: the slot count only
 * moves when the node still has a free slot, and the reservation row only exists when it moved).
 * Idempotent: a stream that already holds a reservation keeps it (an object resumed after eviction
 * between this write and its own storage write finds its slot here).
 */
export const reserveSlot = async (db: D1Database, streamId: string, nodeId: string): Promise<Reservation | null> => {
  const existing = await getReservation(db, streamId);
  if (existing) return existing;
  const now = isoNow();
  const [, insert] = await db.batch([
    db.prepare("UPDATE transcoder_nodes SET slots_reserved = slots_reserved + 1 WHERE id = ?1 AND status = 'online' AND slots_reserved < slots").bind(nodeId),
    db
      .prepare("INSERT INTO stream_reservations (stream_id, node_id, state, created_at, updated_at) SELECT ?1, ?2, 'reserved', ?3, ?3 WHERE changes() = 1")
      .bind(streamId, nodeId, now),
  ]);
  if (insert!.meta.changes !== 1) return null;
  return getReservation(db, streamId);
};

/** Gives the stream's slot back (if it holds one), atomically; true when a slot was released. */
export const releaseSlot = async (db: D1Database, streamId: string): Promise<boolean> => {
  const [, del] = await db.batch([
    db
      .prepare("UPDATE transcoder_nodes SET slots_reserved = max(0, slots_reserved - 1) WHERE id = (SELECT node_id FROM stream_reservations WHERE stream_id = ?1)")
      .bind(streamId),
    db.prepare("DELETE FROM stream_reservations WHERE stream_id = ?1").bind(streamId),
  ]);
  return del!.meta.changes === 1;
};

export const markReservation = async (db: D1Database, streamId: string, state: "reserved" | "configured"): Promise<void> => {
  await db.prepare("UPDATE stream_reservations SET state = ?2, updated_at = ?3 WHERE stream_id = ?1").bind(streamId, state, isoNow()).run();
};
