import type { ChildProcess } from "node:child_process";
import path from "node:path";
import type { FromLoadgen, LoadgenResult, ToLoadgen } from "./loadgen-protocol.ts";
import { ROOT, forkTs, stopChild } from "./proc.ts";

export interface RunningLoadgen {
  /** Monotonic ms when every client had joined the stream. */
  readyAtMs: number;
  stop(): Promise<LoadgenResult>;
}

const nextMessage = <T extends FromLoadgen["type"]>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<FromLoadgen, { type: T }>> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`load generator sent no ${type} within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (msg: FromLoadgen) => {
      if (msg.type === type) finish(null, msg as Extract<FromLoadgen, { type: T }>);
      else if (msg.type === "failed") finish(new Error(`load generator failed: ${msg.error}`));
    };
    const onExit = (code: number | null) => finish(new Error(`load generator exited (${code}) before ${type}`));
    const finish = (err: Error | null, msg?: Extract<FromLoadgen, { type: T }>) => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve(msg!);
    };
    child.on("message", onMessage);
    child.once("exit", onExit);
  });

/** Starts `clients` LL-HLS clients in a separate process and resolves once all have joined. */
export const startLoadgen = async (playlistUrl: string, clients: number, rampMs: number): Promise<RunningLoadgen> => {
  const child = forkTs(path.join(ROOT, "bench/lib/loadgen-child.ts"));
  const send = (msg: ToLoadgen) => child.send(msg);
  const ready = nextMessage(child, "ready", 60_000 + rampMs);
  send({ type: "start", playlistUrl, clients, rampMs });
  let readyAtMs: number;
  try {
    readyAtMs = (await ready).atMs;
  } catch (err) {
    await stopChild(child);
    throw err;
  }
  return {
    readyAtMs,
    async stop() {
      const result = nextMessage(child, "result", 30_000);
      send({ type: "stop" });
      try {
        return await result;
      } finally {
        await stopChild(child);
      }
    },
  };
};
