import type { Counter, Histogram } from "prom-client";
import type { StorageDriver } from "./storage-driver.ts";

export type StorageOp = "put" | "get" | "get_range" | "delete";

export interface StorageMetrics {
  storageSeconds: Histogram<"op">;
  storageErrors: Counter<"op">;
  storageWrittenBytes: Counter;
}

/**
 * A storage driver that times every call. A slow or failing disk shows up here before it shows up
 * anywhere else: segments not yet persisted cannot leave memory, and DVR reads come from storage.
 */
export class MeteredStorage implements StorageDriver {
  constructor(
    private readonly inner: StorageDriver,
    private readonly m: StorageMetrics,
  ) {}

  private async timed<T>(op: StorageOp, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await call();
    } catch (err) {
      this.m.storageErrors.inc({ op });
      throw err;
    } finally {
      this.m.storageSeconds.observe({ op }, (performance.now() - started) / 1000);
    }
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    await this.timed("put", () => this.inner.put(key, bytes));
    this.m.storageWrittenBytes.inc(bytes.byteLength);
  }

  get(key: string): Promise<Uint8Array | null> {
    return this.timed("get", () => this.inner.get(key));
  }

  getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    return this.timed("get_range", () => this.inner.getRange(key, offset, length));
  }

  deletePrefix(prefix: string): Promise<void> {
    return this.timed("delete", () => this.inner.deletePrefix(prefix));
  }
}
