/**
 * One in-flight upstream fill per key per isolate (checklist rule 64): the first request for a key
 * starts the fill, every identical request that arrives while it is pending waits for its result.
 * The key is released only once the fill has also been stored, so a request arriving in between
 * finds it either here or in the cache, never neither.
 *
 * Joiners never await the leader's promise. In workerd a promise belongs to the request that made
 * it, and a request awaiting another request's I/O promise is failed with "Promise will never
 * complete" (uncaught, once per joiner) when that request is torn down under it. So each joiner
 * waits on a promise of its own, which the leader resolves with the outcome (a plain value), and
 * also looks at the slot on its own timer every SAFETY_POLL_MS, so a leader whose request vanished
 * mid-fill (nobody left to resolve) is noticed: its slot is given up after `abandonAfterMs`.
 * (Polling alone, every few ms, cost too much CPU with hundreds of joiners per key.)
 */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Slot<T> {
  outcome: Outcome<T> | null;
  startedAt: number;
  waiters: Array<(outcome: Outcome<T>) => void>;
  /** After this long without an outcome the fill is taken for dead. */
  abandonAfterMs: number;
}

const SAFETY_POLL_MS = 100;

export class Coalescer<T> {
  private readonly inflight = new Map<string, Slot<T>>();

  /**
   * @param abandonAfterMs default for run(): a slot whose fill has not finished after this long is
   *   given up (its request's context was torn down mid-fill) and the next request starts a fresh fill
   */
  constructor(
    private readonly abandonAfterMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of keys with a fill pending or being stored (for stats and tests). */
  get size(): number {
    return this.inflight.size;
  }

  /**
   * @param fill produces the value (an upstream fetch read to the end)
   * @param settle runs after fill succeeded and before the key is released (the cache write)
   * @param abandonAfterMs when a fill that has not finished is taken for dead (longer than the
   *   fill's own timeout)
   * @returns the value as soon as fill resolves, whether this call joined another's fill, and (for
   *   the leader) the settle step, which the caller keeps alive with waitUntil
   */
  async run(key: string, fill: () => Promise<T>, settle: (value: T) => Promise<void>, abandonAfterMs = this.abandonAfterMs): Promise<{ value: T; joined: boolean; settled: Promise<void> }> {
    const existing = this.inflight.get(key);
    if (existing && (existing.outcome !== null || this.now() - existing.startedAt < existing.abandonAfterMs)) {
      const outcome = await this.wait(existing);
      if (outcome.ok) return { value: outcome.value, joined: true, settled: Promise.resolve() };
      throw outcome.error;
    }
    const slot: Slot<T> = { outcome: null, startedAt: this.now(), waiters: [], abandonAfterMs };
    this.inflight.set(key, slot);
    const release = () => {
      if (this.inflight.get(key) === slot) this.inflight.delete(key);
    };
    let value: T;
    try {
      value = await fill();
    } catch (error) {
      this.finish(slot, { ok: false, error });
      release();
      throw error;
    }
    this.finish(slot, { ok: true, value });
    const settled = settle(value)
      .catch(() => {})
      .finally(release);
    return { value, joined: false, settled };
  }

  private finish(slot: Slot<T>, outcome: Outcome<T>): void {
    slot.outcome = outcome;
    for (const wake of slot.waiters.splice(0)) {
      try {
        wake(outcome);
      } catch {
        // a joiner whose request is gone; its own timer ends its wait
      }
    }
  }

  private wait(slot: Slot<T>): Promise<Outcome<T>> {
    if (slot.outcome) return Promise.resolve(slot.outcome);
    return new Promise<Outcome<T>>((resolve) => {
      let timer: ReturnType<typeof setTimeout> | null = null;
      let done = false;
      const settle = (outcome: Outcome<T>) => {
        if (done) return;
        done = true;
        if (timer !== null) clearTimeout(timer);
        resolve(outcome);
      };
      const check = () => {
        if (slot.outcome) return settle(slot.outcome);
        if (this.now() - slot.startedAt >= slot.abandonAfterMs) return settle({ ok: false, error: new Error("the fill this request joined was abandoned") });
        timer = setTimeout(check, SAFETY_POLL_MS);
      };
      slot.waiters.push(settle);
      timer = setTimeout(check, SAFETY_POLL_MS);
    });
  }
}
