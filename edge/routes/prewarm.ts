import { Hono } from "hono";
import { isStreamId } from "../../shared/ids.ts";
import type { DeliveryDepsOf } from "../hls/deliver.ts";
import { jsonError } from "../../shared/http/json-error.ts";
import { prewarmStream } from "../prewarm/prewarm.ts";
import { purgeStream } from "../prewarm/purge.ts";
import { edgeConfig } from "../config.ts";

/** `POST /api/v1/edge/prewarm/<streamId>` and `/api/v1/edge/purge/<streamId>` for the control plane (admin bearer: checked in front of them, edge/middleware/route-access.ts). */
export const prewarmRoutes = (deps: DeliveryDepsOf) => {
  const app = new Hono<{ Bindings: Env }>();
  app.post("/api/v1/edge/prewarm/:streamId", async (c) => {
    const streamId = c.req.param("streamId");
    if (!isStreamId(streamId)) return jsonError(400, "invalid stream id");
    const report = await prewarmStream(streamId, deps(c), edgeConfig(c.env).edgeId);
    return c.json(report, report.ok ? 200 : 502);
  });
  // The saga's compensation of warmup_cdn: drop what a prewarm cached for the stream on this edge.
  app.post("/api/v1/edge/purge/:streamId", async (c) => {
    const streamId = c.req.param("streamId");
    if (!isStreamId(streamId)) return jsonError(400, "invalid stream id");
    return c.json(await purgeStream(streamId, deps(c).cache, edgeConfig(c.env).edgeId));
  });
  return app;
};
