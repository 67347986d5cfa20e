import { fourccAt } from "./byte-reader.ts";
import { Mp4FormatError } from "./errors.ts";

/** One ISO-BMFF box located inside a buffer. Offsets are absolute indexes into that buffer. */
export interface Mp4Box {
  /** Four-character code, one char per byte. */
  type: string;
  /** Index of the box's first (size) byte. */
  offset: number;
  /** Total size including the header. */
  size: number;
  /** 8, 16 with a 64-bit largesize, plus 16 for a `uuid` box's usertype. */
  headerSize: number;
  /** Index of the first payload byte (`offset + headerSize`). */
  payloadOffset: number;
  /** Index one past the last byte (`offset + size`). */
  end: number;
  /** The extended type of a `uuid` box. */
  usertype?: Uint8Array;
}

/** Boxes whose payload is nothing but child boxes. */
const PURE_CONTAINERS = new Set([
  "moov", "trak", "mdia", "minf", "stbl", "mvex", "moof", "traf", "edts", "dinf", "mfra", "sinf", "schi",
]);

/** Full boxes (version + flags) followed by an entry count, then the entries as boxes. */
const COUNTED_CONTAINERS = new Set(["stsd", "dref"]);

/**
 * Sample entries whose layout we know: their children (avcC, esds, ...) start after a fixed header
 * (SampleEntry 8 bytes + VisualSampleEntry 70, or + AudioSampleEntry 20).
 */
export const VISUAL_SAMPLE_ENTRIES = new Set(["avc1", "avc3", "hvc1", "hev1", "av01", "vp09", "encv"]);
export const AUDIO_SAMPLE_ENTRIES = new Set(["mp4a", "Opus", "fLaC", "ac-3", "ec-3", "enca"]);
const VISUAL_SAMPLE_ENTRY_HEADER = 78;
const AUDIO_SAMPLE_ENTRY_HEADER = 28;

/** Boxes that may precede a moof in a CMAF chunk or segment. */
const FRAGMENT_PRELUDE = new Set(["styp", "sidx", "ssix", "prft", "emsg", "free", "skip"]);

/**
 * Reads the box header at `offset`. The box must end by `limit` (the parent's end, or the buffer's):
 * a box claiming more than its parent holds is how truncation and garbage show up.
 */
export const readBoxHeader = (bytes: Uint8Array, offset: number, limit = bytes.length): Mp4Box => {
  if (limit - offset < 8) throw new Mp4FormatError(`truncated box header: ${limit - offset} bytes left`, offset);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = fourccAt(bytes, offset + 4);
  let size = view.getUint32(offset);
  let headerSize = 8;
  if (size === 1) {
    if (limit - offset < 16) throw new Mp4FormatError(`truncated largesize header of '${printable(type)}'`, offset);
    const large = view.getBigUint64(offset + 8);
    if (large > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new Mp4FormatError(`box '${printable(type)}' largesize ${large} exceeds 2^53`, offset);
    }
    size = Number(large);
    headerSize = 16;
  } else if (size === 0) {
    // "Extends to the end of the file": here, to the end of whatever encloses it.
    size = limit - offset;
  }
  let usertype: Uint8Array | undefined;
  if (type === "uuid") {
    if (limit - offset < headerSize + 16) throw new Mp4FormatError("truncated uuid box header", offset);
    usertype = bytes.subarray(offset + headerSize, offset + headerSize + 16);
    headerSize += 16;
  }
  if (size < headerSize) {
    throw new Mp4FormatError(`box '${printable(type)}' size ${size} smaller than its ${headerSize}-byte header`, offset);
  }
  if (size > limit - offset) {
    throw new Mp4FormatError(
      `box '${printable(type)}' of ${size} bytes overruns its container (${limit - offset} bytes left)`,
      offset,
    );
  }
  const box: Mp4Box = { type, offset, size, headerSize, payloadOffset: offset + headerSize, end: offset + size };
  if (usertype) box.usertype = usertype;
  return box;
};

