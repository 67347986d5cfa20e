import { PLAYBACK_TOKEN_PREFIX, PLAYBACK_TTL_DEFAULT_S, PLAYBACK_TTL_MAX_S, PLAYBACK_TTL_MIN_S, PLAYBACK_VIEWER_PATTERN } from "../../shared/playback-token.ts";
import { RECORDING_ID_PATTERN } from "../../shared/ids.ts";
import { FieldReader } from "../http/fields.ts";
import { assertNoFieldErrors, unknownFields, type JsonObject } from "../http/json-body.ts";

export const PLAYBACK_TOKEN_FIELDS = ["ttl_s", "viewer_id", "recording_id"] as const;

export interface PlaybackTokenInput {
  ttlS: number;
  viewerId?: string;
  recordingId?: string;
}

/** `POST …/playback-token` body: every field optional; 400 naming each bad or unknown one. */
export const readPlaybackTokenInput = (body: JsonObject): PlaybackTokenInput => {
  const f = new FieldReader(body);
  Object.assign(f.errors, unknownFields(body, PLAYBACK_TOKEN_FIELDS));
  const ttlS = f.integer("ttl_s", { min: PLAYBACK_TTL_MIN_S, max: PLAYBACK_TTL_MAX_S });
  const viewerId = f.string("viewer_id", { min: 1, max: 64, pattern: PLAYBACK_VIEWER_PATTERN, patternMessage: "must be 1–64 letters, digits, '-' or '_'", trim: false });
  const recordingId = f.string("recording_id", { min: 1, max: 64, pattern: RECORDING_ID_PATTERN, trim: false });
  assertNoFieldErrors(f.errors);
  return { ttlS: ttlS ?? PLAYBACK_TTL_DEFAULT_S, ...(viewerId !== undefined ? { viewerId } : {}), ...(recordingId !== undefined ? { recordingId } : {}) };
};

/**
 * Where a token plays. It is a path segment, not a query parameter, so the relative URIs inside the
 * playlists (`360p/index.m3u8`, `part3.1.m4s`) resolve below it in every player.
 */
export const signedStreamUrls = (streamId: string, token: string) => ({
  hls: `/hls/${streamId}/${PLAYBACK_TOKEN_PREFIX}${token}/master.m3u8`,
  watch: `/watch/${streamId}?t=${token}`,
});

export const signedVodUrl = (recordingId: string, token: string): string => `/vod/${recordingId}/${PLAYBACK_TOKEN_PREFIX}${token}/master.m3u8`;
