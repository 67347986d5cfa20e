import { spawn } from "node:child_process";

/** Runs `cmd` to its end (ffprobe, ffmpeg): exit code and everything it printed. */
export const runProcess = (cmd: string, args: string[]): Promise<{ code: number | null; out: string; err: string }> =>
  new Promise((resolve) => {
    const p = spawn(cmd, args);
    let out = "";
    let err = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (err += d.toString()));
    p.on("close", (code) => resolve({ code, out, err }));
  });
