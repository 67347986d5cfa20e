/**
 * Part planning: how many frames go into each part so that every part is ≤ PART-TARGET and
 * ≥ 85 % of it (RFC §4.4.4.9), and the fragment duration that makes ffmpeg cut there.
 */

export const AAC_FRAME_SAMPLES = 1024;

export interface PartPlanInput {
  /** Requested PART-TARGET in seconds (0.2 to 1). */
  partTarget: number;
  /** Requested segment duration in seconds (the keyframe interval). */
  segmentDuration: number;
  /** Output frame rates of the video rungs. */
  videoFps: number[];
  /** Audio sample rate, or null without audio. */
  audioSampleRate: number | null;
}

export interface TrackPlan {
  frameDuration: number;
  framesPerPart: number;
  partDuration: number;
  /** ffmpeg `-frag_duration` in microseconds: half a frame short of the part, so the cut lands on the frame boundary. */
  fragDurationUs: number;
}

export interface PartPlan {
  /** The advertised PART-TARGET: the longest planned part, rounded up to the millisecond. */
  partTarget: number;
  /** Keyframe interval in frames per video fps, and the resulting segment duration. */
  gopFrames: Map<number, number>;
  segmentDuration: number;
  targetDuration: number;
  video: Map<number, TrackPlan>;
  audio: TrackPlan | null;
}

/** ffmpeg's NTSC-style rates come in as 29.97 etc.; use the exact rational so durations do not drift. */
export const exactFrameDuration = (fps: number): number => {
  for (const base of [24, 30, 48, 60, 120]) {
    if (Math.abs(fps - (base * 1000) / 1001) < 0.01) return 1001 / (base * 1000);
  }
  return 1 / fps;
};

const trackPlan = (frameDuration: number, partTarget: number): TrackPlan => {
  const framesPerPart = Math.max(1, Math.floor(partTarget / frameDuration + 1e-9));
  return {
    frameDuration,
    framesPerPart,
    partDuration: framesPerPart * frameDuration,
    fragDurationUs: Math.round((framesPerPart - 0.5) * frameDuration * 1e6),
  };
};

export const planParts = (input: PartPlanInput): PartPlan => {
  if (!(input.partTarget >= 0.2 && input.partTarget <= 1)) throw new Error("part target must be between 0.2 and 1 s");
  if (!(input.segmentDuration >= 1 && input.segmentDuration <= 10)) throw new Error("segment duration must be between 1 and 10 s");
  const video = new Map<number, TrackPlan>();
  const gopFrames = new Map<number, number>();
  let segmentDuration = 0;
  for (const fps of input.videoFps) {
    const fd = exactFrameDuration(fps);
    video.set(fps, trackPlan(fd, input.partTarget));
    const gop = Math.round(input.segmentDuration / fd);
    gopFrames.set(fps, gop);
    segmentDuration = Math.max(segmentDuration, gop * fd);
  }
  const audio = input.audioSampleRate ? trackPlan(AAC_FRAME_SAMPLES / input.audioSampleRate, input.partTarget) : null;
  const longest = Math.max(...[...video.values()].map((p) => p.partDuration), audio?.partDuration ?? 0);
  const partTarget = Math.ceil(longest * 1000 - 1e-6) / 1000;
  for (const [fps, p] of video) {
    // Non-independent video parts must be ≥ 85 % of the advertised target; audio parts are all independent.
    if (p.partDuration < 0.85 * partTarget) {
      throw new Error(`cannot cut ${fps} fps video into parts within 85 % of ${partTarget} s; choose another part target`);
    }
  }
  // Audio segments start at the first audio part at or after each video boundary, so they can run up to
  // one audio part long; EXTINF rounded to the nearest integer must still be ≤ TARGETDURATION.
  const targetDuration = Math.max(1, Math.round(segmentDuration + (audio?.partDuration ?? 0) - 1e-6));
  return { partTarget, gopFrames, segmentDuration, targetDuration, video, audio };
};

/** The frame rate as ffmpeg's fps filter wants it: exact rationals for NTSC rates. */
export const fpsRational = (fps: number): string => {
  const fd = exactFrameDuration(fps);
  return Math.abs(fd * fps - 1) < 1e-9 ? String(fps) : `${Math.round(1 / fd * 1001)}/1001`;
};
