export { Mp4FormatError } from "./errors.ts";
export {
  type Mp4Box,
  readBoxHeader,
  iterateBoxes,
  listBoxes,
  childBoxes,
  childrenOffset,
  isContainer,
  findChild,
  findChildren,
  findPath,
  requirePath,
  boxPayload,
  checkTree,
  isPrintableFourcc,
  validateInitSegment,
  validateMediaFragment,
} from "./boxes.ts";
export { codecString, avcCodecString, hevcCodecString, mp4aCodecString } from "./codec-string.ts";
export { type EsdsInfo, type AudioSpecificConfig, parseEsds, parseAudioSpecificConfig, channelsOf } from "./esds.ts";
export { type InitInfo, type TrackInfo, parseInitSegment, trackDefaults } from "./init-info.ts";
export {
  type FragmentInfo,
  type MoofInfo,
  type TrackFragment,
  type SampleInfo,
  type SampleDefaults,
  parseFragment,
  isSyncSampleFlags,
} from "./fragment-info.ts";
export { type Mp4Event, type Mp4StreamReaderOptions, Mp4StreamReader } from "./stream-reader.ts";
