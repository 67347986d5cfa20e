/**
 * One in-flight upstream fill per key per isolate (RFC 8216bis B.1): the first request for a key
 * starts the fill, every identical request that arrives while it is pending waits for its result.
 * The key is released only once the fill has also been stored, so a request arriving in between
 * finds it either here or in the cache, never neither.
 *
 * Joiners never await the leader's promise. In workerd a promise belongs to the request that made
 * it: a continuation registered by another request runs in a context that may already be gone (its
 * client hung up, it answered 503 after 3 × TD), and workerd then fails it with "Promise will never
 * complete" — uncaught, once per joiner. So the leader writes the outcome into a plain slot and
 * joiners look at it on their own timers, a few milliseconds apart. (A joiner waiting on a promise
 * of its own that the leader resolves is no better: the 30-minute soak logged ~10,000 of the same
 * errors that way, and none with polling. Nor is that promise raced against a timer of the
 * joiner's own, set to the abandon deadline: 5,663 of them in a 5-minute soak. The polling costs
 * about a quarter of the isolate's busy time under LL-HLS load, `bench/edge-profile.ts`.)
 */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

interface Slot<T> {
  outcome: Outcome<T> | null;
  startedAt: number;
  /** After this long without an outcome the fill is taken for dead. */
  abandonAfterMs: number;
}

/** Joiners look at the slot after 2, 4, 8, 16 ms, then every POLL_MAX_MS. */
const POLL_MAX_MS = 20;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

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
    const slot: Slot<T> = { outcome: null, startedAt: this.now(), abandonAfterMs };
    this.inflight.set(key, slot);
    const release = () => {
      if (this.inflight.get(key) === slot) this.inflight.delete(key);
    };
    let value: T;
    try {
      value = await fill();
    } catch (error) {
      slot.outcome = { ok: false, error };
      release();
      throw error;
    }
    slot.outcome = { ok: true, value };
    const settled = settle(value)
      .catch(() => {})
      .finally(release);
    return { value, joined: false, settled };
  }

  private async wait(slot: Slot<T>): Promise<Outcome<T>> {
    let delay = 2;
    while (slot.outcome === null) {
      if (this.now() - slot.startedAt >= slot.abandonAfterMs) return { ok: false, error: new Error("the fill this request joined was abandoned") };
      await sleep(delay);
      delay = Math.min(delay * 2, POLL_MAX_MS);
    }
    return slot.outcome;
  }
}
