import type { MiddlewareHandler } from "hono";
import { verifyNodeToken } from "../../shared/tokens.ts";
import { jsonError } from "../http/responses.ts";

/** Bearer node-token check; verified tokens are remembered so the hot path skips the HMAC. */
export const nodeAuth = (secret: string): MiddlewareHandler<{ Variables: { nodeId: string } }> => {
  const verified = new Map<string, string>();
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const m = /^Bearer ([A-Za-z0-9._-]{1,200})$/.exec(header);
    if (!m) return jsonError(401, "missing or malformed node token");
    const token = m[1]!;
    let nodeId = verified.get(token) ?? null;
    if (!nodeId) {
      nodeId = await verifyNodeToken(secret, token);
      if (!nodeId) return jsonError(401, "invalid node token");
      if (verified.size > 1000) verified.clear();
      verified.set(token, nodeId);
    }
    c.set("nodeId", nodeId);
    await next();
    return undefined;
  };
};
