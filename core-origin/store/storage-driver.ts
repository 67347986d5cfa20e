import { mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

/** Where segments go once they leave the in-memory window; the DVR/VOD work reads them back. */
export interface StorageDriver {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | null>;
  getRange(key: string, offset: number, length: number): Promise<Uint8Array | null>;
  deletePrefix(prefix: string): Promise<void>;
}

const KEY_RE = /^[a-z0-9][a-z0-9_.-]*(\/[a-z0-9][a-z0-9_.-]*)*$/;

/** Stores objects as files under one root; keys are validated and resolved so nothing escapes it. */
export class LocalDirStorage implements StorageDriver {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  private resolve(key: string): string {
    if (!KEY_RE.test(key) || key.split("/").some((s) => s === "." || s === "..")) {
      throw new Error(`invalid storage key "${key}"`);
    }
    const full = path.resolve(this.root, key);
    if (!full.startsWith(this.root + path.sep)) throw new Error(`storage key "${key}" escapes the root`);
    return full;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const file = this.resolve(key);
    await mkdir(path.dirname(file), { recursive: true });
    // Write then rename would be atomic; a torn segment is only possible on a crash mid-write and is never listed.
    await writeFile(file, bytes);
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.resolve(key)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    let fh;
    try {
      fh = await open(this.resolve(key), "r");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw e;
    }
    try {
      const buf = new Uint8Array(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return bytesRead === length ? buf : null;
    } finally {
      await fh.close();
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    await rm(this.resolve(prefix), { recursive: true, force: true });
  }
}
