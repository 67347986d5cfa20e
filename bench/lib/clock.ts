/**
 * Timestamps that compare across processes. The pusher, the load generator and the server run in
 * separate processes; `process.hrtime` reads CLOCK_MONOTONIC, which is one system-wide clock on
 * Linux, so a time taken in one process can be subtracted from a time taken in another. It also
 * has sub-millisecond resolution (Date.now() has 1 ms, too coarse for loopback latencies) and
 * does not jump when NTP adjusts the wall clock.
 */
export const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** Sleeps until the monotonic clock reaches `atMs` (a schedule that does not drift with work done in between). */
export const sleepUntil = (atMs: number): Promise<void> => sleep(atMs - monoMs());
