import { describe, expect, it } from "vitest";
import { DEFAULT_LADDER } from "../../shared/ladder.ts";
import { buildTranscodeArgs, outputFds, thumbnailFd, type TranscodeJob } from "./build-args.ts";

const job = (over: Partial<TranscodeJob> = {}): TranscodeJob => ({
  encoder: "libx264",
  video: DEFAULT_LADDER.video.map((rung) => ({ rung, fps: 30, gopFrames: 60, fragDurationUs: 483333 })),
  audio: { rung: DEFAULT_LADDER.audio, fragDurationUs: 480000 },
  segmentDuration: 2,
  movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe", "cmaf", "skip_sidx", "skip_trailer"]),
  statsPeriod: true,
  scaleDivisibleBy: true,
  ...over,
});

/** What the npm-shipped static ffmpeg 4.x (2018) offers: no cmaf/skip_sidx, no -stats_period, -fps_mode or force_divisible_by. */
const OLD_BINARY = {
  movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe", "skip_trailer"]),
  statsPeriod: false,
  fpsMode: false,
  scaleDivisibleBy: false,
} satisfies Partial<TranscodeJob>;

const outputsOf = (args: string[]) => args.filter((a) => a.startsWith("pipe:") && a !== "pipe:0" && a !== "pipe:1");

