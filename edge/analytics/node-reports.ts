/**
 * `POST /api/v1/nodes/stats` (node token): a transcoder's per-stream figures for the period since
 * its previous report. Checked whole before anything is written — every number finite and in
 * range, every stream known and not assigned to another node — then written in one D1 batch to the
 * minute the report arrived in.
 *
 * Body: `{"streams": [{"stream_id", "seconds", "ingest_bytes", "dropped_frames", "encoder_speed" (number|null), "errors"}]}`.
 */
import { STREAM_ID_PATTERN } from "../../shared/ids.ts";
import type { FieldErrors } from "../http/api-error.ts";
import type { JsonObject } from "../http/json-body.ts";
import type { NodeStreamReport } from "./store.ts";

/** Streams in one report: the most a node could run (its slots are capped at 1,024 too). */
export const MAX_REPORT_STREAMS = 1024;
/** A report covers at most this long: a node that was cut off longer starts a new period. */
export const MAX_REPORT_SECONDS = 600;
/** Ingest faster than this is not a publisher we take (1 Gb/s). */
export const MAX_INGEST_BPS = 1e9;
/** ffmpeg drops at most every frame of every output: a generous bound on frames per second. */
export const MAX_DROPS_PER_S = 1000;
export const MAX_ENCODER_SPEED = 1000;
export const MAX_NODE_ERRORS = 10_000;

const STREAM_FIELDS = ["stream_id", "seconds", "ingest_bytes", "dropped_frames", "encoder_speed", "errors"];

const isNum = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
const isInt = (v: unknown): v is number => isNum(v) && Number.isInteger(v);

/** The reports of a body, or the field errors naming every problem (`streams[i].field`). */
export const parseNodeReport = (body: JsonObject): { reports: NodeStreamReport[]; errors: FieldErrors } => {
  const errors: FieldErrors = {};
  for (const k of Object.keys(body)) if (k !== "streams") errors[k] = "unknown field";
  const raw = body.streams;
  if (!Array.isArray(raw) || raw.length === 0) errors.streams = "required: a non-empty array of per-stream figures";
  else if (raw.length > MAX_REPORT_STREAMS) errors.streams = `must have at most ${MAX_REPORT_STREAMS} items`;
  if (errors.streams) return { reports: [], errors };
  const reports: NodeStreamReport[] = [];
  const seen = new Set<string>();
  for (const [i, item] of (raw as unknown[]).entries()) {
    const at = `streams[${i}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item)) {
      errors[at] = "must be an object";
      continue;
    }
    const o = item as Record<string, unknown>;
    const bad = (field: string, message: string) => void (errors[`${at}.${field}`] = message);
    for (const k of Object.keys(o)) if (!STREAM_FIELDS.includes(k)) bad(k, "unknown field");
    const { stream_id: id, seconds, ingest_bytes: bytes, dropped_frames: drops, encoder_speed: speed, errors: errs } = o;
    if (typeof id !== "string" || !STREAM_ID_PATTERN.test(id)) bad("stream_id", "must be a stream id");
    else if (seen.has(id)) bad("stream_id", "appears twice in this report");
    else seen.add(id);
    const secondsOk = isNum(seconds) && seconds > 0 && seconds <= MAX_REPORT_SECONDS;
    if (!secondsOk) bad("seconds", `must be a number above 0 and at most ${MAX_REPORT_SECONDS}`);
    if (!isInt(bytes) || bytes < 0) bad("ingest_bytes", "must be a non-negative integer");
    else if (secondsOk && (bytes * 8) / seconds > MAX_INGEST_BPS) bad("ingest_bytes", `must not exceed ${MAX_INGEST_BPS / 1e9} Gb/s over seconds`);
    if (!isInt(drops) || drops < 0) bad("dropped_frames", "must be a non-negative integer");
    else if (secondsOk && drops > Math.ceil(seconds * MAX_DROPS_PER_S)) bad("dropped_frames", `must not exceed ${MAX_DROPS_PER_S} per second`);
    if (speed !== null && (!isNum(speed) || speed < 0 || speed > MAX_ENCODER_SPEED)) bad("encoder_speed", `must be null or a number from 0 to ${MAX_ENCODER_SPEED}`);
    if (!isInt(errs) || errs < 0 || errs > MAX_NODE_ERRORS) bad("errors", `must be an integer from 0 to ${MAX_NODE_ERRORS}`);
    reports.push({ streamId: id as string, seconds: seconds as number, ingestBytes: bytes as number, droppedFrames: drops as number, encoderSpeed: (speed ?? null) as number | null, errors: errs as number });
  }
  return { reports, errors };
};

/**
 * Field errors for streams `nodeId` may not report on: unknown ones, and ones the control plane
 * assigned (streams.node_id) or reserved to another node.
 */
export const checkAssignments = async (db: D1Database, nodeId: string, reports: NodeStreamReport[]): Promise<FieldErrors> => {
  const ids = reports.map((r) => r.streamId);
  const found = new Map<string, { node_id: string | null; reserved_by: string | null }>();
  // D1 binds at most 100 parameters per statement.
  for (let i = 0; i < ids.length; i += 90) {
    const chunk = ids.slice(i, i + 90);
    const { results } = await db
      .prepare(
        `SELECT s.id, s.node_id, r.node_id AS reserved_by FROM streams s LEFT JOIN stream_reservations r ON r.stream_id = s.id
         WHERE s.id IN (${chunk.map((_, j) => `?${j + 1}`).join(", ")})`,
      )
      .bind(...chunk)
      .all<{ id: string; node_id: string | null; reserved_by: string | null }>();
    for (const r of results) found.set(r.id, r);
  }
  const errors: FieldErrors = {};
  for (const [i, id] of ids.entries()) {
    const row = found.get(id);
    if (!row) errors[`streams[${i}].stream_id`] = `no stream ${id}`;
    else if ((row.node_id !== null && row.node_id !== nodeId) || (row.reserved_by !== null && row.reserved_by !== nodeId)) {
      errors[`streams[${i}].stream_id`] = `stream ${id} is assigned to another node`;
    }
  }
  return errors;
};
