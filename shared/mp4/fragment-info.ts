import { findChild, findChildren, iterateBoxes, requirePath, type Mp4Box } from "./boxes.ts";
import { ByteReader } from "./byte-reader.ts";
import { Mp4FormatError } from "./errors.ts";

/** trex-level fallbacks for one track. A TrackInfo from parseInitSegment fits as is. */
export interface SampleDefaults {
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
  /** "soun" makes every sample sync whatever its flags say. */
  handler?: string;
}

export interface SampleInfo {
  /** In the track's mdhd timescale. */
  duration: number;
  /** Bytes in the mdat. */
  size: number;
  /** ISO 14496-12 sample flags as written (or defaulted). */
  flags: number;
  /** Composition time minus decode time, in timescale units (negative only with trun v1). */
  compositionOffset: number;
  isSync: boolean;
}

export interface TrackFragment {
  trackId: number;
  /** tfdt: decode time of the first sample, in timescale units. */
  baseMediaDecodeTime: number;
  samples: SampleInfo[];
  /** Sum of sample durations, in timescale units. */
  duration: number;
  /** Sum of sample sizes. */
  dataSize: number;
}

export interface MoofInfo {
  /** mfhd sequence_number. */
  sequenceNumber: number;
  /** Byte offset of the moof in the parsed buffer. */
  offset: number;
  /** Bytes of the moof plus its mdat. */
  size: number;
  tracks: TrackFragment[];
}

export interface FragmentInfo {
  /** Sequence number of the first moof. */
  sequenceNumber: number;
  /**
   * One entry per track, merged across every moof in the buffer (in order of first appearance):
   * baseMediaDecodeTime of the first, samples concatenated, durations summed.
   */
  tracks: TrackFragment[];
  /** The same data per moof, for buffers holding several moof+mdat pairs. */
  moofs: MoofInfo[];
}

/** Top-level boxes that may sit around moof+mdat pairs and carry nothing we need here. */
const IGNORED_TOP_LEVEL = new Set(["styp", "sidx", "ssix", "prft", "emsg", "free", "skip"]);

/** Guards loops over sample_count when a trun has no per-sample fields to bound it by its size. */
const MAX_SAMPLES_PER_TRUN = 1 << 20;

const TFHD_BASE_DATA_OFFSET = 0x000001;
const TFHD_SAMPLE_DESCRIPTION_INDEX = 0x000002;
const TFHD_DEFAULT_DURATION = 0x000008;
const TFHD_DEFAULT_SIZE = 0x000010;
const TFHD_DEFAULT_FLAGS = 0x000020;
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;

const TRUN_DATA_OFFSET = 0x000001;
const TRUN_FIRST_SAMPLE_FLAGS = 0x000004;
const TRUN_DURATION = 0x000100;
const TRUN_SIZE = 0x000200;
const TRUN_FLAGS = 0x000400;
const TRUN_CTO = 0x000800;

/**
 * A sync sample either does not depend on others (sample_depends_on == 2) or is not flagged
 * non-sync; the flags live in bits 24-25 and 16 (ISO 14496-12 §8.8.3.1).
 */
export const isSyncSampleFlags = (flags: number): boolean =>
  ((flags >>> 24) & 0x3) === 2 || ((flags >>> 16) & 0x1) === 0;

/**
 * Parses one or more moof+mdat pairs (optionally preceded by styp/sidx/prft/emsg).
 * `defaults` supplies trex values per track id; without them a track whose moof relies on trex
 * for sizes or durations is a format error.
 */
