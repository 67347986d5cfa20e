import { EDGE_DEFAULTS } from "../config.ts";
import type { Fetched } from "./fetched.ts";

interface Entry {
  value: Fetched;
  expiresAt: number;
  bytes: number;
}

/** Seconds an object stays in isolate memory at most, whatever its edge lifetime. */
export const MEMORY_TIER_MAX_SECONDS = 30;
export const MEMORY_TIER_DEFAULT_BYTES = EDGE_DEFAULTS.memoryCacheMb * 1024 * 1024;

/**
 * The isolate's own copy of the objects it just served, in front of the Cache API. Every viewer of
 * a live stream asks for the same few objects within a part target of each other, and reading the
 * Cache API costs a lookup and a body copy each time; a hit here costs a map lookup. Bounded by
 * bytes (least recently used goes first) and by MEMORY_TIER_MAX_SECONDS, so a purge or a refresh
 * elsewhere is seen by this isolate within that time, and so it never holds a stream's history.
 */
export class MemoryTier {
  private readonly entries = new Map<string, Entry>();
  private used = 0;

  constructor(
    private readonly maxBytes = MEMORY_TIER_DEFAULT_BYTES,
    private readonly now: () => number = Date.now,
  ) {}

  get bytes(): number {
    return this.used;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): Fetched | null {
    const entry = this.entries.get(key);
    if (!entry) return null;
    if (entry.expiresAt <= this.now()) {
      this.drop(key, entry);
      return null;
    }
    // Map order is the LRU order: re-inserting moves the key to the young end.
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  /** Keeps `value` until `expiresAt` (ms) or MEMORY_TIER_MAX_SECONDS from now, whichever is sooner. */
  set(key: string, value: Fetched, expiresAt: number): void {
    const existing = this.entries.get(key);
    if (existing) this.drop(key, existing);
    const until = Math.min(expiresAt, this.now() + MEMORY_TIER_MAX_SECONDS * 1000);
    const bytes = value.body.byteLength + 256;
    if (until <= this.now() || bytes > this.maxBytes / 4) return;
    this.entries.set(key, { value, expiresAt: until, bytes });
    this.used += bytes;
    this.evict();
  }

  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry) this.drop(key, entry);
    return entry !== undefined;
  }

  private drop(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.used -= entry.bytes;
  }

  private evict(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (this.used <= this.maxBytes && entry.expiresAt > now) break;
      this.drop(key, entry);
    }
  }
}
