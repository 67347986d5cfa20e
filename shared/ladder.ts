/** The ABR ladder: what each rung encodes. Shared so the origin and the control plane agree on names. */

export type H264Profile = "baseline" | "main" | "high";

export interface VideoRung {
  /** Rendition name, also its URL folder (`720p`). */
  name: string;
  width: number;
  height: number;
  fps: number;
  /** Target video bitrate in kbit/s. */
  bitrateKbps: number;
  profile: H264Profile;
}

export interface AudioRung {
  name: string;
  bitrateKbps: number;
  sampleRate: number;
  channels: number;
  /** BCP 47 language, required on every EXT-X-MEDIA audio rendition by Apple's spec. */
  language: string;
}

export interface Ladder {
  video: VideoRung[];
  audio: AudioRung;
}

export const DEFAULT_LADDER = {
  video: [
    { name: "720p", width: 1280, height: 720, fps: 30, bitrateKbps: 3000, profile: "high" },
    { name: "480p", width: 854, height: 480, fps: 30, bitrateKbps: 1400, profile: "main" },
    { name: "360p", width: 640, height: 360, fps: 30, bitrateKbps: 800, profile: "main" },
  ],
  audio: { name: "audio", bitrateKbps: 128, sampleRate: 48_000, channels: 2, language: "en" },
} satisfies Ladder;

/** Drops rungs above the source resolution, keeping at least the lowest rung so a tiny source still plays. */
export const fitLadderToSource = (ladder: Ladder, source: { width: number; height: number } | null): Ladder => {
  if (!source || source.width <= 0 || source.height <= 0) return ladder;
  const fitting = ladder.video.filter((r) => r.height <= source.height && r.width <= source.width);
  const lowest = [...ladder.video].sort((a, b) => a.height - b.height)[0];
  return { ...ladder, video: fitting.length > 0 ? fitting : lowest ? [lowest] : [] };
};

/**
 * Parses a ladder from compact text: `name:WxH@fps:kbps[:profile]`, comma separated,
 * e.g. `720p:1280x720@30:3000:high,360p:640x360@30:800`.
 */
export const parseLadderSpec = (spec: string, audio: AudioRung = DEFAULT_LADDER.audio): Ladder => {
  const video = spec
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((item): VideoRung => {
      const m = /^([a-z0-9][a-z0-9_-]{0,31}):(\d+)x(\d+)@(\d+(?:\.\d+)?):(\d+)(?::(baseline|main|high))?$/.exec(item);
      if (!m) throw new Error(`invalid ladder rung "${item}" (expected name:WxH@fps:kbps[:profile])`);
      const [, name, w, h, fps, kbps, profile] = m;
      const rung: VideoRung = {
        name: name!,
        width: Number(w),
        height: Number(h),
        fps: Number(fps),
        bitrateKbps: Number(kbps),
        profile: (profile as H264Profile | undefined) ?? "main",
      };
      if (rung.width % 2 || rung.height % 2) throw new Error(`ladder rung "${item}": width and height must be even`);
      if (rung.fps <= 0 || rung.fps > 120) throw new Error(`ladder rung "${item}": fps out of range`);
      return rung;
    });
  if (video.length === 0) throw new Error("ladder has no video rungs");
  const names = new Set(video.map((r) => r.name));
  if (names.size !== video.length || names.has(audio.name)) throw new Error("ladder rendition names must be unique");
  return { video, audio };
};