/** The boxes exactly tiling `start..end`; throws if the last one does not end at `end`. */
export function* iterateBoxes(bytes: Uint8Array, start = 0, end = bytes.length): Generator<Mp4Box> {
  let offset = start;
  while (offset < end) {
    const box = readBoxHeader(bytes, offset, end);
    yield box;
    offset = box.end;
  }
}

export const listBoxes = (bytes: Uint8Array, start = 0, end = bytes.length): Mp4Box[] => [
  ...iterateBoxes(bytes, start, end),
];

/**
 * Where a box's children start, or null for a leaf. Sample entries are only containers past their
 * fixed header, so this needs the bytes, not just the type (QuickTime sound entries v1/v2 are longer).
 */
export const childrenOffset = (bytes: Uint8Array, box: Mp4Box): number | null => {
  if (PURE_CONTAINERS.has(box.type)) return box.payloadOffset;
  if (COUNTED_CONTAINERS.has(box.type)) return box.payloadOffset + 8;
  if (VISUAL_SAMPLE_ENTRIES.has(box.type)) return box.payloadOffset + VISUAL_SAMPLE_ENTRY_HEADER;
  if (AUDIO_SAMPLE_ENTRIES.has(box.type)) {
    const at = box.payloadOffset + 8;
    const version = at + 2 <= box.end ? ((bytes[at] ?? 0) << 8) | (bytes[at + 1] ?? 0) : 0;
    const extra = version === 1 ? 16 : version === 2 ? 36 : 0;
    return box.payloadOffset + AUDIO_SAMPLE_ENTRY_HEADER + extra;
  }
  return null;
};

export const isContainer = (bytes: Uint8Array, box: Mp4Box): boolean => childrenOffset(bytes, box) !== null;

/** The direct children of a container box. */
export const childBoxes = (bytes: Uint8Array, box: Mp4Box): Mp4Box[] => {
  const start = childrenOffset(bytes, box);
  if (start === null) throw new Error(`'${box.type}' is not a container box`);
  if (start > box.end) {
    throw new Mp4FormatError(`'${printable(box.type)}' too short for its fixed header`, box.offset);
  }
  return listBoxes(bytes, start, box.end);
};

/** First child of `parent` (or top-level box when parent is null) with the given type. */
export const findChild = (bytes: Uint8Array, parent: Mp4Box | null, type: string): Mp4Box | undefined => {
  const boxes = parent ? childBoxes(bytes, parent) : iterateBoxes(bytes);
  for (const box of boxes) if (box.type === type) return box;
  return undefined;
};

export const findChildren = (bytes: Uint8Array, parent: Mp4Box | null, type: string): Mp4Box[] =>
  (parent ? childBoxes(bytes, parent) : listBoxes(bytes)).filter((box) => box.type === type);

/** Follows a path of types from `parent` (or the top level), taking the first match at each step. */
export const findPath = (bytes: Uint8Array, parent: Mp4Box | null, ...types: string[]): Mp4Box | undefined => {
  let current = parent;
  for (const type of types) {
    const next = findChild(bytes, current, type);
    if (!next) return undefined;
    current = next;
  }
  return current ?? undefined;
};

/** Like findPath but a missing box is a format error, named by its full path. */
export const requirePath = (bytes: Uint8Array, parent: Mp4Box | null, ...types: string[]): Mp4Box => {
  const box = findPath(bytes, parent, ...types);
  if (!box) {
    const where = parent ? `${parent.type}/` : "";
    throw new Mp4FormatError(`missing ${where}${types.join("/")}`, parent?.offset);
  }
  return box;
};

/** A view (no copy) of a box's payload. */
export const boxPayload = (bytes: Uint8Array, box: Mp4Box): Uint8Array => bytes.subarray(box.payloadOffset, box.end);

/** Walks every known container below `box`, so a corrupt size anywhere inside is caught up front. */
export const checkTree = (bytes: Uint8Array, box: Mp4Box): void => {
  if (!isContainer(bytes, box)) return;
  for (const child of childBoxes(bytes, box)) checkTree(bytes, child);
};

/** Garbage usually decodes to control characters or high bytes in the type field. */
export const isPrintableFourcc = (type: string): boolean => /^[\x20-\x7e]{4}$/.test(type);

