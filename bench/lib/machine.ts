import { execFileSync } from "node:child_process";
import os from "node:os";
import { ffmpegPath } from "./proc.ts";

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  ffmpeg: string;
  /** 1/5/15-minute load averages when the benchmark started: shows whether the machine was quiet. */
  loadAverage: [number, number, number];
}

const ffmpegVersion = (): string => {
  try {
    const out = execFileSync(ffmpegPath(), ["-hide_banner", "-version"], { encoding: "utf8" });
    return /ffmpeg version (\S+)/.exec(out)?.[1] ?? "unknown";
  } catch {
    return "not found";
  }
};

/** What the figures were measured on: absolute numbers mean little without it. */
export const machineInfo = (): MachineInfo => {
  const cpus = os.cpus();
  const [l1 = 0, l5 = 0, l15 = 0] = os.loadavg();
  return {
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    // availableParallelism honours cgroup/affinity limits, which is what the processes actually get.
    cores: os.availableParallelism?.() ?? cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    ffmpeg: ffmpegVersion(),
    loadAverage: [l1, l5, l15],
  };
};

export const formatLoad = (l: readonly number[]): string => l.map((v) => v.toFixed(2)).join(" / ");

export const describeMachine = (m: MachineInfo): string =>
  `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, ${m.os}, Node ${m.node}, ffmpeg ${m.ffmpeg}; load average ${formatLoad(m.loadAverage)}`;
