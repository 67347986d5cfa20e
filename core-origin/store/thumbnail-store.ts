import { createHash } from "node:crypto";
import { THUMBNAIL_FILE } from "../../shared/thumbnail.ts";
import type { StorageDriver } from "./storage-driver.ts";

export interface Thumbnail {
  bytes: Uint8Array;
  /** Strong ETag from the content, so it is the same after a restart. */
  etag: string;
  /** When the node pushed it; null when it was read back from storage after a restart. */
  updatedAtMs: number | null;
}

const etagOf = (bytes: Uint8Array): string => `"${createHash("sha256").update(bytes).digest("base64url").slice(0, 22)}"`;

/**
 * The latest thumbnail per stream id: in memory (bounded by total bytes, least recently pushed
 * or read goes first) and in the storage driver under `<streamId>/thumbnail.jpg`, so it survives
 * an origin restart and the end of the stream (the recording's poster). Writes per stream are
 * serialised and coalesced: a write in flight is followed by one write of the latest image only.
 */
export class ThumbnailStore {
  private readonly memory = new Map<string, Thumbnail>();
  private memoryBytes = 0;
  private readonly writing = new Map<string, Promise<void>>();
  /** Latest bytes waiting for the write in flight to finish. */
  private readonly queued = new Map<string, Uint8Array>();

  constructor(
    private readonly storage: StorageDriver,
    private readonly onError: (err: unknown) => void,
    private readonly memoryLimitBytes = 64 * 1024 * 1024,
  ) {}

  static key(streamId: string): string {
    return `${streamId}/${THUMBNAIL_FILE}`;
  }

  /** Replaces the stream's thumbnail (latest wins); true when the bytes differ from the current ones. */
  put(streamId: string, bytes: Uint8Array, nowMs = Date.now()): boolean {
    const etag = etagOf(bytes);
    const current = this.memory.get(streamId);
    if (current?.etag === etag) return false;
    this.remember(streamId, { bytes, etag, updatedAtMs: nowMs });
    this.persist(streamId, bytes);
    return true;
  }

  /** The stream's thumbnail from memory, else from storage; null when it never had one. */
  async get(streamId: string): Promise<Thumbnail | null> {
    const hit = this.memory.get(streamId);
    if (hit) {
      // Most recently used goes last.
      this.memory.delete(streamId);
      this.memory.set(streamId, hit);
      return hit;
    }
    const bytes = await this.storage.get(ThumbnailStore.key(streamId));
    if (!bytes) return null;
    // A push may have landed while storage was read: that one is newer.
    const pushed = this.memory.get(streamId);
    if (pushed) return pushed;
    const loaded: Thumbnail = { bytes, etag: etagOf(bytes), updatedAtMs: null };
    this.remember(streamId, loaded);
    return loaded;
  }

  /** Resolves once every write started so far has settled (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing.values()]);
  }

  private remember(streamId: string, t: Thumbnail): void {
    const old = this.memory.get(streamId);
    if (old) this.memoryBytes -= old.bytes.byteLength;
    this.memory.delete(streamId);
    this.memory.set(streamId, t);
    this.memoryBytes += t.bytes.byteLength;
    for (const [id, entry] of this.memory) {
      if (this.memoryBytes <= this.memoryLimitBytes || id === streamId) break;
      this.memory.delete(id);
      this.memoryBytes -= entry.bytes.byteLength;
    }
  }

  private persist(streamId: string, bytes: Uint8Array): void {
    if (this.writing.has(streamId)) {
      this.queued.set(streamId, bytes);
      return;
    }
    const run = async (): Promise<void> => {
      let next: Uint8Array | undefined = bytes;
      while (next) {
        try {
          await this.storage.put(ThumbnailStore.key(streamId), next);
        } catch (err) {
          this.onError(err);
        }
        next = this.queued.get(streamId);
        this.queued.delete(streamId);
      }
    };
    const done = run().finally(() => this.writing.delete(streamId));
    this.writing.set(streamId, done);
  }
}
