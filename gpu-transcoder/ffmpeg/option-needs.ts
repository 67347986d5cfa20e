import { COMPONENT_LISTS, helpTopicKnown, parseComponentList, parseHelpOptions, type HelpOptions } from "./help-options.ts";

/**
 * What build-args.ts passes to ffmpeg, as looked up in `ffmpeg -h <topic>`: the probe checks each
 * against the binary it will run, so a binary that lacks one is refused at startup with the list
 * (or, for the optional ones, gets the arguments it accepts) instead of exiting on every run.
 * The topics `filters`, `muxers` and `encoders` are the binary's lists (`ffmpeg -filters` …): there
 * `option` is a component that must exist (for the filters whose options we pass by position).
 */
export interface OptionNeed {
  topic: string;
  option: string;
  /** Named values (flags, enum constants) the option must list. */
  values?: readonly string[];
}

const full = (option: string, values?: readonly string[]): OptionNeed => ({ topic: "full", option, ...(values ? { values } : {}) });

/** Needed by every ladder run, whatever the encoder. */
export const REQUIRED_NEEDS: readonly OptionNeed[] = [
  // Command line and generic codec/format options (boolean ones listed without their `no`: -nostdin is `stdin`).
  ...["hide_banner", "stdin", "loglevel", "stats", "progress", "filter_complex", "map", "an", "vn", "f", "c", "b", "q", "ar", "ac", "force_key_frames"].map((o) => full(o)),
  full("fflags", ["nobuffer"]),
  ...["analyzeduration", "flush_packets", "g", "keyint_min", "sc_threshold", "maxrate", "bufsize", "threads", "bf"].map((o) => full(o)),
  full("strict", ["unofficial"]),
  full("color_range", ["pc"]),
  // The filter graph.
  ...["split", "null", "fps", "format", "select", "setpts"].map((option) => ({ topic: "filters", option })),
  { topic: "filter=scale", option: "force_original_aspect_ratio", values: ["decrease"] },
  { topic: "filter=scale", option: "out_range", values: ["full"] },
  // Outputs: fragmented MP4 per rendition, AAC, thumbnails as piped JPEGs.
  { topic: "muxer=mp4", option: "movflags", values: ["frag_keyframe", "empty_moov", "default_base_moof"] },
  { topic: "muxer=mp4", option: "frag_duration" },
  { topic: "muxers", option: "image2pipe" },
  { topic: "encoders", option: "aac" },
  { topic: "encoders", option: "mjpeg" },
];

/** Each H.264 encoder's private options as buildTranscodeArgs sets them. */
export const ENCODER_NEEDS: Readonly<Record<string, readonly OptionNeed[]>> = {
  libx264: ["preset", "tune", "profile", "x264-params"].map((option) => ({ topic: "encoder=libx264", option })),
  h264_nvenc: [
    { topic: "encoder=h264_nvenc", option: "preset", values: ["p2"] },
    { topic: "encoder=h264_nvenc", option: "tune", values: ["ll"] },
    { topic: "encoder=h264_nvenc", option: "rc", values: ["cbr"] },
    ...["zerolatency", "no-scenecut", "forced-idr", "profile"].map((option) => ({ topic: "encoder=h264_nvenc", option })),
  ],
  h264_vaapi: [
    { topic: "encoder=h264_vaapi", option: "rc_mode", values: ["CBR"] },
    { topic: "encoder=h264_vaapi", option: "profile" },
    { topic: "filters", option: "hwupload" },
  ],
  h264_qsv: ["preset", "look_ahead", "profile"].map((option) => ({ topic: "encoder=h264_qsv", option })),
};

/** Where the binary decides which arguments buildTranscodeArgs writes. */
export const OPTIONAL_NEEDS = {
  /** scale's own even-size rounding (ffmpeg ≥ 4.3); without it the sizes come from an expression. */
  scaleDivisibleBy: { topic: "filter=scale", option: "force_divisible_by" },
  /** `-stats_period` (ffmpeg ≥ 4.4): progress twice a second instead of once. */
  statsPeriod: full("stats_period"),
  /** Per-output `-fps_mode` (ffmpeg ≥ 5.1), for the thumbnail output. */
  fpsMode: full("fps_mode"),
} as const satisfies Record<string, OptionNeed>;

/** The mp4 movflags used where the binary has them. */
export const OPTIONAL_MOVFLAGS = ["cmaf", "skip_sidx", "skip_trailer"] as const;

/** The help text of each topic, as the binary printed it (`-h <topic>`). */
export type HelpTexts = ReadonlyMap<string, string>;

export const topicsOf = (needs: Iterable<OptionNeed>): string[] => [...new Set([...needs].map((n) => n.topic))];

/** Looks needs up in the printed help; a need is met when its topic exists and lists the option and values. */
export class HelpIndex {
  private readonly parsed = new Map<string, HelpOptions | null>();

  constructor(private readonly texts: HelpTexts) {}

  options(topic: string): HelpOptions | null {
    if (!this.parsed.has(topic)) {
      const text = this.texts.get(topic);
      const known = text !== undefined && helpTopicKnown(text);
      this.parsed.set(topic, !known ? null : COMPONENT_LISTS.has(topic) ? new Map([...parseComponentList(text)].map((name) => [name, new Set<string>()])) : parseHelpOptions(text));
    }
    return this.parsed.get(topic)!;
  }

  has(need: OptionNeed): boolean {
    const values = this.options(need.topic)?.get(need.option);
    return !!values && (need.values ?? []).every((v) => values.has(v));
  }

  /** The needs not met, as `-h topic: option (values)` for an error message. */
  missing(needs: Iterable<OptionNeed>): string[] {
    return [...needs].filter((n) => !this.has(n)).map(describeNeed);
  }
}

export const describeNeed = (n: OptionNeed): string => `${n.topic}: ${n.option}${n.values?.length ? ` (${n.values.join(", ")})` : ""}`;
