/**
 * How the rest of the edge reaches a stream's chat room: which ChatRoom objects (shards) make up
 * the room, and room-wide calls that must reach every shard (viewer counts, stream events,
 * moderator and emote changes).
 */
import { edgeConfig } from "../../config.ts";

// The stub type comes from the generated binding rather than an import of chat-room.ts, which
// imports this module (the room relays to its sibling shards through it).
type ChatRoomStub = ReturnType<Env["CHAT_ROOM"]["get"]>;

/** Shards per room: CHAT_SHARDS (edge/config.ts). */
export const chatShardCount = (env: Env): number => edgeConfig(env).chatShards;

/** Shard 0 keeps the plain stream id as its name (a one-shard room is just the stream's object). */
export const shardName = (streamId: string, shard: number): string => (shard === 0 ? streamId : `${streamId}#${shard}`);

/** FNV-1a: a stable, well-spread hash of a user id, so each user's sockets land on one shard. */
const fnv1a = (s: string): number => {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
};

/** The shard a socket joins: by user for signed-in users (their rate limits live there), random for readers. */
export const shardFor = (userId: string | null, shards: number): number => (shards <= 1 ? 0 : userId === null ? Math.floor(Math.random() * shards) : fnv1a(userId) % shards);

export const roomShard = (env: Env, streamId: string, shard: number): ChatRoomStub | null => {
  const ns = env.CHAT_ROOM;
  return ns ? ns.get(ns.idFromName(shardName(streamId, shard))) : null;
};

/** Every shard of the room; empty when chat is not bound. */
export const roomShards = (env: Env, streamId: string): Array<ChatRoomStub> => {
  const out: Array<ChatRoomStub> = [];
  for (let k = 0; k < chatShardCount(env); k++) {
    const stub = roomShard(env, streamId, k);
    if (stub) out.push(stub);
  }
  return out;
};

/** Pushes the stream's viewer count to every chat socket (`viewer_count` frames). */
export const pushViewerCount = async (env: Env, streamId: string, viewers: number, peak: number): Promise<void> => {
  await Promise.all(roomShards(env, streamId).map((s) => s.viewerCount(viewers, peak)));
};

/** Tells the room the stream went live or ended (a `system` frame to every socket). */
export const announceStream = async (env: Env, streamId: string, event: "stream_live" | "stream_ended"): Promise<void> => {
  await Promise.all(roomShards(env, streamId).map((s) => s.streamEvent(event)));
};
