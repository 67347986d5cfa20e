import { planParts } from "../../gpu-transcoder/ffmpeg/part-plan.ts";
import { DEFAULT_LADDER } from "../../shared/ladder.ts";
import type { ManifestRendition } from "../../shared/push-protocol.ts";
import { ensureMedia, fmp4OutputArgs, mediaFile, readFmp4, testPatternVideoArgs, toSegments, toneAudioArgs } from "./fmp4.ts";
import type { RenditionFeed, StreamTiming } from "./pusher.ts";

export interface OriginMedia {
  feeds: RenditionFeed[];
  timing: StreamTiming;
  /** The rendition the benchmark's viewers follow (the top rung). */
  watched: string;
  /** Seconds of media before the loop repeats. */
  loopSeconds: number;
  describe: string;
}

const SEGMENTS_IN_LOOP = 8;

/**
 * Real fMP4 parts for the origin benchmarks: the default ladder (720p/480p/360p + AAC, at its
 * bitrates) encoded once from a test pattern, cut by ffmpeg into fragments exactly the way the
 * transcoder plans them (gpu-transcoder/ffmpeg/part-plan.ts: 0.5 s parts, 2 s segments), then
 * grouped into segments that the pushers loop with ever-increasing MSNs.
 *
 * Audio: the packager starts an audio segment at the first AAC frame after each video boundary, so
 * real audio segments have 4 or 5 parts of 0.491 s. The pushers send one part of every rendition
 * per 0.5 s tick, so here every audio segment has exactly 4 parts (1.963 s). Nobody follows the
 * audio playlist in these benchmarks; its bytes and pushes are what matter.
 */
export const loadOriginMedia = async (log: (line: string) => void): Promise<OriginMedia> => {
  const ladder = DEFAULT_LADDER;
  const fps = 30;
  const plan = planParts({ partTarget: 0.5, segmentDuration: 2, videoFps: [fps], audioSampleRate: ladder.audio.sampleRate });
  const video = plan.video.get(fps)!;
  const audio = plan.audio!;
  const partsPerSegment = Math.round(plan.segmentDuration / video.partDuration);
  // One spare second so the audio encode covers the last whole segment.
  const seconds = SEGMENTS_IN_LOOP * plan.segmentDuration + 1;
  const feeds: RenditionFeed[] = [];
  for (const rung of ladder.video) {
    const args = [
      ...testPatternVideoArgs({ width: rung.width, height: rung.height, fps, seconds, gop: plan.gopFrames.get(fps)!, bitrateKbps: rung.bitrateKbps }),
      "-profile:v", rung.profile,
      ...fmp4OutputArgs(video.fragDurationUs),
    ];
    const encoded = readFmp4(await ensureMedia(mediaFile(`origin-${rung.name}`, args, "mp4"), args, log));
    const rendition: ManifestRendition = {
      name: rung.name,
      type: "video",
      codecs: encoded.track.codec,
      bitrate: rung.bitrateKbps * 1000,
      width: rung.width,
      height: rung.height,
      fps,
    };
    feeds.push({ rendition, init: encoded.init, segments: toSegments(encoded.parts, partsPerSegment, true).slice(0, SEGMENTS_IN_LOOP) });
  }
  const a = ladder.audio;
  const audioArgs = [...toneAudioArgs({ seconds, bitrateKbps: a.bitrateKbps, sampleRate: a.sampleRate, channels: a.channels }), ...fmp4OutputArgs(audio.fragDurationUs)];
  const encodedAudio = readFmp4(await ensureMedia(mediaFile("origin-audio", audioArgs, "mp4"), audioArgs, log));
  feeds.push({
    rendition: { name: a.name, type: "audio", codecs: encodedAudio.track.codec, bitrate: a.bitrateKbps * 1000, language: a.language, channels: a.channels },
    init: encodedAudio.init,
    segments: toSegments(encodedAudio.parts, partsPerSegment, false).slice(0, SEGMENTS_IN_LOOP),
  });
  const short = feeds.find((f) => f.segments.length < SEGMENTS_IN_LOOP);
  if (short) throw new Error(`${short.rendition.name}: only ${short.segments.length} whole segments encoded`);
  const kbps = (f: RenditionFeed) => {
    const bytes = f.segments.flat().reduce((n, p) => n + p.bytes.byteLength, 0);
    const secs = f.segments.flat().reduce((n, p) => n + p.duration, 0);
    return Math.round((bytes * 8) / secs / 1000);
  };
  return {
    feeds,
    timing: { targetDuration: plan.targetDuration, partTarget: plan.partTarget, segmentDuration: plan.segmentDuration },
    watched: ladder.video[0]!.name,
    loopSeconds: SEGMENTS_IN_LOOP * plan.segmentDuration,
    describe:
      `default ladder as fMP4 (testsrc2 + tone, libx264 veryfast / AAC): ` +
      feeds.map((f) => `${f.rendition.name} ${kbps(f)} kb/s`).join(", ") +
      `; ${partsPerSegment} × ${video.partDuration.toFixed(3)} s parts per ${plan.segmentDuration} s segment, a ${SEGMENTS_IN_LOOP * plan.segmentDuration} s loop`,
  };
};
