export type BodyResult = { ok: true; bytes: Uint8Array } | { ok: false; status: 400 | 413; error: string };

/** Reads a request body up to `limit` bytes; stops reading (413) as soon as it is exceeded. */
export const readBody = async (req: Request, limit: number): Promise<BodyResult> => {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return { ok: false, status: 413, error: `body exceeds ${limit} bytes` };
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
      return { ok: false, status: 413, error: `body exceeds ${limit} bytes` };
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return { ok: true, bytes: out };
};
