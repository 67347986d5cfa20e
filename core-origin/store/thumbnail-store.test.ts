import { describe, expect, it } from "vitest";
import type { StorageDriver } from "./storage-driver.ts";
import { ThumbnailStore } from "./thumbnail-store.ts";

/** In-memory storage whose writes take a while and never overlap for one key unless the caller lets them. */
class SlowStorage implements StorageDriver {
  readonly objects = new Map<string, Uint8Array>();
  readonly writes: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  async put(key: string, bytes: Uint8Array): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, 20));
    this.objects.set(key, bytes);
    this.writes.push(`${key}=${bytes[0]}`);
    this.inFlight--;
  }
  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }
  async getRange(): Promise<Uint8Array | null> {
    return null;
  }
  async deletePrefix(): Promise<void> {}
}

const img = (n: number, size = 8) => new Uint8Array(size).fill(n);

describe("ThumbnailStore", () => {
  it("serialises writes per stream and writes only the latest after the one in flight", async () => {
    const storage = new SlowStorage();
    const store = new ThumbnailStore(storage, (e) => {
      throw e;
    });
    for (let n = 1; n <= 5; n++) store.put("demo", img(n));
    expect((await store.get("demo"))!.bytes[0]).toBe(5);
    await store.idle();
    expect(storage.maxInFlight).toBe(1);
    expect(storage.writes).toEqual(["demo/thumbnail.jpg=1", "demo/thumbnail.jpg=5"]);
  });

  it("keeps memory under its byte limit, reading evicted thumbnails back from storage", async () => {
    const storage = new SlowStorage();
    const store = new ThumbnailStore(storage, () => {}, 20);
    store.put("a", img(1));
    store.put("b", img(2));
    store.put("c", img(3));
    await store.idle();
    const a = await store.get("a");
    expect(a?.bytes[0]).toBe(1);
    expect(a?.updatedAtMs).toBeNull();
    expect(await store.get("nobody")).toBeNull();
  });

  it("a storage failure is reported and the thumbnail is still served from memory", async () => {
    const errors: unknown[] = [];
    const storage = new SlowStorage();
    storage.put = () => Promise.reject(new Error("disk full"));
    const store = new ThumbnailStore(storage, (e) => errors.push(e));
    store.put("demo", img(7));
    await store.idle();
    expect(errors).toHaveLength(1);
    expect((await store.get("demo"))?.bytes[0]).toBe(7);
  });
});
