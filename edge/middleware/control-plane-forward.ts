import type { MiddlewareHandler } from "hono";
import { jsonError } from "../../shared/http/json-error.ts";
import { edgeConfig } from "../config.ts";

/** Paths under /api/v1 that every edge serves itself, whatever CONTROL_PLANE_URL says. */
export const isEdgeLocalApiPath = (path: string): boolean => path.startsWith("/api/v1/edge/") || path === "/api/v1/live" || /^\/api\/v1\/streams\/[^/]+\/heartbeat$/.test(path);

/** Set on forwarded requests: the receiving edge serves them itself (no forwarding loops). */
export const FORWARDED_HEADER = "x-cascade-forwarded-by";

/**
 * When `CONTROL_PLANE_URL` is set, passes control-plane requests (`/api/v1/*` except the edge's
 * own endpoints) to that URL unchanged — method, path, query, headers, body — and answers with its
 * response. Locally, `npm start --edges N` points edges 2..N at edge-1 so all of them share one
 * D1 database, as they would in production where D1 is global and this stays unset.
 */
export const forwardControlPlane = (send: (request: Request) => Promise<Response>): MiddlewareHandler<{ Bindings: Env }> => async (c, next) => {
  const { controlPlaneUrl: target, edgeId } = edgeConfig(c.env);
  const url = new URL(c.req.url);
  if (!target || isEdgeLocalApiPath(url.pathname) || c.req.header(FORWARDED_HEADER) !== undefined) return next();
  const destination = new URL(url.pathname + url.search, target);
  const headers = new Headers(c.req.raw.headers);
  headers.delete("host");
  headers.set(FORWARDED_HEADER, edgeId);
  const hasBody = !["GET", "HEAD"].includes(c.req.method);
  try {
    const res = await send(new Request(destination, { method: c.req.method, headers, body: hasBody ? c.req.raw.body : null, redirect: "manual" }));
    return new Response(res.body, res);
  } catch (err) {
    return jsonError(502, "control plane unreachable", { control_plane: target, detail: err instanceof Error ? err.message : String(err) });
  }
};
