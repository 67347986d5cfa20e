import { ByteReader } from "./byte-reader.ts";
import { Mp4FormatError } from "./errors.ts";

/** What the packager needs from an esds: enough for a CODECS value and the real channel count. */
export interface EsdsInfo {
  /** DecoderConfigDescriptor objectTypeIndication: 0x40 = MPEG-4 audio, 0x6b = MP3, ... */
  objectType: number;
  /** The DecoderSpecificInfo bytes (for MPEG-4 audio, the AudioSpecificConfig), if present. */
  decoderSpecificInfo?: Uint8Array;
}

export interface AudioSpecificConfig {
  audioObjectType: number;
  /** Core sampling rate (for SBR/HE-AAC, half the output rate). */
  samplingFrequency: number;
  /** 0 means "described by a program config element", i.e. unknown here. */
  channelConfiguration: number;
}

/**
 * Walks esds → ES_Descriptor (0x03) → DecoderConfigDescriptor (0x04) → DecoderSpecificInfo (0x05).
 * `esds` is the box payload, version/flags included.
 */
export const parseEsds = (esds: Uint8Array): EsdsInfo => {
  const r = new ByteReader(esds, 0, esds.length, "esds");
  r.skip(4); // version + flags
  const es = readDescriptor(r);
  if (es.tag !== 0x03) throw new Mp4FormatError(`esds: expected ES_Descriptor (3), found tag ${es.tag}`);
  const er = new ByteReader(esds, es.start, es.end, "ES_Descriptor");
  er.skip(2); // ES_ID
  const flags = er.u8();
  if (flags & 0x80) er.skip(2); // dependsOn_ES_ID
  if (flags & 0x40) er.skip(er.u8()); // URL
  if (flags & 0x20) er.skip(2); // OCR_ES_Id
  const dcd = findDescriptor(er, 0x04);
  if (!dcd) throw new Mp4FormatError("esds: no DecoderConfigDescriptor");
  const dr = new ByteReader(esds, dcd.start, dcd.end, "DecoderConfigDescriptor");
  const objectType = dr.u8();
  dr.skip(12); // streamType/upStream, bufferSizeDB, maxBitrate, avgBitrate
  const dsi = findDescriptor(dr, 0x05);
  const info: EsdsInfo = { objectType };
  if (dsi && dsi.end > dsi.start) info.decoderSpecificInfo = esds.subarray(dsi.start, dsi.end);
  return info;
};

interface Descriptor {
  tag: number;
  start: number;
  end: number;
}

/** Tag byte, then a length of up to four 7-bit groups, each but the last flagged with 0x80. */
const readDescriptor = (r: ByteReader): Descriptor => {
  const tag = r.u8();
  let length = 0;
  for (let i = 0; ; i++) {
    if (i === 4) throw new Mp4FormatError("esds: descriptor length longer than 4 bytes", r.pos);
    const b = r.u8();
    length = (length << 7) | (b & 0x7f);
    if (!(b & 0x80)) break;
  }
  const start = r.pos;
  r.skip(length); // checks the descriptor fits in its parent
  return { tag, start, end: start + length };
};

const findDescriptor = (r: ByteReader, tag: number): Descriptor | undefined => {
  while (r.remaining > 0) {
    const d = readDescriptor(r);
    if (d.tag === tag) return d;
  }
  return undefined;
};

const SAMPLING_FREQUENCIES = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

/** ISO 14496-3 channelConfiguration → speaker count (7 is 7.1, 11-14 are later additions). */
const CHANNELS_BY_CONFIGURATION: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8, 11: 7, 12: 8, 13: 24, 14: 8 };

/** The speaker count a channelConfiguration stands for, or undefined when it defers to a PCE. */
export const channelsOf = (channelConfiguration: number): number | undefined => CHANNELS_BY_CONFIGURATION[channelConfiguration];

/** The fixed head of an AudioSpecificConfig; object type 31 escapes to 32 + the next 6 bits. */
export const parseAudioSpecificConfig = (asc: Uint8Array): AudioSpecificConfig => {
  let bit = 0;
  const bits = (n: number): number => {
    let value = 0;
    for (let i = 0; i < n; i++, bit++) {
      const byte = asc[bit >> 3];
      if (byte === undefined) throw new Mp4FormatError("AudioSpecificConfig truncated");
      value = value * 2 + ((byte >> (7 - (bit & 7))) & 1);
    }
    return value;
  };
  let audioObjectType = bits(5);
  if (audioObjectType === 31) audioObjectType = 32 + bits(6);
  const frequencyIndex = bits(4);
  const samplingFrequency = frequencyIndex === 15 ? bits(24) : (SAMPLING_FREQUENCIES[frequencyIndex] ?? 0);
  const channelConfiguration = bits(4);
  return { audioObjectType, samplingFrequency, channelConfiguration };
};
