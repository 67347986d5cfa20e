import type { Context } from "hono";
import { verifyNodeToken } from "../../shared/tokens.ts";
import { bearerToken } from "../accounts/auth.ts";
import { unauthorized, unavailable } from "../http/api-error.ts";
import { edgeConfig } from "../config.ts";

/** The node id of a valid node token (`Authorization: Bearer <node token>`); 401 otherwise, 503 without NODE_SECRET. */
export const requireNode = async (c: Context<{ Bindings: Env }>): Promise<string> => {
  const secret = edgeConfig(c.env).nodeSecret;
  if (secret.length < 16) throw unavailable("node endpoints are disabled: NODE_SECRET is not configured");
  const token = bearerToken(c.req.header("authorization"));
  const nodeId = token ? await verifyNodeToken(secret, token) : null;
  if (!nodeId) throw unauthorized("a valid node token is required");
  return nodeId;
};
