/**
 * The child's side of a forked load generator: `start` runs the load (a crash is reported to the
 * parent as `failed`, then the process exits), `stop` resolves the promise `run` waits on, and the
 * parent going away ends the process (nothing is left to measure for).
 */
export const serveLoad = <S extends { type: "start" }>(
  run: (cfg: S, stopped: Promise<void>) => Promise<void>,
  send: (msg: { type: "failed"; error: string }, then: () => void) => void,
): void => {
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.on("message", (msg: { type: string }) => {
    if (msg.type === "start") {
      run(msg as S, stopped).catch((err: unknown) => send({ type: "failed", error: String((err as Error)?.stack ?? err) }, () => process.exit(1)));
    } else if (msg.type === "stop") {
      stop();
    }
  });
  process.on("disconnect", () => process.exit(0));
};
