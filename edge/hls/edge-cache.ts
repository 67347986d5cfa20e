import type { Fetched } from "./fetched.ts";

const FETCHED_AT = "x-cascade-fetched-at";
const LAST_MODIFIED = "x-cascade-last-modified";
const ETAG = "x-cascade-etag";
const ORIGIN_MAX_AGE = "x-cascade-origin-max-age";

/**
 * The Cache API seen as a store of Fetched objects. Entries are kept identity-encoded with the
 * time the origin answered, from which `Age` is derived on every hit (checklist rule 63).
 */
export class EdgeCache {
  constructor(
    private readonly cache: Promise<Cache>,
    /** A private host: keys never collide with the Worker's own URLs or another zone's. */
    private readonly keyBase = "https://edge-cache.cascade.internal/",
  ) {}

  private request(key: string): Request {
    return new Request(this.keyBase + key);
  }

  async get(key: string): Promise<Fetched | null> {
    const hit = await (await this.cache).match(this.request(key));
    if (!hit) return null;
    return {
      status: Number(hit.headers.get("x-cascade-status") ?? hit.status),
      contentType: hit.headers.get("content-type") ?? "application/octet-stream",
      body: new Uint8Array(await hit.arrayBuffer()),
      fetchedAt: Number(hit.headers.get(FETCHED_AT) ?? Date.now()),
      lastModified: hit.headers.get(LAST_MODIFIED),
      etag: hit.headers.get(ETAG),
      maxAge: hit.headers.has(ORIGIN_MAX_AGE) ? Number(hit.headers.get(ORIGIN_MAX_AGE)) : null,
    };
  }

  async put(key: string, value: Fetched, ttlSeconds: number): Promise<void> {
    if (ttlSeconds <= 0) return;
    const headers = new Headers({
      "content-type": value.contentType,
      "cache-control": `public, max-age=${Math.round(ttlSeconds)}`,
      [FETCHED_AT]: String(value.fetchedAt),
      // The Cache API refuses to store some statuses (e.g. 206); errors are stored as 200 plus this.
      "x-cascade-status": String(value.status),
    });
    if (value.lastModified) headers.set(LAST_MODIFIED, value.lastModified);
    if (value.etag) headers.set(ETAG, value.etag);
    if (value.maxAge !== undefined && value.maxAge !== null) headers.set(ORIGIN_MAX_AGE, String(value.maxAge));
    await (await this.cache).put(this.request(key), new Response(value.body as Uint8Array<ArrayBuffer>, { status: 200, headers }));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.cache).delete(this.request(key));
  }
}
