/**
 * What the go-live saga tells the node about a stream in configure_encoders
 * (`POST /control/streams/:id/expect`, body `{dvr_window, recording_id, record}`, see
 * edge/recordings/stream-options.ts), and how it reaches the origin: the stream manifest's
 * `dvrWindowS` and `recording: {id, mode}`.
 */
import { RECORDING_ID_PATTERN } from "../../shared/ids.ts";
import { MAX_DVR_WINDOW_S, type ManifestRecording, type StreamManifest } from "../../shared/push-protocol.ts";

export interface NodeStreamOptions {
  /** Seconds of DVR window; null: the origin's default. */
  dvrWindowS: number | null;
  /** The broadcast's recording: `record` archives while live, `dvr` keeps a convertible DVR window. */
  recording: ManifestRecording | null;
}

export type ParsedStreamOptions = { ok: true; options: NodeStreamOptions } | { ok: false; problems: string[] };

/**
 * Parses an expect body. An empty body (or `{}`) is valid: no DVR setting, no recording. Fields
 * the node does not know are ignored, so the control plane can add some before every node knows them.
 */
export const parseStreamOptions = (body: unknown): ParsedStreamOptions => {
  if (body === null || body === undefined) return { ok: true, options: { dvrWindowS: null, recording: null } };
  if (typeof body !== "object" || Array.isArray(body)) return { ok: false, problems: ["body must be a JSON object"] };
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  let dvrWindowS: number | null = null;
  if (b.dvr_window !== undefined && b.dvr_window !== null) {
    if (typeof b.dvr_window !== "number" || !Number.isInteger(b.dvr_window) || b.dvr_window < 0 || b.dvr_window > MAX_DVR_WINDOW_S)
      problems.push(`dvr_window must be an integer from 0 to ${MAX_DVR_WINDOW_S}`);
    else dvrWindowS = b.dvr_window;
  }
  let recordingId: string | null = null;
  if (b.recording_id !== undefined && b.recording_id !== null) {
    if (typeof b.recording_id !== "string" || !RECORDING_ID_PATTERN.test(b.recording_id)) problems.push("recording_id is invalid");
    else recordingId = b.recording_id;
  }
  if (b.record !== undefined && typeof b.record !== "boolean") problems.push("record must be true or false");
  const record = b.record === true;
  if (record && recordingId === null && !problems.includes("recording_id is invalid")) problems.push("record needs a recording_id");
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, options: { dvrWindowS, recording: recordingId ? { id: recordingId, mode: record ? "record" : "dvr" } : null } };
};

/** The manifest fields these options add (nothing for a stream the control plane never configured). */
export const manifestOptionFields = (o: NodeStreamOptions | null): Pick<StreamManifest, "dvrWindowS" | "recording"> => ({
  ...(o && o.dvrWindowS !== null ? { dvrWindowS: o.dvrWindowS } : {}),
  ...(o?.recording ? { recording: { ...o.recording } } : {}),
});
