/**
 * Stream thumbnails: the transcoder emits a JPEG of the latest frame every few seconds, pushes it
 * to the origin (`PUT /ingest/v1/streams/<id>/thumbnail.jpg`), which serves it at
 * `/live/<id>/thumbnail.jpg`; the edge serves it at `/hls/<id>/thumbnail.jpg`. Web-standard code
 * only: the transcoder splits ffmpeg's MJPEG pipe with it, the origin validates pushes with it.
 */

/** File name below the stream root (origin `/live/<id>/`, edge `/hls/<id>/`). */
export const THUMBNAIL_FILE = "thumbnail.jpg";
export const THUMBNAIL_MIME = "image/jpeg";
/** Width of every thumbnail in pixels; the height keeps the aspect ratio (even). */
export const THUMBNAIL_WIDTH = 320;
/** Default seconds between thumbnails (CASCADE_THUMBNAIL_INTERVAL; 0 disables them). */
export const DEFAULT_THUMBNAIL_INTERVAL = 10;
/** Cache lifetime of a thumbnail, origin and edge (seconds): a new one comes every interval. */
export const THUMBNAIL_MAX_AGE = 5;
/** Cache lifetime of "no thumbnail yet" (seconds): a new stream gets its first within seconds. */
export const THUMBNAIL_MISSING_MAX_AGE = 2;

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;

/** Markers without a length field: TEM, RST0–7, SOI, EOI. */
const standalone = (m: number): boolean => m === 0x01 || (m >= 0xd0 && m <= 0xd9);

/**
 * Where the JPEG that starts at `start` ends (index after its EOI), walking marker segments by
 * their lengths and entropy-coded data by its byte stuffing; -1 when more bytes are needed, -2
 * when the bytes are not a JPEG. An 0xFF 0xD9 inside an APPn segment (EXIF) does not end it.
 */
const scanJpeg = (b: Uint8Array, start: number): number => {
  if (b.length - start < 2) return -1;
  if (b[start] !== 0xff || b[start + 1] !== SOI) return -2;
  let i = start + 2;
  let inScan = false;
  for (;;) {
    if (inScan) {
      // Entropy-coded data: 0xFF is followed by 0x00 (stuffed) or RSTn; anything else is a marker.
      while (i < b.length && b[i] !== 0xff) i++;
      if (i + 1 >= b.length) return -1;
      const next = b[i + 1]!;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) {
        i += 2;
        continue;
      }
      if (next === 0xff) {
        i++; // fill byte
        continue;
      }
      inScan = false;
    }
    if (i >= b.length) return -1;
    if (b[i] !== 0xff) return -2;
    // Any number of 0xFF fill bytes may precede a marker.
    while (i < b.length && b[i] === 0xff) i++;
    if (i >= b.length) return -1;
    const marker = b[i]!;
    i++;
    if (marker === EOI) return i;
    if (marker === SOI || marker === 0x00) return -2;
    if (standalone(marker)) continue;
    if (i + 2 > b.length) return -1;
    const length = (b[i]! << 8) | b[i + 1]!;
    if (length < 2) return -2;
    i += length;
    if (i > b.length) return -1;
    if (marker === SOS) inScan = true;
  }
};

/** A whole, well-formed JPEG: SOI first, segments that fit, EOI last (and nothing after it). */
export const isJpeg = (bytes: Uint8Array): boolean => bytes.length >= 4 && scanJpeg(bytes, 0) === bytes.length;

/** Why `bytes` is not a JPEG the origin should keep, or null when it is one. */
export const jpegProblem = (bytes: Uint8Array): string | null => {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== SOI) return "does not start with the JPEG SOI marker (FF D8)";
  if (bytes[bytes.length - 2] !== 0xff || bytes[bytes.length - 1] !== EOI) return "does not end with the JPEG EOI marker (FF D9)";
  const end = scanJpeg(bytes, 0);
  if (end === -2) return "malformed JPEG marker segments";
  if (end !== bytes.length) return "JPEG ends before the end of the body";
  return null;
};

/** Width and height from the first SOFn segment; null when there is none. */
export const jpegSize = (bytes: Uint8Array): { width: number; height: number } | null => {
  let i = 2;
  while (i + 4 <= bytes.length && bytes[i] === 0xff) {
    const marker = bytes[i + 1]!;
    if (standalone(marker)) {
      i += 2;
      continue;
    }
    const length = (bytes[i + 2]! << 8) | bytes[i + 3]!;
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      if (i + 9 > bytes.length) return null;
      return { height: (bytes[i + 5]! << 8) | bytes[i + 6]!, width: (bytes[i + 7]! << 8) | bytes[i + 8]! };
    }
    if (marker === SOS) return null;
    i += 2 + length;
  }
  return null;
};

/**
 * Splits a stream of concatenated JPEGs (ffmpeg `-f image2pipe -c:v mjpeg`) into whole images,
 * however the pipe chunks them. Bytes between images are skipped to the next SOI; an image that
 * grows past `maxBytes` without ending is dropped (resynchronising at the next SOI).
 */
export class JpegSplitter {
  private chunks: Uint8Array[] = [];
  private size = 0;
  /** Images dropped for being malformed or too large. */
  dropped = 0;

  constructor(private readonly maxBytes = 4 * 1024 * 1024) {}

  push(chunk: Uint8Array): Uint8Array[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    // What is buffered was scanned already and holds no whole image: only a new EOI byte can end one.
    if (!chunk.includes(EOI) && this.size <= this.maxBytes) return [];
    const joined = this.chunks.length === 1 ? chunk : new Uint8Array(this.size);
    if (joined !== chunk) {
      let off = 0;
      for (const c of this.chunks) {
        joined.set(c, off);
        off += c.length;
      }
    }
    const out: Uint8Array[] = [];
    let pos = 0;
    for (;;) {
      // Resynchronise on SOI.
      let s = pos;
      while (s + 1 < joined.length && !(joined[s] === 0xff && joined[s + 1] === SOI)) s++;
      if (s + 1 >= joined.length) {
        // Keep a trailing 0xFF: it may be the first half of the next SOI.
        pos = joined.length > 0 && joined[joined.length - 1] === 0xff ? joined.length - 1 : joined.length;
        break;
      }
      pos = s;
      const end = scanJpeg(joined, s);
      if (end === -1) {
        if (joined.length - s > this.maxBytes) {
          this.dropped++;
          pos = s + 2;
          continue;
        }
        break;
      }
      if (end === -2) {
        this.dropped++;
        pos = s + 2;
        continue;
      }
      out.push(joined.slice(s, end));
      pos = end;
    }
    const rest = joined.slice(pos);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return out;
  }
}