export const parseFragment = (
  bytes: Uint8Array,
  defaults?: ReadonlyMap<number, SampleDefaults>,
): FragmentInfo => {
  const moofs: MoofInfo[] = [];
  let pendingMoof: Mp4Box | null = null;
  for (const box of iterateBoxes(bytes)) {
    if (pendingMoof) {
      if (box.type !== "mdat") {
        throw new Mp4FormatError(`moof followed by '${box.type}', not mdat`, box.offset);
      }
      moofs.push(parseMoof(bytes, pendingMoof, box, defaults));
      pendingMoof = null;
    } else if (box.type === "moof") {
      pendingMoof = box;
    } else if (box.type === "ftyp" || box.type === "moov") {
      throw new Mp4FormatError(`'${box.type}' in a media fragment: this is an init segment`, box.offset);
    } else if (box.type === "mdat") {
      throw new Mp4FormatError("mdat without a preceding moof", box.offset);
    } else if (!IGNORED_TOP_LEVEL.has(box.type)) {
      throw new Mp4FormatError(`unexpected '${box.type}' box in a media fragment`, box.offset);
    }
  }
  if (pendingMoof) throw new Mp4FormatError("moof without mdat", pendingMoof.offset);
  const first = moofs[0];
  if (!first) throw new Mp4FormatError("no moof in media fragment");
  return { sequenceNumber: first.sequenceNumber, tracks: mergeTracks(moofs), moofs };
};

const mergeTracks = (moofs: MoofInfo[]): TrackFragment[] => {
  const byId = new Map<number, TrackFragment>();
  for (const moof of moofs) {
    for (const t of moof.tracks) {
      const merged = byId.get(t.trackId);
      if (!merged) {
        byId.set(t.trackId, { ...t, samples: [...t.samples] });
      } else {
        merged.samples.push(...t.samples);
        merged.duration += t.duration;
        merged.dataSize += t.dataSize;
      }
    }
  }
  return [...byId.values()];
};

const parseMoof = (
  bytes: Uint8Array,
  moof: Mp4Box,
  mdat: Mp4Box,
  defaults: ReadonlyMap<number, SampleDefaults> | undefined,
): MoofInfo => {
  const mfhd = requirePath(bytes, moof, "mfhd");
  const mr = new ByteReader(bytes, mfhd.payloadOffset, mfhd.end, "mfhd");
  mr.skip(4);
  const sequenceNumber = mr.u32();
  const trafs = findChildren(bytes, moof, "traf");
  if (trafs.length === 0) throw new Mp4FormatError("moof without traf", moof.offset);

  // Without an explicit base, the first traf's data is addressed from the moof and each later
  // traf continues where the previous one's data ended (ISO 14496-12 §8.8.7.1).
  let implicitBase: number | null = moof.offset;
  const tracks = trafs.map((traf) => {
    const parsed = parseTraf(bytes, traf, moof, mdat, implicitBase, defaults);
    implicitBase = parsed.dataEnd;
    return parsed.track;
  });
  return { sequenceNumber, offset: moof.offset, size: mdat.end - moof.offset, tracks };
};

interface TfhdDefaults {
  trackId: number;
  /** Null when tfhd gave an absolute base-data-offset, which addresses the original file, not this buffer. */
  base: number | null;
  duration: number | undefined;
  size: number | undefined;
  flags: number | undefined;
}

const parseTfhd = (bytes: Uint8Array, box: Mp4Box, moof: Mp4Box, implicitBase: number | null): TfhdDefaults => {
  const r = new ByteReader(bytes, box.payloadOffset, box.end, "tfhd");
  r.skip(1);
  const flags = r.u24();
  const trackId = r.u32();
  let base: number | null = flags & TFHD_DEFAULT_BASE_IS_MOOF ? moof.offset : implicitBase;
  if (flags & TFHD_BASE_DATA_OFFSET) {
    r.u64();
    base = null;
  }
  if (flags & TFHD_SAMPLE_DESCRIPTION_INDEX) r.skip(4);
  const duration = flags & TFHD_DEFAULT_DURATION ? r.u32() : undefined;
  const size = flags & TFHD_DEFAULT_SIZE ? r.u32() : undefined;
  const sampleFlags = flags & TFHD_DEFAULT_FLAGS ? r.u32() : undefined;
  return { trackId, base, duration, size, flags: sampleFlags };
};

