import { PUSH_PREFIX } from "../../shared/push-protocol.ts";
import { parseStreamPath } from "../../shared/urls.ts";

/**
 * The `route` label of `cascade_origin_http_requests_total`: a fixed set, so that neither stream
 * ids nor part numbers (nor a scanner's made-up paths) can grow the number of series.
 */
export const ROUTE_CLASSES = [
  "push_manifest",
  "push_init",
  "push_part",
  "push_segment",
  "push_rendition_end",
  "push_thumbnail",
  "push_end",
  "archive",
  "streams",
  "master",
  "playlist",
  "init",
  "part",
  "segment",
  "thumbnail",
  "healthz",
  "metrics",
  "other",
] as const;

export type RouteClass = (typeof ROUTE_CLASSES)[number];

const PUSH_RENDITION_RE = /^[^/]+\/renditions\/[^/]+\/(init\/[^/]+|parts\/[^/]+\/[^/]+|segments\/[^/]+|end)$/;

const pushRoute = (rest: string): RouteClass => {
  const parts = rest.split("/");
  if (parts.length === 1) return "push_manifest";
  if (parts.length === 2) {
    if (parts[1] === "end") return "push_end";
    if (parts[1] === "thumbnail.jpg") return "push_thumbnail";
    if (parts[1] === "archive") return "archive";
    return "other";
  }
  const m = PUSH_RENDITION_RE.exec(rest);
  if (!m) return "other";
  const what = m[1]!;
  if (what.startsWith("init/")) return "push_init";
  if (what.startsWith("parts/")) return "push_part";
  if (what.startsWith("segments/")) return "push_segment";
  return "push_rendition_end";
};

/** Classifies a request path by the route that serves it (the shape only; ids are not checked here). */
export const routeClass = (pathname: string): RouteClass => {
  if (pathname === "/healthz") return "healthz";
  if (pathname === "/metrics") return "metrics";
  if (pathname === "/live/streams") return "streams";
  if (pathname.startsWith(`${PUSH_PREFIX}/`)) return pushRoute(pathname.slice(PUSH_PREFIX.length + 1));
  const live = /^\/live\/[^/]+\/(.+)$/.exec(pathname);
  if (live) return parseStreamPath(live[1]!)?.kind ?? "other";
  return "other";
};
