import { Hono } from "hono";
import type { EdgeEnv } from "../env.ts";
import { HLS_JS_PATH, HLS_JS_SOURCE } from "../pages/hls-asset.ts";

export const pageRoutes = () => {
  const app = new Hono<{ Bindings: EdgeEnv }>();
  app.get(HLS_JS_PATH, () =>
    new Response(HLS_JS_SOURCE, {
      headers: { "content-type": "text/javascript; charset=utf-8", "cache-control": "public, max-age=31536000, immutable", "content-encoding": "gzip" },
    }),
  );
  return app;
};
