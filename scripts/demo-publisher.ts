import { existsSync } from "node:fs";

/** Arguments for the demo publisher: a test pattern with a burnt-in wall clock and a tone, at real time, to RTMP. */
export const demoPublisherArgs = (rtmpUrl: string, opts: { width?: number; height?: number; fps?: number; durationSeconds?: number } = {}): string[] => {
  const width = opts.width ?? 1280;
  const height = opts.height ?? 720;
  const fps = opts.fps ?? 30;
  const font = ["/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"].find((f) => existsSync(f));
  // The clock shows capture time (ms), so glass-to-glass latency can be read off the screen.
  const clock = font
    ? `,drawtext=fontfile=${font}:text='%{localtime\\:%H\\\\\\:%M\\\\\\:%S}.%{eif\\:mod(t*1000\\,1000)\\:d\\:3}':fontsize=${Math.round(height / 10)}:fontcolor=white:box=1:boxcolor=black@0.6:x=(w-tw)/2:y=h-th-${Math.round(height / 12)}`
    : "";
  return [
    "-hide_banner", "-loglevel", "error", "-nostdin",
    "-re", "-f", "lavfi", "-i", `testsrc2=size=${width}x${height}:rate=${fps}${clock}`,
    "-re", "-f", "lavfi", "-i", "sine=frequency=440:beep_factor=4:sample_rate=48000",
    ...(opts.durationSeconds ? ["-t", String(opts.durationSeconds)] : []),
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", String(fps), "-pix_fmt", "yuv420p", "-b:v", "4000k",
    "-c:a", "aac", "-b:a", "128k", "-ar", "48000",
    "-f", "flv", rtmpUrl,
  ];
};
