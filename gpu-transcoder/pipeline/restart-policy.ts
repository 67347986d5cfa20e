/**
 * When ffmpeg exits under a live publisher: how long to wait before the next run, and when to
 * stop trying. The delay doubles with each exit in a row (from the base, up to the cap); a run
 * that lasted `stableMs` was healthy and starts the count over. A run that exits within
 * `quickMs` of its start is a quick failure: `maxQuickFailures` of them in a row mean the encoder
 * cannot run this stream at all (a binary that refuses the arguments, a missing device), and the
 * stream fails instead of restarting forever.
 */
export interface RestartPolicyOptions {
  baseMs: number;
  maxMs: number;
  stableMs: number;
  quickMs: number;
  maxQuickFailures: number;
}

/** First restart after 0.5 s, then 1, 2, 4 … s, never more than 30 s apart. */
export const RESTART_BACKOFF_BASE_MS = 500;
export const RESTART_BACKOFF_MAX_MS = 30_000;
/** A run this long was healthy: the backoff and the quick-failure count start over. */
export const RESTART_STABLE_RUN_MS = 60_000;
/** A run that exits this soon after its start is a quick failure. */
export const QUICK_FAILURE_MS = 10_000;
/** This many quick failures in a row fail the stream (after 0.5 + 1 + 2 + 4 s of backoff). */
export const MAX_QUICK_FAILURES = 5;

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = {
  baseMs: RESTART_BACKOFF_BASE_MS,
  maxMs: RESTART_BACKOFF_MAX_MS,
  stableMs: RESTART_STABLE_RUN_MS,
  quickMs: QUICK_FAILURE_MS,
  maxQuickFailures: MAX_QUICK_FAILURES,
};

export type RestartDecision =
  | { action: "restart"; delayMs: number; exitsInARow: number; quickFailures: number }
  | { action: "fail"; exitsInARow: number; quickFailures: number };

export class RestartPolicy {
  private exitsInARow = 0;
  private quickFailures = 0;
  readonly options: RestartPolicyOptions;

  constructor(options: Partial<RestartPolicyOptions> = {}) {
    this.options = { ...DEFAULT_RESTART_POLICY, ...options };
  }

  /** A run that lasted `runMs` exited unexpectedly: restart after the delay, or fail. */
  onExit(runMs: number): RestartDecision {
    const o = this.options;
    if (runMs >= o.stableMs) {
      this.exitsInARow = 0;
      this.quickFailures = 0;
    }
    this.exitsInARow++;
    this.quickFailures = runMs < o.quickMs ? this.quickFailures + 1 : 0;
    if (this.quickFailures >= o.maxQuickFailures) return { action: "fail", exitsInARow: this.exitsInARow, quickFailures: this.quickFailures };
    const delayMs = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(this.exitsInARow - 1, 30));
    return { action: "restart", delayMs, exitsInARow: this.exitsInARow, quickFailures: this.quickFailures };
  }
}

/**
 * ffmpeg's last words, for a person: the last lines of its stderr without the `@ 0x…` context
 * addresses (which differ every run), at most `max` characters.
 */
export const stderrSummary = (tail: string, lines = 4, max = 400): string => {
  const text = tail
    .split("\n")
    .map((l) => l.replace(/ @ 0x[0-9a-f]+\]/g, "]").trim())
    .filter(Boolean)
    .slice(-lines)
    .join(" / ");
  return text.length > max ? `…${text.slice(-(max - 1))}` : text;
};