describe("buildTranscodeArgs", () => {
  it("decodes once, splits, and writes one fragmented MP4 per rendition to fds 3…", () => {
    const args = buildTranscodeArgs(job());
    expect(args.filter((a) => a === "-i")).toHaveLength(1);
    expect(args[args.indexOf("-i") + 1]).toBe("pipe:0");
    const graph = args[args.indexOf("-filter_complex") + 1]!;
    expect(graph).toMatch(/^\[0:v\]split=3\[s0\]\[s1\]\[s2\];/);
    expect(graph).toContain("scale=1280:720");
    expect(graph).toContain("fps=30");
    expect(outputsOf(args)).toEqual(["pipe:3", "pipe:4", "pipe:5", "pipe:6"]);
    expect(outputFds(job())).toEqual([3, 4, 5, 6]);
    expect(args).toContain("-progress");
  });

  it("libx264: veryfast zerolatency, fixed GOP, no scene-cut keyframes, forced keyframes every segment", () => {
    const args = buildTranscodeArgs(job());
    const first = args.slice(args.indexOf("[v0]"));
    expect(first.slice(0, 40).join(" ")).toMatch(/-c:v libx264 -preset veryfast -tune zerolatency -profile:v high -sc_threshold 0/);
    expect(first).toContain("-g");
    expect(first[first.indexOf("-g") + 1]).toBe("60");
    expect(first[first.indexOf("-keyint_min") + 1]).toBe("60");
    expect(first[first.indexOf("-force_key_frames") + 1]).toBe("expr:gte(t,n_forced*2-0.0167)");
    expect(first[first.indexOf("-b:v") + 1]).toBe("3000k");
    expect(first[first.indexOf("-frag_duration") + 1]).toBe("483333");
  });

  it("adapts the movflags to the binary (old ffmpeg has no cmaf)", () => {
    const modern = buildTranscodeArgs(job());
    expect(modern[modern.indexOf("-movflags") + 1]).toBe("+frag_keyframe+empty_moov+default_base_moof+cmaf+skip_sidx+skip_trailer");
    const old = buildTranscodeArgs(job({ movflags: new Set(["empty_moov", "default_base_moof", "frag_keyframe"]), statsPeriod: false }));
    expect(old[old.indexOf("-movflags") + 1]).toBe("+frag_keyframe+empty_moov+default_base_moof");
    expect(old).not.toContain("-stats_period");
  });

  it("modern and old binaries: the full argument list each gets (ffmpeg 5.x, and 4.x without the newer options)", () => {
    const thumbnail = { intervalSeconds: 10, width: 320 };
    expect(buildTranscodeArgs(job({ thumbnail, fpsMode: true })).join(" ")).toMatchInlineSnapshot(`"-hide_banner -nostdin -loglevel warning -nostats -progress pipe:1 -stats_period 0.5 -fflags +nobuffer -analyzeduration 1000000 -f flv -i pipe:0 -filter_complex [0:v]split=4[s0][s1][s2][st];[s0]fps=30,scale=1280:720:force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p[v0];[s1]fps=30,scale=854:480:force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p[v1];[s2]fps=30,scale=640:360:force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p[v2];[st]select='isnan(prev_selected_t)+gte(t-prev_selected_t,10)',scale=320:-2:out_range=full,format=yuv420p[thumb] -map [v0] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v high -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 3000k -maxrate 3300k -bufsize 3000k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf+skip_sidx+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:3 -map [v1] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 1400k -maxrate 1540k -bufsize 1400k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf+skip_sidx+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:4 -map [v2] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 800k -maxrate 880k -bufsize 800k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf+skip_sidx+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:5 -map 0:a -vn -c:a aac -b:a 128k -ar 48000 -ac 2 -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+cmaf+skip_sidx+skip_trailer -frag_duration 480000 -flush_packets 1 pipe:6 -map [thumb] -an -c:v mjpeg -q:v 4 -threads 1 -strict unofficial -color_range pc -fps_mode passthrough -f image2pipe -flush_packets 1 pipe:7"`);
    expect(buildTranscodeArgs(job({ thumbnail, ...OLD_BINARY })).join(" ")).toMatchInlineSnapshot(`"-hide_banner -nostdin -loglevel warning -nostats -progress pipe:1 -fflags +nobuffer -analyzeduration 1000000 -f flv -i pipe:0 -filter_complex [0:v]split=4[s0][s1][s2][st];[s0]fps=30,scale=w='trunc(min(1280,round(720*iw/ih))/2)*2':h='trunc(min(720,round(1280*ih/iw))/2)*2',format=yuv420p[v0];[s1]fps=30,scale=w='trunc(min(854,round(480*iw/ih))/2)*2':h='trunc(min(480,round(854*ih/iw))/2)*2',format=yuv420p[v1];[s2]fps=30,scale=w='trunc(min(640,round(360*iw/ih))/2)*2':h='trunc(min(360,round(640*ih/iw))/2)*2',format=yuv420p[v2];[st]select='isnan(prev_selected_t)+gte(t-prev_selected_t,10)',setpts='N/if(gt(FRAME_RATE,0),FRAME_RATE,25)/TB',scale=320:-2:out_range=full,format=yuv420p[thumb] -map [v0] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v high -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 3000k -maxrate 3300k -bufsize 3000k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:3 -map [v1] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 1400k -maxrate 1540k -bufsize 1400k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:4 -map [v2] -an -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -sc_threshold 0 -x264-params open-gop=0:scenecut=0 -g 60 -keyint_min 60 -b:v 800k -maxrate 880k -bufsize 800k -force_key_frames expr:gte(t,n_forced*2-0.0167) -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+skip_trailer -frag_duration 483333 -flush_packets 1 pipe:5 -map 0:a -vn -c:a aac -b:a 128k -ar 48000 -ac 2 -f mp4 -movflags +frag_keyframe+empty_moov+default_base_moof+skip_trailer -frag_duration 480000 -flush_packets 1 pipe:6 -map [thumb] -an -c:v mjpeg -q:v 4 -threads 1 -strict unofficial -color_range pc -f image2pipe -flush_packets 1 pipe:7"`);
  });

  it("scale: force_divisible_by where the binary has it, the same sizes by expression where it has not", () => {
    const graph = (over: Partial<TranscodeJob>) => buildTranscodeArgs(job(over))[buildTranscodeArgs(job(over)).indexOf("-filter_complex") + 1]!;
    expect(graph({})).toContain("[s1]fps=30,scale=854:480:force_original_aspect_ratio=decrease:force_divisible_by=2,format=yuv420p[v1]");
    const old = graph(OLD_BINARY);
    expect(old).not.toContain("force_divisible_by");
    expect(old).toContain("[s1]fps=30,scale=w='trunc(min(854,round(480*iw/ih))/2)*2':h='trunc(min(480,round(854*ih/iw))/2)*2',format=yuv420p[v1]");
    // Left out, the job takes the form every binary accepts.
    expect(graph({ scaleDivisibleBy: undefined })).toBe(old);
  });

  it("uses the hardware encoder options when NVENC was detected", () => {
    const args = buildTranscodeArgs(job({ encoder: "h264_nvenc" }));
    const joined = args.join(" ");
    expect(joined).toContain("-c:v h264_nvenc");
    expect(joined).toContain("-no-scenecut 1");
    expect(joined).toContain("-forced-idr 1");
    expect(joined).not.toContain("libx264");
  });

  it("AAC audio goes to its own output; no audio output without audio", () => {
    const args = buildTranscodeArgs(job());
    const audio = args.slice(args.lastIndexOf("-map"));
    expect(audio.slice(0, 12).join(" ")).toMatch(/-map 0:a -vn -c:a aac -b:a 128k -ar 48000 -ac 2/);
    const silent = buildTranscodeArgs(job({ audio: null }));
    expect(silent.join(" ")).not.toContain("-c:a");
    expect(outputsOf(silent)).toEqual(["pipe:3", "pipe:4", "pipe:5"]);
  });

  it("a single rung needs no split", () => {
    const args = buildTranscodeArgs(job({ video: [{ rung: DEFAULT_LADDER.video[2]!, fps: 25, gopFrames: 50, fragDurationUs: 460000 }] }));
    expect(args[args.indexOf("-filter_complex") + 1]).toMatch(/^\[0:v\]null\[s0\];\[s0\]fps=25,scale=640:360/);
  });

  describe("thumbnail output", () => {
    const thumb = { intervalSeconds: 10, width: 320 };

    it("branches off the same split (one decode) and writes MJPEG to the fd after the renditions'", () => {
      const args = buildTranscodeArgs(job({ thumbnail: thumb, fpsMode: true }));
      expect(args.filter((a) => a === "-i")).toHaveLength(1);
      const graph = args[args.indexOf("-filter_complex") + 1]!;
      expect(graph).toMatch(/^\[0:v\]split=4\[s0\]\[s1\]\[s2\]\[st\];/);
      expect(graph.match(/\[0:v\]/g)).toHaveLength(1);
      expect(graph).toContain("[st]select='isnan(prev_selected_t)+gte(t-prev_selected_t,10)',scale=320:-2:out_range=full,format=yuv420p[thumb]");
      expect(thumbnailFd(job({ thumbnail: thumb }))).toBe(7);
      expect(outputsOf(args)).toEqual(["pipe:3", "pipe:4", "pipe:5", "pipe:6", "pipe:7"]);
      expect(outputFds(job({ thumbnail: thumb }))).toEqual([3, 4, 5, 6]);
      const out = args.slice(args.indexOf("[thumb]") - 1);
      expect(out.join(" ")).toBe(
        "-map [thumb] -an -c:v mjpeg -q:v 4 -threads 1 -strict unofficial -color_range pc -fps_mode passthrough -f image2pipe -flush_packets 1 pipe:7",
      );
    });

    it("without -fps_mode (ffmpeg < 5.1) the selected frames are retimed one source frame apart instead", () => {
      const args = buildTranscodeArgs(job({ thumbnail: { intervalSeconds: 4, width: 320 }, fpsMode: false }));
      const graph = args[args.indexOf("-filter_complex") + 1]!;
      expect(graph).toContain("gte(t-prev_selected_t,4)',setpts='N/if(gt(FRAME_RATE,0),FRAME_RATE,25)/TB',scale=320:-2");
      expect(args).not.toContain("-fps_mode");
      expect(args).not.toContain("-vsync");
      expect(args).not.toContain("-r");
    });

    it("sits after the audio output, or after the last rung without audio; a single rung now needs a split", () => {
      expect(outputsOf(buildTranscodeArgs(job({ thumbnail: thumb, audio: null })))).toEqual(["pipe:3", "pipe:4", "pipe:5", "pipe:6"]);
      const single = buildTranscodeArgs(job({ thumbnail: thumb, video: [{ rung: DEFAULT_LADDER.video[2]!, fps: 25, gopFrames: 50, fragDurationUs: 460000 }] }));
      expect(single[single.indexOf("-filter_complex") + 1]).toMatch(/^\[0:v\]split=2\[s0\]\[st\];\[s0\]fps=25,scale=640:360/);
      expect(outputsOf(single)).toEqual(["pipe:3", "pipe:4", "pipe:5"]);
    });

    it("is absent when disabled (interval 0, null or not set): the graph and outputs stay as they were", () => {
      const plain = buildTranscodeArgs(job());
      for (const off of [job({ thumbnail: null }), job({ thumbnail: { intervalSeconds: 0, width: 320 } })]) {
        expect(buildTranscodeArgs(off)).toEqual(plain);
        expect(thumbnailFd(off)).toBeNull();
      }
      expect(plain.join(" ")).not.toMatch(/mjpeg|select|\[st\]/);
    });
  });
});
