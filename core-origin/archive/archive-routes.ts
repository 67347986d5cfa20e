import { Hono } from "hono";
import { isRecordingId, isStreamId } from "../../shared/ids.ts";
import { PUSH_PREFIX } from "../../shared/push-protocol.ts";
import { readLimitedBody } from "../../shared/http/read-body.ts";
import { jsonError } from "../http/responses.ts";
import { nodeAuth } from "../push/node-auth.ts";
import type { Archiver } from "./archiver.ts";

/**
 * The control plane's archive endpoints (node token), see shared/archive-protocol.ts:
 * `POST /ingest/v1/streams/:id/archive {"recording_id"}` converts a DVR-only recording (archives
 * what the origin still holds) → `{queued}`; `GET /ingest/v1/streams/:id/archive[?recording_id=]`
 * → ArchiveStatus (`pending` is what the edge has not acknowledged yet).
 */
export const archiveRoutes = (archiver: Archiver, nodeSecret: string) => {
  const app = new Hono<{ Variables: { nodeId: string } }>();
  app.use(`${PUSH_PREFIX}/:id/archive`, nodeAuth(nodeSecret));

  app.post(`${PUSH_PREFIX}/:id/archive`, async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return jsonError(400, "invalid stream id");
    const body = await readLimitedBody(c.req.raw, 1024);
    if (!body.ok) return jsonError(413, `body exceeds ${body.limit} bytes`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body.bytes));
    } catch {
      return jsonError(400, "body is not valid JSON");
    }
    const recordingId = (parsed as { recording_id?: unknown } | null)?.recording_id;
    if (typeof recordingId !== "string" || !isRecordingId(recordingId)) return jsonError(400, "recording_id is missing or invalid", { fields: { recording_id: "must be a recording id" } });
    const result = await archiver.convert(id, recordingId);
    if (!result.ok) return jsonError(result.status, result.error);
    return c.json({ stream_id: id, recording_id: recordingId, queued: result.queued });
  });

  app.get(`${PUSH_PREFIX}/:id/archive`, async (c) => {
    const id = c.req.param("id");
    if (!isStreamId(id)) return jsonError(400, "invalid stream id");
    const recordingId = c.req.query("recording_id");
    if (recordingId !== undefined && !isRecordingId(recordingId)) return jsonError(400, "invalid recording_id");
    try {
      await archiver.start();
    } catch (err) {
      return jsonError(503, `the archive journal could not be opened: ${(err as Error).message}`);
    }
    return c.json(archiver.status(id, recordingId), 200, { "cache-control": "no-store" });
  });

  return app;
};
