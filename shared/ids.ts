/** Strict identifier patterns shared by the transcoder, the origin and the edge. */

/** Stream ids appear in URLs and storage paths: lowercase, digits, `-` and `_`, 1–64 chars. */
export const STREAM_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Rendition names (`720p`, `audio`) appear in URLs and storage paths too. */
export const RENDITION_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** Recording ids (edge/db/ids.ts randomId: lowercase base32) appear in R2 keys and URLs: 8–64 lowercase letters and digits. */
export const RECORDING_ID_PATTERN = /^[a-z0-9]{8,64}$/;

export const isStreamId = (value: string): boolean => STREAM_ID_PATTERN.test(value);
export const isRecordingId = (value: string): boolean => RECORDING_ID_PATTERN.test(value);
export const isRenditionName = (value: string): boolean => RENDITION_PATTERN.test(value);

/** Parses a non-negative decimal integer without sign, exponent or leading zeros; anything else is null. */
export const parseUint = (value: string | null | undefined): number | null => {
  if (value == null || !/^(0|[1-9][0-9]{0,14})$/.test(value)) return null;
  return Number(value);
};