const printable = (type: string): string =>
  [...type].map((c) => (/[\x20-\x7e]/.test(c) ? c : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)).join("");

/** Runs a check and turns a format error into its message, the shape validators return. */
const problemOf = (check: () => string | null): string | null => {
  try {
    return check();
  } catch (err) {
    if (err instanceof Mp4FormatError) return err.message;
    throw err;
  }
};

/**
 * Checks that `bytes` is a CMAF/fMP4 initialization segment: ftyp first, then a moov with at least
 * one trak and an mvex (without mvex the file is a progressive MP4, which we cannot serve as parts).
 * Returns null when fine, else a one-line reason suitable for an HTTP 400 body.
 */
export const validateInitSegment = (bytes: Uint8Array): string | null =>
  problemOf(() => {
    const top = listBoxes(bytes);
    const first = top[0];
    if (!first) return "empty init segment";
    if (first.type === "styp") return "init segment starts with styp (a media segment marker), expected ftyp";
    if (first.type === "moof") return "got a media fragment (moof), expected an init segment";
    if (first.type !== "ftyp") return `init segment must start with ftyp, found '${printable(first.type)}'`;
    const media = top.find((box) => box.type === "moof" || box.type === "mdat");
    if (media) return `init segment must not carry media ('${media.type}' at byte ${media.offset})`;
    const moovs = top.filter((box) => box.type === "moov");
    const moov = moovs[0];
    if (!moov) return "init segment has no moov";
    if (moovs.length > 1) return "init segment has more than one moov";
    checkTree(bytes, moov);
    const traks = findChildren(bytes, moov, "trak");
    if (traks.length === 0) return "moov has no trak";
    if (!findChild(bytes, moov, "mvex")) return "moov has no mvex: not a fragmented MP4";
    for (const trak of traks) {
      if (!findChild(bytes, trak, "tkhd")) return "trak without tkhd";
      if (!findPath(bytes, trak, "mdia", "minf", "stbl", "stsd")) return "trak without mdia/minf/stbl/stsd";
    }
    return null;
  });

/**
 * Checks that `bytes` is one or more complete CMAF chunks: optional styp/sidx/prft/emsg, then
 * moof + mdat pairs, with box sizes tiling the buffer exactly and every traf carrying a tfdt
 * (without tfdt a fragment's position on the timeline is unknowable on its own).
 */
export const validateMediaFragment = (bytes: Uint8Array): string | null =>
  problemOf(() => {
    let pairs = 0;
    let pendingMoof: Mp4Box | null = null;
    for (const box of iterateBoxes(bytes)) {
      if (pendingMoof) {
        if (box.type !== "mdat") return `moof at byte ${pendingMoof.offset} is followed by '${printable(box.type)}', not mdat`;
        pendingMoof = null;
        pairs++;
        continue;
      }
      if (box.type === "moof") {
        const problem = checkMoof(bytes, box);
        if (problem) return problem;
        pendingMoof = box;
      } else if (box.type === "ftyp" || box.type === "moov") {
        return `got an init segment box ('${box.type}'), expected a media fragment`;
      } else if (box.type === "mdat") {
        return `mdat at byte ${box.offset} without a preceding moof`;
      } else if (!FRAGMENT_PRELUDE.has(box.type)) {
        return `unexpected '${printable(box.type)}' box in a media fragment`;
      }
    }
    if (pendingMoof) return `moof at byte ${pendingMoof.offset} has no mdat`;
    if (pairs === 0) return "media fragment has no moof";
    return null;
  });

const checkMoof = (bytes: Uint8Array, moof: Mp4Box): string | null => {
  checkTree(bytes, moof);
  if (!findChild(bytes, moof, "mfhd")) return "moof without mfhd";
  const trafs = findChildren(bytes, moof, "traf");
  if (trafs.length === 0) return "moof without traf";
  for (const traf of trafs) {
    if (!findChild(bytes, traf, "tfhd")) return "traf without tfhd";
    if (!findChild(bytes, traf, "tfdt")) return "traf without tfdt";
  }
  return null;
};
