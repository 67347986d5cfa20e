import { boxPayload, childBoxes, type Mp4Box } from "./boxes.ts";
import { ByteReader } from "./byte-reader.ts";
import { parseAudioSpecificConfig, parseEsds } from "./esds.ts";

/**
 * RFC 6381 `codecs` values for the HLS CODECS attribute, derived from a sample entry
 * (an stsd child). Anything we cannot describe precisely falls back to the sample entry's 4cc,
 * which players treat as "some codec of that family" rather than rejecting the variant.
 */
export const codecString = (bytes: Uint8Array, entry: Mp4Box): string => {
  switch (entry.type) {
    case "avc1":
    case "avc3": {
      const avcC = child(bytes, entry, "avcC");
      return avcC ? avcCodecString(boxPayload(bytes, avcC)) : entry.type;
    }
    case "hvc1":
    case "hev1": {
      const hvcC = child(bytes, entry, "hvcC");
      return hvcC ? hevcCodecString(entry.type, boxPayload(bytes, hvcC)) : entry.type;
    }
    case "mp4a": {
      const esds = child(bytes, entry, "esds");
      return esds ? mp4aCodecString(boxPayload(bytes, esds)) : entry.type;
    }
    // RFC 6381 / the codec registrations spell these in lowercase, unlike their sample entry 4cc.
    case "Opus":
      return "opus";
    case "fLaC":
      return "flac";
    default:
      return entry.type;
  }
};

const child = (bytes: Uint8Array, entry: Mp4Box, type: string): Mp4Box | undefined =>
  childBoxes(bytes, entry).find((box) => box.type === type);

const hex2 = (value: number): string => value.toString(16).padStart(2, "0");

/**
 * `avc1.PPCCLL` from the AVCDecoderConfigurationRecord. Both avc1 and avc3 entries are announced
 * as avc1: the string describes the bitstream's profile/level, which is what players check.
 */
export const avcCodecString = (avcC: Uint8Array): string => {
  const r = new ByteReader(avcC, 0, avcC.length, "avcC");
  r.u8(); // configurationVersion
  const profile = r.u8();
  const compatibility = r.u8();
  const level = r.u8();
  return `avc1.${hex2(profile)}${hex2(compatibility)}${hex2(level)}`;
};

/** ISO/IEC 14496-15 Annex E: `hvc1.[A-C]?profile.compat(bit-reversed hex).[LH]level.constraint bytes`. */
export const hevcCodecString = (fourcc: string, hvcC: Uint8Array): string => {
  const r = new ByteReader(hvcC, 0, hvcC.length, "hvcC");
  r.u8(); // configurationVersion
  const b = r.u8();
  const profileSpace = b >> 6;
  const tier = (b >> 5) & 1;
  const profileIdc = b & 0x1f;
  const compatibility = r.u32();
  const constraints = [...r.take(6)];
  const level = r.u8();
  let reversed = 0;
  for (let i = 0; i < 32; i++) reversed |= ((compatibility >>> i) & 1) << (31 - i);
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  const parts = [
    fourcc,
    `${["", "A", "B", "C"][profileSpace] ?? ""}${profileIdc}`,
    (reversed >>> 0).toString(16).toUpperCase(),
    `${tier ? "H" : "L"}${level}`,
    ...constraints.map((c) => c.toString(16).toUpperCase().padStart(2, "0")),
  ];
  return parts.join(".");
};

/** `mp4a.40.<audioObjectType>` for MPEG-4 audio; other object types (e.g. 0x6b MP3) as `mp4a.<oti hex>`. */
export const mp4aCodecString = (esds: Uint8Array): string => {
  const { objectType, decoderSpecificInfo } = parseEsds(esds);
  if (objectType !== 0x40) return `mp4a.${hex2(objectType)}`;
  if (!decoderSpecificInfo) return "mp4a.40";
  return `mp4a.40.${parseAudioSpecificConfig(decoderSpecificInfo).audioObjectType}`;
};
