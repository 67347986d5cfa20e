import type { MultivariantPlaylist } from "../../shared/hls/index.ts";
import { mediaPlaylistUri } from "../../shared/urls.ts";
import type { LiveStream } from "../store/stream-registry.ts";
import type { RenditionState } from "../store/rendition-state.ts";

const AUDIO_GROUP = "audio";

/** Measured peak once a segment exists, else the configured bitrate (a representative value, RFC §4.4.6.2). */
const peakOf = (state: RenditionState | undefined, configured: number): number =>
  state && state.peakBitrate > 0 ? state.peakBitrate : configured;
const averageOf = (state: RenditionState | undefined, configured: number): number =>
  state && state.averageBitrate > 0 ? state.averageBitrate : configured;

export const buildMultivariantPlaylist = (stream: LiveStream, active: RenditionState[]): MultivariantPlaylist => {
  const activeNames = new Set(active.map((r) => r.name));
  const renditions = stream.manifest.renditions.filter((r) => activeNames.has(r.name));
  const audio = renditions.filter((r) => r.type === "audio");
  const states = new Map(active.map((r) => [r.name, r]));
  const audioPeak = Math.max(0, ...audio.map((a) => peakOf(states.get(a.name), a.bitrate)));
  const audioAvg = Math.max(0, ...audio.map((a) => averageOf(states.get(a.name), a.bitrate)));
  const audioCodecs = [...new Set(audio.map((a) => a.codecs))];
  return {
    independentSegments: true,
    audio: audio.map((a, i) => ({
      groupId: AUDIO_GROUP,
      name: a.name,
      language: a.language ?? "und",
      channels: a.channels ?? 2,
      uri: mediaPlaylistUri(a.name),
      isDefault: i === 0,
    })),
    variants: renditions
      .filter((r) => r.type === "video")
      .sort((a, b) => b.bitrate - a.bitrate)
      .map((v) => {
        const bandwidth = peakOf(states.get(v.name), v.bitrate) + audioPeak;
        // Until a segment is measured the average is the configured rate, which may exceed a measured peak.
        return {
        uri: mediaPlaylistUri(v.name),
        bandwidth,
        averageBandwidth: Math.min(bandwidth, averageOf(states.get(v.name), v.bitrate) + audioAvg),
        codecs: [v.codecs, ...audioCodecs].join(","),
        width: v.width ?? 0,
        height: v.height ?? 0,
        frameRate: v.fps ?? 30,
        ...(audio.length > 0 ? { audioGroup: AUDIO_GROUP } : {}),
        };
      }),
  };
};
