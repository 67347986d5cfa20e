import {
  AUDIO_SAMPLE_ENTRIES,
  VISUAL_SAMPLE_ENTRIES,
  childBoxes,
  findChild,
  findChildren,
  listBoxes,
  requirePath,
  type Mp4Box,
} from "./boxes.ts";
import { ByteReader } from "./byte-reader.ts";
import { codecString } from "./codec-string.ts";
import { Mp4FormatError } from "./errors.ts";
import { channelsOf, parseAudioSpecificConfig, parseEsds } from "./esds.ts";

export interface TrackInfo {
  trackId: number;
  /** hdlr handler_type: "vide", "soun", or whatever else the muxer wrote. */
  handler: "vide" | "soun" | (string & {});
  /** mdhd timescale: the unit of every tfdt / sample duration for this track. */
  timescale: number;
  /** RFC 6381 codecs value, e.g. `avc1.64001f`, `mp4a.40.2`; the sample entry 4cc when unknown. */
  codec: string;
  /** Sample entry 4cc (avc1, mp4a, ...). */
  sampleEntry: string;
  width?: number;
  height?: number;
  sampleRate?: number;
  channels?: number;
  /** trex defaults, used when neither trun nor tfhd carries a value. */
  defaultSampleDuration?: number;
  defaultSampleSize?: number;
  defaultSampleFlags?: number;
}

export interface InitInfo {
  /** mvhd timescale (movie-level, rarely useful but cheap). */
  movieTimescale: number;
  tracks: TrackInfo[];
}

/** Parses a CMAF init segment (ftyp + moov). Throws Mp4FormatError when it is not one. */
export const parseInitSegment = (bytes: Uint8Array): InitInfo => {
  const moov = listBoxes(bytes).find((box) => box.type === "moov");
  if (!moov) throw new Mp4FormatError("init segment has no moov");
  const mvhd = requirePath(bytes, moov, "mvhd");
  const trexById = new Map<number, Trex>();
  const mvex = findChild(bytes, moov, "mvex");
  if (mvex) {
    for (const box of findChildren(bytes, mvex, "trex")) {
      const trex = parseTrex(bytes, box);
      trexById.set(trex.trackId, trex);
    }
  }
  const tracks = findChildren(bytes, moov, "trak").map((trak) => parseTrak(bytes, trak, trexById));
  if (tracks.length === 0) throw new Mp4FormatError("moov has no trak", moov.offset);
  return { movieTimescale: readTimescale(bytes, mvhd), tracks };
};

/** Per-track fallbacks for parseFragment, keyed by track id. TrackInfo satisfies the value type. */
export const trackDefaults = (info: InitInfo): Map<number, TrackInfo> =>
  new Map(info.tracks.map((track) => [track.trackId, track]));

interface Trex {
  trackId: number;
  defaultSampleDuration: number;
  defaultSampleSize: number;
  defaultSampleFlags: number;
}

const parseTrex = (bytes: Uint8Array, box: Mp4Box): Trex => {
  const r = new ByteReader(bytes, box.payloadOffset, box.end, "trex");
  r.skip(4); // version + flags
  const trackId = r.u32();
  r.skip(4); // default_sample_description_index
  return { trackId, defaultSampleDuration: r.u32(), defaultSampleSize: r.u32(), defaultSampleFlags: r.u32() };
};

/** mvhd and mdhd share the layout up to the timescale: creation/modification times are 32 or 64 bits. */
const readTimescale = (bytes: Uint8Array, box: Mp4Box): number => {
  const r = new ByteReader(bytes, box.payloadOffset, box.end, box.type);
  const version = r.u8();
  r.skip(3);
  r.skip(version === 1 ? 16 : 8);
  const timescale = r.u32();
  if (timescale === 0) throw new Mp4FormatError(`${box.type} timescale is 0`, box.offset);
  return timescale;
};

const parseTrak = (bytes: Uint8Array, trak: Mp4Box, trexById: Map<number, Trex>): TrackInfo => {
  const tkhd = requirePath(bytes, trak, "tkhd");
  const tr = new ByteReader(bytes, tkhd.payloadOffset, tkhd.end, "tkhd");
  const version = tr.u8();
  tr.skip(3);
  tr.skip(version === 1 ? 16 : 8);
  const trackId = tr.u32();

  const mdia = requirePath(bytes, trak, "mdia");
  const timescale = readTimescale(bytes, requirePath(bytes, mdia, "mdhd"));
  const hdlr = requirePath(bytes, mdia, "hdlr");
  const hr = new ByteReader(bytes, hdlr.payloadOffset, hdlr.end, "hdlr");
  hr.skip(8); // version + flags, pre_defined
  const handler = hr.fourcc();

  const stsd = requirePath(bytes, mdia, "minf", "stbl", "stsd");
  // Only the first entry: CMAF allows one sample description per track.
  const entry = childBoxes(bytes, stsd)[0];
  if (!entry) throw new Mp4FormatError(`track ${trackId}: stsd has no sample entry`, stsd.offset);

  const track: TrackInfo = { trackId, handler, timescale, codec: codecString(bytes, entry), sampleEntry: entry.type };
  // Visual and audio sample entries share fixed layouts whatever the codec, so the handler decides.
  if (handler === "vide" || VISUAL_SAMPLE_ENTRIES.has(entry.type)) {
    const r = new ByteReader(bytes, entry.payloadOffset, entry.end, `${entry.type} sample entry`);
    r.skip(8 + 16); // SampleEntry, pre_defined/reserved
    track.width = r.u16();
    track.height = r.u16();
  } else if (handler === "soun" || AUDIO_SAMPLE_ENTRIES.has(entry.type)) {
    const r = new ByteReader(bytes, entry.payloadOffset, entry.end, `${entry.type} sample entry`);
    r.skip(8 + 8); // SampleEntry, reserved (QuickTime: version, revision, vendor)
    track.channels = r.u16();
    r.skip(6); // samplesize, pre_defined, reserved
    // 16.16 fixed point, so rates above 65535 Hz do not fit: mdhd's timescale is then the rate.
    const rate = r.u32() >>> 16;
    track.sampleRate = rate > 0 ? rate : timescale;
    const aacChannels = entry.type === "mp4a" ? mpeg4AudioChannels(bytes, entry) : undefined;
    if (aacChannels !== undefined) track.channels = aacChannels;
  }

  const trex = trexById.get(trackId);
  if (trex) {
    track.defaultSampleDuration = trex.defaultSampleDuration;
    track.defaultSampleSize = trex.defaultSampleSize;
    track.defaultSampleFlags = trex.defaultSampleFlags;
  }
  return track;
};


/**
 * ISO mp4 sample entries always say channelcount 2 (ffmpeg writes 2 for mono too), so for AAC the
 * AudioSpecificConfig is the only truthful source, and HLS CHANNELS needs the truth.
 */
const mpeg4AudioChannels = (bytes: Uint8Array, entry: Mp4Box): number | undefined => {
  const esds = childBoxes(bytes, entry).find((box) => box.type === "esds");
  if (!esds) return undefined;
  const { objectType, decoderSpecificInfo } = parseEsds(bytes.subarray(esds.payloadOffset, esds.end));
  if (objectType !== 0x40 || !decoderSpecificInfo) return undefined;
  const asc = parseAudioSpecificConfig(decoderSpecificInfo);
  // Parametric stereo (HE-AAC v2) codes a mono core that decodes to stereo.
  if (asc.audioObjectType === 29 && asc.channelConfiguration === 1) return 2;
  return channelsOf(asc.channelConfiguration);
};
