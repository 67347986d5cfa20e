import { decodeUtf8, readLimitedBody } from "../shared/http/read-body.ts";

/** Largest body the control API reads (stream options, a stop reason): anything bigger is a 413. */
export const CONTROL_BODY_LIMIT = 16 * 1024;

export type ControlBody = { ok: true; value: unknown } | { ok: false; status: 400 | 413; error: string };

/**
 * The body of a control request as JSON (`null` when empty), read at most `limit` bytes: 413 by
 * Content-Length or as soon as the streamed bytes pass it, 400 when it is not UTF-8 JSON.
 */
export const readControlBody = async (req: Request, limit = CONTROL_BODY_LIMIT): Promise<ControlBody> => {
  const body = await readLimitedBody(req, limit);
  if (!body.ok) return { ok: false, status: 413, error: `body exceeds ${limit} bytes` };
  const text = decodeUtf8(body.bytes);
  if (text === null) return { ok: false, status: 400, error: "body is not valid UTF-8" };
  if (text.trim() === "") return { ok: true, value: null };
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, status: 400, error: "body is not valid JSON" };
  }
};
