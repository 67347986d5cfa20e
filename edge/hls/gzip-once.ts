import type { Fetched } from "./fetched.ts";

/**
 * Gzipped bodies by the Fetched object they were made from. A blocking playlist is answered to
 * every viewer of a rendition at once from the same Fetched (coalesced fill, memory tier), so it is
 * compressed once rather than once per response. Only finished bytes are shared: a promise made in
 * one request must not be awaited by another (workerd cancels such waiters when the first ends).
 */
const compressed = new WeakMap<Fetched, Uint8Array>();

export const gzipOnce = async (fetched: Fetched): Promise<Uint8Array> => {
  const done = compressed.get(fetched);
  if (done) return done;
  const stream = new Blob([fetched.body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
  compressed.set(fetched, bytes);
  return bytes;
};
