import { isoNow } from "../db/database.ts";

/** What a node reports about itself at registration and in every heartbeat. */
export interface NodeCapacity {
  /** Streams this node can transcode at once. */
  slots: number;
  /** Slots in use now. */
  slotsUsed: number;
  /** H.264 encoder in use (`h264_nvenc`, `libx264` …). */
  encoder: string;
  /** Load per CPU core (1.0 = fully loaded). */
  load: number;
  /** Slowest pipeline's encode speed (1.0 = real time; the node's best case when idle). */
  speed: number;
}

export interface NodeRegistration extends NodeCapacity {
  controlUrl: string | null;
  rtmpUrl: string | null;
  version: string | null;
}

/** Seconds between heartbeats the control plane asks for; a node silent for 3 × this is stale. */
export const HEARTBEAT_INTERVAL_S = 10;

export const registerNode = async (db: D1Database, id: string, r: NodeRegistration): Promise<void> => {
  const now = isoNow();
  await db
    .prepare(
      `INSERT INTO transcoder_nodes (id, control_url, rtmp_url, slots, slots_used, encoder, load, speed, version, status, registered_at, last_heartbeat_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'online', ?10, ?10)
       ON CONFLICT (id) DO UPDATE SET control_url = excluded.control_url, rtmp_url = excluded.rtmp_url, slots = excluded.slots,
         slots_used = excluded.slots_used, encoder = excluded.encoder, load = excluded.load, speed = excluded.speed,
         version = excluded.version, status = 'online', registered_at = excluded.registered_at, last_heartbeat_at = excluded.last_heartbeat_at`,
    )
    .bind(id, r.controlUrl, r.rtmpUrl, r.slots, r.slotsUsed, r.encoder, r.load, r.speed, r.version, now)
    .run();
};

/** Records a heartbeat; false when the node is not registered (it must register again). */
export const recordHeartbeat = async (db: D1Database, id: string, c: NodeCapacity): Promise<boolean> => {
  const result = await db
    .prepare(
      `UPDATE transcoder_nodes SET slots = ?2, slots_used = ?3, encoder = ?4, load = ?5, speed = ?6, status = CASE WHEN status = 'offline' THEN 'online' ELSE status END,
         last_heartbeat_at = ?7 WHERE id = ?1`,
    )
    .bind(id, c.slots, c.slotsUsed, c.encoder, c.load, c.speed, isoNow())
    .run();
  return result.meta.changes === 1;
};

export interface NodeRow {
  id: string;
  control_url: string | null;
  rtmp_url: string | null;
  slots: number;
  slots_used: number;
  encoder: string;
  load: number;
  speed: number;
  version: string | null;
  status: string;
  registered_at: string;
  last_heartbeat_at: string;
}

export const getNode = (db: D1Database, id: string): Promise<NodeRow | null> => db.prepare("SELECT * FROM transcoder_nodes WHERE id = ?1").bind(id).first<NodeRow>();
