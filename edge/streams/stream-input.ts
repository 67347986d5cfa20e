import { FieldReader } from "../http/fields.ts";
import { assertNoFieldErrors, unknownFields, type JsonObject } from "../http/json-body.ts";
import { DESCRIPTION_MAX, DVR_WINDOW_MAX, RETENTION_DAYS_MAX, LATENCY_MODES, normaliseTag, TAG_RULE, TAGS_MAX, TITLE_MAX, VISIBILITIES } from "./model.ts";
import { resolveCategory, type StreamPatch } from "./stream-store.ts";

export const STREAM_FIELDS = ["title", "description", "category", "tags", "latency_mode", "enable_recording", "dvr_window", "recording_retention_days", "visibility"] as const;

/**
 * Validates the settable fields of a stream (create: `title` required; patch: at least one field).
 * Every problem is reported at once as 400 `{ error, fields }`; `category` accepts a slug or a
 * name (`"gaming"`, `"Gaming"`) and may be null to clear it.
 */
export const readStreamInput = async (db: D1Database, body: JsonObject, mode: "create" | "patch"): Promise<StreamPatch> => {
  const f = new FieldReader(body);
  Object.assign(f.errors, unknownFields(body, STREAM_FIELDS));
  if (mode === "patch" && Object.keys(body).length === 0) f.fail("body", `must set at least one of: ${STREAM_FIELDS.join(", ")}`);
  const out: StreamPatch = {};
  out.title = f.string("title", { required: mode === "create", min: 1, max: TITLE_MAX });
  out.description = f.string("description", { max: DESCRIPTION_MAX });
  out.tags = f.stringArray("tags", { maxItems: TAGS_MAX, item: normaliseTag, itemMessage: TAG_RULE });
  out.latency_mode = f.oneOf("latency_mode", LATENCY_MODES);
  out.enable_recording = f.boolean("enable_recording");
  out.dvr_window = f.integer("dvr_window", { min: 0, max: DVR_WINDOW_MAX });
  out.recording_retention_days = f.integer("recording_retention_days", { min: 1, max: RETENTION_DAYS_MAX });
  out.visibility = f.oneOf("visibility", VISIBILITIES);
  if (f.has("category") && body.category === null) {
    out.category = null;
  } else {
    const category = f.string("category", { min: 1, max: 64 });
    if (category !== undefined) {
      const slug = await resolveCategory(db, category);
      if (slug) out.category = slug;
      else f.fail("category", "unknown category (see GET /api/v1/categories)");
    }
  }
  assertNoFieldErrors(f.errors);
  for (const key of Object.keys(out) as (keyof StreamPatch)[]) if (out[key] === undefined) delete out[key];
  return out;
};
