/** RTMP ingest: public API. */
export { createRtmpServer } from "./rtmp-server.ts";
export type {
  AuthResult,
  FlvTag,
  IngestLogger,
  PublishAuthorizer,
  PublishSession,
  PublishSessionEvents,
  RtmpServer,
  RtmpServerOptions,
} from "./types.ts";
export {
  encodeFlvHeader,
  encodeFlvTag,
  isSequenceHeader,
  isVideoKeyframe,
  parseOnMetaData,
  FLV_TAG_AUDIO,
  FLV_TAG_SCRIPT,
  FLV_TAG_VIDEO,
  type FlvTagInput,
  type StreamMetadata,
} from "./flv.ts";
