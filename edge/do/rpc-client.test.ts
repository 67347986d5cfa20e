import { describe, expect, it } from "vitest";
import { callDurableObject, isRetryable } from "./rpc-client.ts";

const transient = () => Object.assign(new Error("Durable Object reset because its code was updated."), { retryable: true });

/** A stub factory whose calls fail with `errors` in turn, then answer; records which stub each call got. */
const flaky = (errors: Error[]) => {
  let made = 0;
  const used: number[] = [];
  return {
    used,
    stub: () => ++made,
    call: async (stub: number) => {
      used.push(stub);
      const err = errors.shift();
      if (err) throw err;
      return "ok";
    },
  };
};

describe("rpc-client: the one retry rule for Durable Object calls", () => {
  it("retries a retryable error once, on a fresh stub", async () => {
    const f = flaky([transient()]);
    await expect(callDurableObject(f.stub, f.call)).resolves.toBe("ok");
    expect(f.used).toEqual([1, 2]);
  });

  it("gives up after one retry", async () => {
    const f = flaky([transient(), transient()]);
    await expect(callDurableObject(f.stub, f.call)).rejects.toMatchObject({ retryable: true });
    expect(f.used).toEqual([1, 2]);
  });

  it("never retries an error that is not retryable, nor a call made `once`", async () => {
    const plain = flaky([new Error("bad input")]);
    await expect(callDurableObject(plain.stub, plain.call)).rejects.toThrow("bad input");
    expect(plain.used).toEqual([1]);
    const once = flaky([transient()]);
    await expect(callDurableObject(once.stub, once.call, { once: true })).rejects.toMatchObject({ retryable: true });
    expect(once.used).toEqual([1]);
  });

  it("reads `retryable` only when it is exactly true", () => {
    expect(isRetryable(transient())).toBe(true);
    expect(isRetryable(Object.assign(new Error("x"), { retryable: "yes" }))).toBe(false);
    expect(isRetryable(null)).toBe(false);
    expect(isRetryable("retryable")).toBe(false);
  });
});
