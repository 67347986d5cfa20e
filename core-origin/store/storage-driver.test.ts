import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { listFiles } from "../../test/support/origin-harness.ts";
import { LocalDirStorage } from "./storage-driver.ts";

let base: string;
let storage: LocalDirStorage;

beforeEach(async () => {
  base = await mkdtemp(path.join(tmpdir(), "cascade-storage-unit-"));
  storage = new LocalDirStorage(path.join(base, "root"));
});
afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * seed + 7) & 0xff);

describe("LocalDirStorage", () => {
  it("stores, reads back and reads byte ranges", async () => {
    const data = bytes(1000, 3);
    await storage.put("demo/123/720p/seg0.m4s", data);
    expect(await storage.get("demo/123/720p/seg0.m4s")).toEqual(data);
    expect(await storage.getRange("demo/123/720p/seg0.m4s", 100, 50)).toEqual(data.subarray(100, 150));
    expect(await listFiles(base)).toEqual(["root/demo/123/720p/seg0.m4s"]);
  });

  it("answers null for a missing key and for a range past the end", async () => {
    await storage.put("a/b.m4s", bytes(10));
    expect(await storage.get("a/missing.m4s")).toBeNull();
    expect(await storage.getRange("a/missing.m4s", 0, 1)).toBeNull();
    expect(await storage.getRange("a/b.m4s", 5, 6)).toBeNull();
  });

  it("refuses keys that could leave the root, and writes nothing for them", async () => {
    const bad = [
      "../escape.m4s",
      "a/../../escape.m4s",
      "a/../b.m4s",
      "./a.m4s",
      "/etc/passwd",
      "a//b.m4s",
      "a/b/",
      "",
      "A/b.m4s",
      "a\\..\\b.m4s",
      "a/%2e%2e/b.m4s",
      "a/b\0.m4s",
      "..",
      "-a/b.m4s",
    ];
    for (const key of bad) {
      await expect(storage.put(key, bytes(4)), key).rejects.toThrow(/invalid storage key|escapes the root/);
      await expect(storage.get(key), key).rejects.toThrow();
      await expect(storage.getRange(key, 0, 1), key).rejects.toThrow();
    }
    expect(await listFiles(base)).toEqual([]);
  });

  it("deletePrefix removes one subtree only", async () => {
    await storage.put("demo/1/720p/seg0.m4s", bytes(4));
    await storage.put("demo/2/720p/seg0.m4s", bytes(4));
    await writeFile(path.join(base, "outside.txt"), "keep");
    await storage.deletePrefix("demo/1");
    expect(await listFiles(base)).toEqual(["outside.txt", "root/demo/2/720p/seg0.m4s"]);
    await expect(storage.deletePrefix("..")).rejects.toThrow();
    await expect(storage.deletePrefix("demo/../..")).rejects.toThrow();
    expect(await listFiles(base)).toEqual(["outside.txt", "root/demo/2/720p/seg0.m4s"]);
  });
});
