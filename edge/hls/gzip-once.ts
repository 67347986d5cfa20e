import type { Fetched } from "./fetched.ts";

/**
 * Gzipped bodies by the Fetched object they were made from. A blocking playlist is answered to
 * every viewer of a rendition at once from the same Fetched (coalesced fill, memory tier), so it is
 * compressed once rather than once per response. Only finished bytes are shared: a promise made in
 * one request must not be awaited by another (workerd cancels such waiters when the first ends).
 */
const compressed = new WeakMap<Fetched, Uint8Array>();

export const gzipBytes = async (body: Uint8Array): Promise<Uint8Array> =>
  new Uint8Array(await new Response(new Blob([body as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());

/**
 * The fill compresses a playlist before anyone is answered (Fetched.gzip), so a herd of coalesced
 * viewers resumed at once does not compress it once each; an object read back from the Cache API
 * by a cold isolate is compressed here, once per Fetched.
 */
export const gzipOnce = async (fetched: Fetched): Promise<Uint8Array> => {
  const done = fetched.gzip ?? compressed.get(fetched);
  if (done) return done;
  const bytes = await gzipBytes(fetched.body);
  compressed.set(fetched, bytes);
  return bytes;
};
