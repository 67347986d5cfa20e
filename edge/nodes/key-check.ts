import { refundAttempt, takeAttempt, type RateLimit } from "../db/rate-limit.ts";
import { getStreamKeyRecord } from "../streams/stream-store.ts";
import { hashStreamKey, streamIdOfKey, streamKeyMatches } from "../streams/stream-keys.ts";

export type KeyCheck = { allowed: true; streamId: string } | { allowed: false; reason: string } | { limited: true; retryAfterS: number };

export interface KeyCheckRequest {
  key: string;
  nodeId: string;
  /** The publisher's address as the node saw it, when it says. */
  remoteAddress?: string;
}

/**
 * Decides whether a stream key may publish. Guesses are rate-limited per target stream (the key
 * names it), per publisher address, or per node when neither is known; a key that authorises gives
 * its attempts back. Ended streams refuse their key.
 */
export const checkStreamKey = async (db: D1Database, req: KeyCheckRequest, limit: RateLimit): Promise<KeyCheck> => {
  const streamId = streamIdOfKey(req.key);
  const buckets: string[] = [];
  if (streamId) buckets.push(`key:stream:${streamId}`);
  if (req.remoteAddress) buckets.push(`key:addr:${req.remoteAddress}`);
  if (buckets.length === 0) buckets.push(`key:node:${req.nodeId}`);
  const taken = await Promise.all(buckets.map((b) => takeAttempt(db, b, limit)));
  const refused = taken.filter((t) => !t.ok);
  if (refused.length) return { limited: true, retryAfterS: Math.max(...refused.map((t) => t.retryAfterS)) };

  const record = streamId ? await getStreamKeyRecord(db, streamId) : null;
  if (!record) {
    await hashStreamKey(req.key); // same work as a real comparison
    return { allowed: false, reason: "unknown stream key" };
  }
  if (!(await streamKeyMatches(req.key, record.stream_key_hash))) return { allowed: false, reason: "unknown stream key" };
  if (record.status === "ended") return { allowed: false, reason: "stream has ended" };
  await Promise.all(buckets.map((b) => refundAttempt(db, b, limit)));
  return { allowed: true, streamId: record.id };
};
