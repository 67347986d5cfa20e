/** Largest body the control API reads (stream options, a stop reason): anything bigger is a 413. */
export const CONTROL_BODY_LIMIT = 16 * 1024;

export type ControlBody = { ok: true; value: unknown } | { ok: false; status: 400 | 413; error: string };

/**
 * The body of a control request as JSON (`null` when empty), read at most `limit` bytes: 413 by
 * Content-Length or as soon as the streamed bytes pass it, 400 when it is not UTF-8 JSON.
 */
export const readControlBody = async (req: Request, limit = CONTROL_BODY_LIMIT): Promise<ControlBody> => {
  const tooLarge = { ok: false, status: 413, error: `body exceeds ${limit} bytes` } as const;
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) return tooLarge;
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        return tooLarge;
      }
      chunks.push(value);
    }
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return { ok: false, status: 400, error: "body is not valid UTF-8" };
  }
  if (text.trim() === "") return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, status: 400, error: "body is not valid JSON" };
  }
};