const parseTraf = (
  bytes: Uint8Array,
  traf: Mp4Box,
  moof: Mp4Box,
  mdat: Mp4Box,
  implicitBase: number | null,
  defaults: ReadonlyMap<number, SampleDefaults> | undefined,
): { track: TrackFragment; dataEnd: number | null } => {
  const tfhd = parseTfhd(bytes, requirePath(bytes, traf, "tfhd"), moof, implicitBase);
  const trex = defaults?.get(tfhd.trackId);
  const allSync = trex?.handler === "soun";

  const tfdtBox = findChild(bytes, traf, "tfdt");
  if (!tfdtBox) throw new Mp4FormatError(`traf of track ${tfhd.trackId} has no tfdt`, traf.offset);
  const dr = new ByteReader(bytes, tfdtBox.payloadOffset, tfdtBox.end, "tfdt");
  const tfdtVersion = dr.u8();
  dr.skip(3);
  const baseMediaDecodeTime = tfdtVersion === 1 ? dr.u64() : dr.u32();

  const fallbackDuration = tfhd.duration ?? trex?.defaultSampleDuration;
  const fallbackSize = tfhd.size ?? trex?.defaultSampleSize;
  const fallbackFlags = tfhd.flags ?? trex?.defaultSampleFlags ?? 0;

  const samples: SampleInfo[] = [];
  let duration = 0;
  let dataSize = 0;
  let dataCursor = tfhd.base;
  for (const trun of findChildren(bytes, traf, "trun")) {
    const r = new ByteReader(bytes, trun.payloadOffset, trun.end, "trun");
    const version = r.u8();
    const flags = r.u24();
    const count = r.u32();
    const dataOffset = flags & TRUN_DATA_OFFSET ? r.i32() : undefined;
    const firstFlags = flags & TRUN_FIRST_SAMPLE_FLAGS ? r.u32() : undefined;

    const perSample =
      (flags & TRUN_DURATION ? 4 : 0) + (flags & TRUN_SIZE ? 4 : 0) + (flags & TRUN_FLAGS ? 4 : 0) + (flags & TRUN_CTO ? 4 : 0);
    if (perSample > 0 ? count * perSample > r.remaining : count > MAX_SAMPLES_PER_TRUN) {
      throw new Mp4FormatError(`trun claims ${count} samples, more than it holds`, trun.offset);
    }
    const missing = (what: string) =>
      new Mp4FormatError(`track ${tfhd.trackId}: no sample ${what} in trun, tfhd or trex`, trun.offset);

    let runStart: number | null = null;
    if (dataCursor !== null) runStart = dataOffset !== undefined ? (tfhd.base ?? 0) + dataOffset : dataCursor;
    let runSize = 0;
    for (let i = 0; i < count; i++) {
      const sampleDuration = flags & TRUN_DURATION ? r.u32() : fallbackDuration;
      const size = flags & TRUN_SIZE ? r.u32() : fallbackSize;
      let sampleFlags = flags & TRUN_FLAGS ? r.u32() : fallbackFlags;
      if (i === 0 && firstFlags !== undefined) sampleFlags = firstFlags;
      // Version 0 stores an unsigned offset; v1 (needed for B-frames without edit lists) a signed one.
      const compositionOffset = flags & TRUN_CTO ? (version === 0 ? r.u32() : r.i32()) : 0;
      if (sampleDuration === undefined) throw missing("duration");
      if (size === undefined) throw missing("size");
      samples.push({
        duration: sampleDuration,
        size,
        flags: sampleFlags,
        compositionOffset,
        isSync: allSync || isSyncSampleFlags(sampleFlags),
      });
      duration += sampleDuration;
      runSize += size;
    }
    dataSize += runSize;
    if (runStart !== null) {
      // A trun pointing outside its mdat means a truncated or mis-spliced fragment.
      if (runSize > 0 && (runStart < mdat.payloadOffset || runStart + runSize > mdat.end)) {
        throw new Mp4FormatError(
          `track ${tfhd.trackId}: sample data ${runStart}..${runStart + runSize} lies outside mdat ${mdat.payloadOffset}..${mdat.end}`,
          trun.offset,
        );
      }
      dataCursor = runStart + runSize;
    }
  }
  return {
    track: { trackId: tfhd.trackId, baseMediaDecodeTime, samples, duration, dataSize },
    dataEnd: dataCursor,
  };
};
