import { execFileSync } from "node:child_process";
import os from "node:os";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  ffmpeg: string;
}

const ffmpegVersion = (): string => {
  try {
    const out = execFileSync(process.env.FFMPEG_PATH ?? "ffmpeg", ["-hide_banner", "-version"], { encoding: "utf8" });
    return /ffmpeg version (\S+)/.exec(out)?.[1] ?? "unknown";
  } catch {
    return "not found";
  }
};

/** What the figures were measured on: absolute numbers mean little without it. */
export const machineInfo = (): MachineInfo => {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    // availableParallelism honours cgroup/affinity limits, which is what the processes actually get.
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ffmpeg: ffmpegVersion(),
  };
};

export const describeMachine = (m: MachineInfo): string =>
  `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}, Node ${m.node}, ffmpeg ${m.ffmpeg}`;
