import { gzipSync } from "node:zlib";

export interface Rendered {
  text: string;
  gzip: Uint8Array;
}

/**
 * Renders a playlist once per version: a thousand blocked requests woken by one part share the
 * same text and the same gzip bytes.
 */
export class RenderedCache {
  private readonly entries = new Map<string, { version: number; value: Rendered }>();

  /** Keys include the stream session, so old sessions' entries are evicted oldest-first past the limit. */
  constructor(private readonly limit = 4096) {}

  get(key: string, version: number, render: () => string): Rendered {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) return hit.value;
    const text = render();
    const value = { text, gzip: new Uint8Array(gzipSync(text, { level: 6 })) };
    this.entries.delete(key);
    this.entries.set(key, { version, value });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  deletePrefix(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
