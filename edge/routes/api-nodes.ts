import { Hono } from "hono";
import { STREAM_EVENT_TYPES, type Severity, type StreamEventType } from "../../shared/events.ts";
import { STREAM_ID_PATTERN } from "../../shared/ids.ts";
import { streamControl } from "../do/stream-control/client.ts";
import { getStreamKeyRecord } from "../streams/stream-store.ts";
import { insertEventStatement } from "../streams/stream-events.ts";
import { requireDb } from "../db/database.ts";
import { ApiError, notFound, tooManyRequests } from "../http/api-error.ts";
import { FieldReader } from "../http/fields.ts";
import { assertNoFieldErrors, readJsonObject, unknownFields, type JsonObject } from "../http/json-body.ts";
import { checkStreamKey } from "../nodes/key-check.ts";
import { requireNode } from "../nodes/node-auth.ts";
import { HEARTBEAT_INTERVAL_S, recordHeartbeat, registerNode, type NodeCapacity } from "../nodes/node-store.ts";
import { edgeConfig } from "../config.ts";

const CAPACITY_FIELDS = ["slots", "slots_used", "encoder", "load", "speed"] as const;
const SEVERITIES: readonly string[] = ["info", "warning", "error", "critical"];
const ENCODER_PATTERN = /^[a-z0-9_]{1,32}$/;

const readCapacity = (f: FieldReader): Partial<NodeCapacity> => ({
  slots: f.integer("slots", { required: true, min: 0, max: 1024 }),
  slotsUsed: f.integer("slots_used", { min: 0, max: 1024 }) ?? 0,
  encoder: f.string("encoder", { required: true, min: 1, max: 32, pattern: ENCODER_PATTERN, patternMessage: "must be an encoder name such as h264_nvenc or libx264" }),
  load: f.number("load", { required: true, min: 0, max: 1000 }),
  speed: f.number("speed", { required: true, min: 0, max: 1000 }),
});

const readBody = async (c: Parameters<typeof readJsonObject>[0], allowed: readonly string[]): Promise<{ body: JsonObject; f: FieldReader }> => {
  const body = await readJsonObject(c);
  const f = new FieldReader(body);
  Object.assign(f.errors, unknownFields(body, allowed));
  return { body, f };
};

/**
 * Transcoder nodes (node token, `Authorization: Bearer <nodeId>.<sig>`): register and heartbeat
 * their capacity; ask whether a stream key may publish before telling the publisher it is live.
 */
export const nodeRoutes = () => {
  const app = new Hono<{ Bindings: Env }>();

  app.post("/api/v1/nodes/register", async (c) => {
    const nodeId = await requireNode(c);
    const { f } = await readBody(c, [...CAPACITY_FIELDS, "control_url", "rtmp_url", "version"]);
    const capacity = readCapacity(f);
    const controlUrl = f.string("control_url", { max: 256, pattern: /^https?:\/\/[^\s/]+(\/\S*)?$/, patternMessage: "must be an http(s) URL" }) ?? null;
    const rtmpUrl = f.string("rtmp_url", { max: 256, pattern: /^rtmps?:\/\/[^\s/]+(\/\S*)?$/, patternMessage: "must be an rtmp(s) URL" }) ?? null;
    const version = f.string("version", { max: 64 }) ?? null;
    assertNoFieldErrors(f.errors);
    await registerNode(requireDb(c.env), nodeId, { ...(capacity as NodeCapacity), controlUrl, rtmpUrl, version });
    return c.json({ node_id: nodeId, registered: true, heartbeat_interval_s: HEARTBEAT_INTERVAL_S });
  });

  app.post("/api/v1/nodes/heartbeat", async (c) => {
    const nodeId = await requireNode(c);
    const { f } = await readBody(c, CAPACITY_FIELDS);
    const capacity = readCapacity(f);
    assertNoFieldErrors(f.errors);
    if (!(await recordHeartbeat(requireDb(c.env), nodeId, capacity as NodeCapacity))) throw new ApiError(404, "node not registered; register first", { node_id: nodeId });
    return c.json({ node_id: nodeId, ok: true, heartbeat_interval_s: HEARTBEAT_INTERVAL_S });
  });

  app.post("/api/v1/ingest/authorize", async (c) => {
    const nodeId = await requireNode(c);
    const { f } = await readBody(c, ["stream_key", "app", "remote_address"]);
    const key = f.string("stream_key", { required: true, min: 1, max: 256, trim: false });
    f.string("app", { max: 64 });
    const remoteAddress = f.string("remote_address", { max: 64 });
    assertNoFieldErrors(f.errors);
    const result = await checkStreamKey(requireDb(c.env), { key: key!, nodeId, remoteAddress }, edgeConfig(c.env).keyCheckRateLimit);
    if ("limited" in result) throw tooManyRequests(result.retryAfterS);
    if (!result.allowed) return c.json({ allowed: false, stream_id: null, reason: result.reason }, 200, { "cache-control": "no-store" });
    // An authorised publish starts the go-live saga; the node does not wait for it (see README "Go-live saga").
    const control = streamControl(c.env, result.streamId);
    let saga: string | null = null;
    if (control) {
      try {
        saga = (await control.begin(nodeId)).phase;
      } catch (err) {
        console.error(JSON.stringify({ event: "saga_begin_failed", stream: result.streamId, error: String(err) }));
      }
    }
    return c.json({ allowed: true, stream_id: result.streamId, ...(saga ? { saga } : {}) }, 200, { "cache-control": "no-store" });
  });

  // A node reports what happened to a stream's pipeline: publish lost/restored, quality changes, the end.
  app.post("/api/v1/nodes/events", async (c) => {
    const nodeId = await requireNode(c);
    const { body, f } = await readBody(c, ["stream_id", "type", "severity", "data"]);
    const streamId = f.string("stream_id", { required: true, max: 64, pattern: STREAM_ID_PATTERN, patternMessage: "must be a stream id" });
    const type = f.string("type", { required: true, max: 32 });
    const severity = f.string("severity", { max: 16 }) ?? "info";
    if (type !== undefined && !(STREAM_EVENT_TYPES as readonly string[]).includes(type)) f.errors.type = `must be one of ${STREAM_EVENT_TYPES.join(", ")}`;
    if (!SEVERITIES.includes(severity)) f.errors.severity = `must be one of ${SEVERITIES.join(", ")}`;
    const data = body.data;
    if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) f.errors.data = "must be an object";
    assertNoFieldErrors(f.errors);
    const db = requireDb(c.env);
    if (!(await getStreamKeyRecord(db, streamId!))) throw notFound("stream");
    const report = { nodeId, type: type as StreamEventType, severity: severity as Severity, data: (data ?? {}) as Record<string, unknown> };
    const control = streamControl(c.env, streamId!);
    if (control) return c.json({ ok: true, ...(await control.nodeEvent(report)) });
    if (report.type !== "stream_started" && report.type !== "stream_ended") {
      await insertEventStatement(db, { streamId: streamId!, type: report.type, severity: report.severity, message: `Node ${nodeId}: ${report.type}`, details: { ...report.data, node_id: nodeId } }).run();
    }
    return c.json({ ok: true, phase: null });
  });

  return app;
};
