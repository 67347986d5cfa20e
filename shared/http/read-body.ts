/**
 * Reads a request body, at most `limit` bytes: refused by Content-Length before a byte is read, or
 * as soon as the streamed bytes pass the limit (the rest is never read). Web-standard streams only,
 * for the Worker and the Node services alike.
 */
export type LimitedBody = { ok: true; bytes: Uint8Array } | { ok: false; tooLarge: true; limit: number };

export const readLimitedBody = async (req: Request, limit: number): Promise<LimitedBody> => {
  const tooLarge = { ok: false, tooLarge: true, limit } as const;
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return tooLarge;
  if (!req.body) return { ok: true, bytes: new Uint8Array(0) };
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return tooLarge;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return { ok: true, bytes: out };
};

/** Strict UTF-8 (a malformed byte is an error, not U+FFFD); null when the bytes are not UTF-8. */
export const decodeUtf8 = (bytes: Uint8Array): string | null => {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
};
