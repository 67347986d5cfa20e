import { gzipSync } from "node:zlib";

export interface Rendered {
  text: string;
  gzip: Uint8Array;
  /** `text` as UTF-8, encoded on the first request without gzip and shared by the rest. */
  bytes?: Uint8Array;
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
    return this.getRendered(key, version, () => {
      const text = render();
      return { text, gzip: new Uint8Array(gzipSync(text, { level: 6 })) };
    });
  }

  /** Like `get`, for a renderer that produces the gzip bytes itself (core-origin/playlist/media-renderer.ts). */
  getRendered(key: string, version: number, render: () => Rendered): Rendered {
    const hit = this.entries.get(key);
    if (hit && hit.version === version) return hit.value;
    const value = render();
    this.entries.delete(key);
    this.entries.set(key, { version, value });
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value!);
    return value;
  }

  deletePrefix(prefix: string): void {
    for (const key of this.entries.keys()) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
