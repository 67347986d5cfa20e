import type { Fetched } from "./fetched.ts";
import type { MemoryTier } from "./memory-tier.ts";

const FETCHED_AT = "x-cascade-fetched-at";
const LAST_MODIFIED = "x-cascade-last-modified";
const ETAG = "x-cascade-etag";
const ORIGIN_MAX_AGE = "x-cascade-origin-max-age";
/** When the entry was stored: with its max-age, when it expires (a memory-tier copy must not outlive it). */
const STORED_AT = "x-cascade-stored-at";

/**
 * Media (init, parts, segments, thumbnails) goes through the memory tier; playlists do not: with
 * them in memory too, the offload benchmark under overload (1,000 players, 2 cores) saw blocking
 * playlists fetched upstream 1.12–1.20 times per edge instead of once.
 */
const remembers = (key: string): boolean => !key.includes(".m3u8");

/**
 * The Cache API seen as a store of Fetched objects. Entries are kept identity-encoded with the
 * time the origin answered, from which `Age` is derived on every hit (RFC 8216bis B.1, App. C). With a
 * memory tier, hot objects are answered from isolate memory and the Cache API is read only on a
 * miss there (a cold isolate, an object older than the tier keeps).
 */
export class EdgeCache {
  constructor(
    private readonly cache: Promise<Cache>,
    /** A private host: keys never collide with the Worker's own URLs or another zone's. */
    private readonly keyBase = "https://edge-cache.cascade.internal/",
    private readonly memory: MemoryTier | null = null,
  ) {}

  private request(key: string): Request {
    return new Request(this.keyBase + key);
  }

  async get(key: string): Promise<Fetched | null> {
    const remembered = remembers(key) ? this.memory?.get(key) : null;
    if (remembered) return remembered;
    const hit = await (await this.cache).match(this.request(key));
    if (!hit) return null;
    const fetched: Fetched = {
      status: Number(hit.headers.get("x-cascade-status") ?? hit.status),
      contentType: hit.headers.get("content-type") ?? "application/octet-stream",
      body: new Uint8Array(await hit.arrayBuffer()),
      fetchedAt: Number(hit.headers.get(FETCHED_AT) ?? Date.now()),
      lastModified: hit.headers.get(LAST_MODIFIED),
      etag: hit.headers.get(ETAG),
      maxAge: hit.headers.has(ORIGIN_MAX_AGE) ? Number(hit.headers.get(ORIGIN_MAX_AGE)) : null,
    };
    const storedFor = Number(/max-age=(\d+)/.exec(hit.headers.get("cache-control") ?? "")?.[1] ?? 0);
    const storedAt = Number(hit.headers.get(STORED_AT) ?? 0);
    if (this.memory && remembers(key) && storedFor > 0 && storedAt > 0) this.memory.set(key, fetched, storedAt + storedFor * 1000);
    return fetched;
  }

  async put(key: string, value: Fetched, ttlSeconds: number): Promise<void> {
    if (ttlSeconds <= 0) return;
    const headers = new Headers({
      "content-type": value.contentType,
      "cache-control": `public, max-age=${Math.round(ttlSeconds)}`,
      [FETCHED_AT]: String(value.fetchedAt),
      [STORED_AT]: String(Date.now()),
      // The Cache API refuses to store some statuses (e.g. 206); errors are stored as 200 plus this.
      "x-cascade-status": String(value.status),
    });
    if (value.lastModified) headers.set(LAST_MODIFIED, value.lastModified);
    if (value.etag) headers.set(ETAG, value.etag);
    if (value.maxAge !== undefined && value.maxAge !== null) headers.set(ORIGIN_MAX_AGE, String(value.maxAge));
    if (remembers(key)) this.memory?.set(key, value, Date.now() + ttlSeconds * 1000);
    await (await this.cache).put(this.request(key), new Response(value.body as Uint8Array<ArrayBuffer>, { status: 200, headers }));
  }

  async delete(key: string): Promise<boolean> {
    const inMemory = this.memory?.delete(key) ?? false;
    return (await (await this.cache).delete(this.request(key))) || inMemory;
  }
}
