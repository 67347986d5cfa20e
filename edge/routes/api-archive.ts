import { Hono, type Context } from "hono";
import { ARCHIVE_PREFIX } from "../../shared/archive-protocol.ts";
import { requireDb } from "../db/database.ts";
import { invalidFields, unavailable } from "../http/api-error.ts";
import { requireNode } from "../nodes/node-auth.ts";
import { archiveTarget, ingestArchiveObject, listArchive } from "../recordings/archive-ingest.ts";

const bucketOf = (env: Env): R2Bucket => {
  if (!env.RECORDINGS) throw unavailable("recordings are disabled: the R2 binding RECORDINGS is not configured");
  return env.RECORDINGS;
};

/**
 * Archive uploads from core-origin into R2 (node token; shared/archive-protocol.ts) and an admin
 * listing of what a recording has there. Edge-local (`/api/v1/edge/…`): never forwarded to
 * CONTROL_PLANE_URL; the origin archives to the edge whose D1 holds the recordings.
 */
export const archiveRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  const put = async (c: Context<{ Bindings: Env }>, rendition: string | null) => {
    await requireNode(c);
    const target = archiveTarget(c.req.param("recordingId") ?? "", rendition, c.req.param("file") ?? "");
    const result = await ingestArchiveObject(requireDb(c.env), bucketOf(c.env), target, c.req.raw);
    return c.json(result.body, result.status);
  };
  app.put(`${ARCHIVE_PREFIX}/:recordingId/:file`, (c) => put(c, null));
  app.put(`${ARCHIVE_PREFIX}/:recordingId/:rendition/:file`, (c) => put(c, c.req.param("rendition")));

  app.get(`${ARCHIVE_PREFIX}/:recordingId/objects`, async (c) => {
    const id = c.req.param("recordingId");
    archiveTarget(id, null, "manifest.json");
    const limitText = c.req.query("limit") ?? "1000";
    const limit = Number(limitText);
    if (!/^\d{1,4}$/.test(limitText) || limit < 1 || limit > 1000) throw invalidFields({ limit: "must be from 1 to 1000" });
    const cursor = c.req.query("cursor");
    if (cursor !== undefined && (cursor.length === 0 || cursor.length > 1024)) throw invalidFields({ cursor: "invalid" });
    return c.json(await listArchive(requireDb(c.env), bucketOf(c.env), id, cursor, limit));
  });
  return app;
};
