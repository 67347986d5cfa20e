import type { ChildProcess } from "node:child_process";

/**
 * A waiter for the next message of one type from a forked benchmark child (load generators, chat
 * clients): rejects when the child reports `failed`, exits first, or stays silent for `timeoutMs`.
 * Messages of other types go to `onOther` (progress reports).
 */
export const messageWaiter =
  <M extends { type: string }>(who: string) =>
  <T extends M["type"]>(child: ChildProcess, type: T, timeoutMs: number, onOther?: (m: M) => void): Promise<Extract<M, { type: T }>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`${who} sent no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (msg: M) => {
        if (msg.type === type) finish(null, msg as Extract<M, { type: T }>);
        else if (msg.type === "failed") finish(new Error(`${who} failed: ${(msg as unknown as { error: string }).error}`));
        else onOther?.(msg);
      };
      const onExit = (code: number | null) => finish(new Error(`${who} exited (${code}) before ${type}`));
      const finish = (err: Error | null, msg?: Extract<M, { type: T }>) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (err) reject(err);
        else resolve(msg!);
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
    });
