import { describe, expect, it } from "vitest";
import type { Fetched } from "./fetched.ts";
import { EdgeCache } from "./edge-cache.ts";
import { MEMORY_TIER_MAX_SECONDS, MemoryTier } from "./memory-tier.ts";

const object = (bytes: number): Fetched => ({ status: 200, contentType: "video/mp4", body: new Uint8Array(bytes), fetchedAt: 0, lastModified: null });

describe("MemoryTier", () => {
  it("answers until the entry's expiry, then forgets it", () => {
    let now = 1_000;
    const tier = new MemoryTier(1 << 20, () => now);
    tier.set("a", object(10), now + 2_000);
    expect(tier.get("a")?.body.byteLength).toBe(10);
    now += 1_999;
    expect(tier.get("a")).not.toBeNull();
    now += 1;
    expect(tier.get("a")).toBeNull();
    expect(tier.size).toBe(0);
    expect(tier.bytes).toBe(0);
  });

  it("never keeps anything longer than its own cap, whatever the edge lifetime", () => {
    let now = 0;
    const tier = new MemoryTier(1 << 20, () => now);
    tier.set("media", object(10), now + 365 * 86_400_000);
    now += MEMORY_TIER_MAX_SECONDS * 1000 - 1;
    expect(tier.get("media")).not.toBeNull();
    now += 1;
    expect(tier.get("media")).toBeNull();
  });

  it("drops the least recently used entries to stay within its byte budget", () => {
    const tier = new MemoryTier(4 * (1_000 + 256), () => 0);
    for (const k of ["a", "b", "c", "d"]) tier.set(k, object(1_000), 10_000);
    tier.get("a"); // a is now the most recently used
    tier.set("e", object(1_000), 10_000);
    expect(tier.get("b")).toBeNull();
    for (const k of ["a", "c", "d", "e"]) expect(tier.get(k), k).not.toBeNull();
    expect(tier.bytes).toBeLessThanOrEqual(4 * (1_000 + 256));
  });

  it("refuses an object larger than a quarter of the budget, and an already expired one", () => {
    const tier = new MemoryTier(4_000, () => 0);
    tier.set("big", object(1_001), 10_000);
    tier.set("gone", object(1), 0);
    expect(tier.size).toBe(0);
  });

  it("replacing and deleting keep the byte count exact", () => {
    const tier = new MemoryTier(1 << 20, () => 0);
    tier.set("a", object(100), 10_000);
    tier.set("a", object(300), 10_000);
    expect(tier.bytes).toBe(300 + 256);
    expect(tier.delete("a")).toBe(true);
    expect(tier.delete("a")).toBe(false);
    expect(tier.bytes).toBe(0);
  });
});

describe("EdgeCache with a memory tier", () => {
  it("answers media from isolate memory; playlists always from the Cache API", async () => {
    const cache = await caches.open(`memory-tier-${Date.now()}`);
    const edgeCache = new EdgeCache(Promise.resolve(cache), "https://edge-cache.test/", new MemoryTier(1 << 20));
    const part = "s1/180p/part3.1.m4s";
    const playlist = "s1/180p/index.m3u8?_HLS_msn=3&_HLS_part=1";
    await edgeCache.put(part, object(100), 60);
    await edgeCache.put(playlist, { ...object(50), contentType: "application/vnd.apple.mpegurl" }, 60);
    // Gone from the Cache API behind the tier's back (another isolate purged it, say).
    await cache.delete(new Request(`https://edge-cache.test/${part}`));
    await cache.delete(new Request(`https://edge-cache.test/${playlist}`));
    expect((await edgeCache.get(part))?.body.byteLength).toBe(100);
    expect(await edgeCache.get(playlist)).toBeNull();
    // delete() drops both tiers.
    expect(await edgeCache.delete(part)).toBe(true);
    expect(await edgeCache.get(part)).toBeNull();
  });
});
