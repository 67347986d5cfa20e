/**
 * The one check of `Authorization: Bearer <EDGE_ADMIN_TOKEN>` (the control plane's and operators'
 * edge endpoints), compared in constant time. The route-access middleware puts it in front of every
 * route the table marks `admin`.
 */
import type { MiddlewareHandler } from "hono";
import { timingSafeEqualText } from "../../shared/tokens.ts";
import { edgeConfig } from "../config.ts";
import { ApiError, unavailable } from "../http/api-error.ts";

export const requireAdminBearer: MiddlewareHandler<{ Bindings: Env }> = async (c, next) => {
  const expected = edgeConfig(c.env).adminToken;
  if (!expected) return unavailable("admin endpoints are disabled: EDGE_ADMIN_TOKEN is not configured").response();
  const auth = c.req.header("authorization") ?? "";
  const presented = auth.startsWith("Bearer ") ? auth.slice(7) : "";
  // A bare `Bearer` challenge, as these endpoints have always sent (user routes name the realm).
  if (!(await timingSafeEqualText(presented, expected))) return new ApiError(401, "missing or invalid bearer token", {}, { "www-authenticate": "Bearer" }).response();
  await next();
};
