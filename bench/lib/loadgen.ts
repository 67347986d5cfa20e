import path from "node:path";
import type { FromLoadgen, LoadgenResult, ToLoadgen } from "./loadgen-protocol.ts";
import { ROOT, forkTs, stopChild } from "./proc.ts";
import { messageWaiter } from "./child-message.ts";

export interface RunningLoadgen {
  /** Monotonic ms when every client had joined the stream. */
  readyAtMs: number;
  stop(): Promise<LoadgenResult>;
}

const nextMessage = messageWaiter<FromLoadgen>("load generator");

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
