/**
 * How the rest of the edge reaches a stream's chat room: which ChatRoom objects (shards) make up
 * the room, and room-wide calls that must reach every shard (viewer counts, stream events,
 * moderator and emote changes).
 */
import type { BroadcastFrame, ChatMessage } from "../../chat/protocol.ts";
import { edgeConfig } from "../../config.ts";
import { DurableObjectClient } from "../rpc-client.ts";
import type { ModLogEntry } from "./room-store.ts";

// The object's type comes from the generated binding rather than an import of chat-room.ts, which
// imports this module (the room relays to its sibling shards through it).
type ChatRoom = Env["CHAT_ROOM"] extends DurableObjectNamespace<infer T> ? T : never;

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

/**
 * The typed client of one shard of a room. Reads and `viewerCount` (a value set again) may run
 * twice and are retried once on a transient object error (rpc-client.ts); broadcasts, relays and
 * moderator changes (each logged) are called once.
 */
export class ChatShardClient extends DurableObjectClient<ChatRoom> {
  constructor(
    ns: Env["CHAT_ROOM"],
    readonly streamId: string,
    readonly shard: number,
  ) {
    super(ns, shardName(streamId, shard));
  }

  /** Hands a WebSocket upgrade to the shard (the request carries the join the route resolved). */
  join(request: Request): Promise<Response> {
    return this.call((s) => s.fetch(request), { once: true });
  }

  recentMessages(limit?: number): Promise<ChatMessage[]> {
    return this.call((s) => s.recentMessages(limit) as Promise<ChatMessage[]>);
  }

  historyPage(before: string | null, limit: number): Promise<{ messages: ChatMessage[]; more: boolean } | null> {
    return this.call((s) => s.historyPage(before, limit) as Promise<{ messages: ChatMessage[]; more: boolean } | null>);
  }

  moderationLog(before: number | null, limit: number): Promise<{ entries: ModLogEntry[]; more: boolean }> {
    return this.call((s) => s.moderationLog(before, limit) as Promise<{ entries: ModLogEntry[]; more: boolean }>);
  }

  connections(): Promise<number> {
    return this.call((s) => s.connections());
  }

  viewerCount(viewers: number, peak: number): Promise<void> {
    return this.call((s) => s.viewerCount(viewers, peak));
  }

  streamEvent(event: "stream_live" | "stream_ended"): Promise<void> {
    return this.call((s) => s.streamEvent(event), { once: true });
  }

  setModerator(userId: string, username: string, on: boolean, by: string): Promise<void> {
    return this.call((s) => s.setModerator(userId, username, on, by), { once: true });
  }

  emotesChanged(by: string): Promise<void> {
    return this.call((s) => s.emotesChanged(by), { once: true });
  }

  /** Frames another shard applied (chat-room.ts relays them in order per shard). */
  relayed(frames: BroadcastFrame[]): Promise<void> {
    return this.call((s) => s.relayed(frames), { once: true });
  }
}

/** Shard `shard` of the stream's room, or null when chat is not bound. */
export const chatShard = (env: Env, streamId: string, shard: number): ChatShardClient | null =>
  env.CHAT_ROOM ? new ChatShardClient(env.CHAT_ROOM, streamId, shard) : null;

/** Every shard of the room (CHAT_SHARDS); empty when chat is not bound. */
export const chatShards = (env: Env, streamId: string): ChatShardClient[] => {
  const out: ChatShardClient[] = [];
  for (let k = 0; k < chatShardCount(env); k++) {
    const shard = chatShard(env, streamId, k);
    if (shard) out.push(shard);
  }
  return out;
};

/** Pushes the stream's viewer count to every chat socket (`viewer_count` frames). */
export const pushViewerCount = async (env: Env, streamId: string, viewers: number, peak: number): Promise<void> => {
  await Promise.all(chatShards(env, streamId).map((s) => s.viewerCount(viewers, peak)));
};

/** Tells the room the stream went live or ended (a `system` frame to every socket). */
export const announceStream = async (env: Env, streamId: string, event: "stream_live" | "stream_ended"): Promise<void> => {
  await Promise.all(chatShards(env, streamId).map((s) => s.streamEvent(event)));
};

/** A channel moderator was added or removed: every shard updates its sockets of that user, logs it and tells its sockets. */
export const announceModerator = async (env: Env, streamId: string, user: { id: string; username: string }, on: boolean, by: string): Promise<void> => {
  await Promise.all(chatShards(env, streamId).map((s) => s.setModerator(user.id, user.username, on, by)));
};

/** The channel's emote set changed: every shard tells its sockets. */
export const announceEmotes = async (env: Env, streamId: string, by: string): Promise<void> => {
  await Promise.all(chatShards(env, streamId).map((s) => s.emotesChanged(by)));
};
