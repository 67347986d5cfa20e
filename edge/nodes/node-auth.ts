import type { Context } from "hono";
import { verifyNodeToken } from "../../shared/tokens.ts";
import { bearerToken } from "../accounts/auth.ts";
import type { EdgeEnv } from "../env.ts";
import { unauthorized, unavailable } from "../http/api-error.ts";

/** The node id of a valid node token (`Authorization: Bearer <node token>`); 401 otherwise, 503 without NODE_SECRET. */
export const requireNode = async (c: Context<{ Bindings: EdgeEnv }>): Promise<string> => {
  const secret = c.env.NODE_SECRET ?? "";
  if (secret.length < 16) throw unavailable("node endpoints are disabled: NODE_SECRET is not configured");
  const token = bearerToken(c.req.header("authorization"));
  const nodeId = token ? await verifyNodeToken(secret, token) : null;
  if (!nodeId) throw unauthorized("a valid node token is required");
  return nodeId;
};
