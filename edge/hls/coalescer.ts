/**
 * One in-flight upstream fill per key per isolate (checklist rule 64): the first request for a key
 * starts the fill, every identical request that arrives while it is pending waits for the same
 * promise. The key is released only once the fill has also been stored, so a request arriving in
 * between finds it either here or in the cache, never neither.
 */
export class Coalescer<T> {
  private readonly inflight = new Map<string, Promise<T>>();

  /** Number of keys with a fill pending (for stats and tests). */
  get size(): number {
    return this.inflight.size;
  }

  /**
   * @param fill produces the value (an upstream fetch read to the end)
   * @param settle runs after fill succeeded and before the key is released (the cache write)
   * @returns the value as soon as fill resolves, and whether this call joined another's fill
   */
  async run(key: string, fill: () => Promise<T>, settle: (value: T) => Promise<void>): Promise<{ value: T; joined: boolean; settled: Promise<void> }> {
    const pending = this.inflight.get(key);
    if (pending) return { value: await pending, joined: true, settled: Promise.resolve() };
    const value = fill();
    this.inflight.set(key, value);
    const settled = value
      .then((v) => settle(v))
      .catch(() => {})
      .finally(() => {
        if (this.inflight.get(key) === value) this.inflight.delete(key);
      });
    return { value: await value, joined: false, settled };
  }
}
