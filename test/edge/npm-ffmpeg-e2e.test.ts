import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseMediaPlaylist } from "../../shared/hls/index.ts";
import { npmFfmpegPath } from "../../gpu-transcoder/ffmpeg/probe.ts";
import { sleep } from "../live-path/harness.ts";
import { edgeServesStream, startStack, type EdgeStack } from "./stack.ts";
import { runProcess } from "../support/run-process.ts";

/**
 * The demo path on the ffmpeg `npm install` ships (@ffmpeg-installer/linux-x64, a 2018 static
 * 4.x build), as `npm start` runs it on a machine without a system ffmpeg: the transcoder probes
 * that binary and builds arguments it accepts, and the stream plays through the edge Worker.
 */
const bin = npmFfmpegPath();
const SKIPPED = bin ? "" : " (SKIPPED: the optional dependency @ffmpeg-installer/linux-x64 is not installed)";

let stack: EdgeStack;


describe.skipIf(!bin)(`the demo path on the npm-shipped ffmpeg 4.x${SKIPPED}`, () => {
  beforeAll(async () => {
    stack = await startStack({ edges: 1, ffmpegPath: bin! });
    await edgeServesStream(stack);
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("the transcoder runs that binary, probed as one without -stats_period, -fps_mode, force_divisible_by or cmaf", () => {
    const caps = stack.live.node.caps;
    expect(caps.path).toBe(bin);
    expect(caps.version).toMatch(/static/);
    expect({ statsPeriod: caps.statsPeriod, fpsMode: caps.fpsMode, scaleDivisibleBy: caps.scaleDivisibleBy, cmaf: caps.movflags.has("cmaf") }).toEqual({
      statsPeriod: false,
      fpsMode: false,
      scaleDivisibleBy: false,
      cmaf: false,
    });
  });

  it("the playlists advance with parts at the edge", async () => {
    const read = async () => parseMediaPlaylist(await (await fetch(`${stack.edgeUrl}/hls/it/180p/index.m3u8`)).text());
    const before = await read();
    await sleep(2500);
    const after = await read();
    const last = (p: typeof before) => {
      const seg = p.segments.at(-1)!;
      return { msn: p.mediaSequence + p.segments.length - 1, parts: seg.parts.length };
    };
    const a = last(before);
    const b = last(after);
    expect(b.msn * 100 + b.parts, `${JSON.stringify(a)} → ${JSON.stringify(b)}`).toBeGreaterThan(a.msn * 100 + a.parts);
    expect(after.segments.some((s) => s.parts.length > 0)).toBe(true);
  });

  it("Debian's ffprobe reads the edge URL (both rungs, even sizes, audio) and ffmpeg decodes 6 s of it", async () => {
    const probe = await runProcess("ffprobe", ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height", "-of", "json", `${stack.edgeUrl}/hls/it/master.m3u8`]);
    expect(probe.code, probe.err).toBe(0);
    const streams = (JSON.parse(probe.out) as { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }> }).streams;
    const video = streams.filter((s) => s.codec_type === "video").map((s) => `${s.codec_name} ${s.width}x${s.height}`);
    expect(new Set(video)).toEqual(new Set(["h264 320x180", "h264 160x90"]));
    expect(streams.some((s) => s.codec_type === "audio" && s.codec_name === "aac")).toBe(true);

    const decode = await runProcess("ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", `${stack.edgeUrl}/hls/it/master.m3u8`, "-map", "0:v:0", "-map", "0:a:0", "-t", "6", "-progress", "pipe:1", "-f", "null", "-"]);
    expect(decode.code, decode.err).toBe(0);
    const outTimeUs = Math.max(0, ...[...decode.out.matchAll(/out_time_us=(\d+)/g)].map((m) => Number(m[1])));
    expect(outTimeUs).toBeGreaterThanOrEqual(5_900_000);
  }, 60_000);

  it("the encoder never restarted and the stream did not fail", () => {
    const types = stack.live.node.events.filter((e) => e.streamId === "it").map((e) => `${e.type}${e.data.reason ? `: ${String(e.data.reason)}` : ""}`);
    expect(types).toContain("stream_started");
    expect(types.filter((t) => t.startsWith("error") || t.startsWith("stream_failed"))).toEqual([]);
    expect(stack.live.node.pipelines.get("it")?.state).toBe("live");
  });
});
