/**
 * The one retry rule for calls to Durable Objects, shared by every typed client in edge/do/.
 *
 * The runtime marks an error `retryable` when the object was reset or moved under the call (code
 * update, eviction, an overload it recovered from). One more try, on a fresh stub (a stub that
 * threw may stay broken), is then safe for a method that may run twice; a method that must not
 * (a broadcast, a log entry) is called with `{ once: true }` and its caller sees the first error.
 */

/** True for errors the runtime marks retryable. */
export const isRetryable = (err: unknown): boolean => typeof err === "object" && err !== null && (err as { retryable?: unknown }).retryable === true;

export interface RpcOptions {
  /** The method must not run twice: no retry. */
  once?: boolean;
}

/** Tries in all for a retryable call: the first, and one retry. */
const ATTEMPTS = 2;

/**
 * Runs `call` on a stub from `stub()`, and once more on a fresh stub when the error is retryable.
 *
 * @example
 * const counts = await callDurableObject(() => ns.get(ns.idFromName(id)), (s) => s.counts());
 */
export const callDurableObject = async <S, T>(stub: () => S, call: (stub: S) => Promise<T>, options: RpcOptions = {}): Promise<T> => {
  const attempts = options.once ? 1 : ATTEMPTS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(stub());
    } catch (err) {
      if (attempt >= attempts || !isRetryable(err)) throw err;
    }
  }
};

/** Base of the typed clients: the object named `name` in `ns`, reached through `callDurableObject`. */
export abstract class DurableObjectClient<T extends Rpc.DurableObjectBranded> {
  constructor(
    protected readonly ns: DurableObjectNamespace<T>,
    /** The object's name (`idFromName`). */
    readonly name: string,
  ) {}

  protected stub(): DurableObjectStub<T> {
    return this.ns.get(this.ns.idFromName(this.name));
  }

  protected call<R>(fn: (stub: DurableObjectStub<T>) => Promise<R>, options?: RpcOptions): Promise<R> {
    return callDurableObject(() => this.stub(), fn, options);
  }
}
