import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalescer.ts";

const deferred = <T>() => {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
};

describe("Coalescer", () => {
  it("runs one fill for concurrent callers; joiners get its value; the key is released after settle", async () => {
    const c = new Coalescer<string>();
    const fill = deferred<string>();
    const stored = deferred<void>();
    let fills = 0;
    const run = () => c.run("k", () => (fills++, fill.promise), () => stored.promise);
    const leader = run();
    const joiners = [run(), run(), run()];
    expect(c.size).toBe(1);
    fill.resolve("v");
    const results = await Promise.all([leader, ...joiners]);
    expect(fills).toBe(1);
    expect(results.map((r) => [r.value, r.joined])).toEqual([["v", false], ["v", true], ["v", true], ["v", true]]);
    // Filled but not yet stored: a newcomer still joins instead of going upstream again.
    const late = await run();
    expect(late.joined).toBe(true);
    expect(c.size).toBe(1);
    stored.resolve();
    await results[0]!.settled;
    expect(c.size).toBe(0);
  });

  it("a failed fill fails its joiners too and releases the key", async () => {
    const c = new Coalescer<string>();
    const fill = deferred<string>();
    const leader = c.run("k", () => fill.promise, async () => {});
    const joiner = c.run("k", () => Promise.resolve("never"), async () => {});
    fill.reject(new Error("origin down"));
    await expect(leader).rejects.toThrow("origin down");
    await expect(joiner).rejects.toThrow("origin down");
    expect(c.size).toBe(0);
    expect((await c.run("k", async () => "again", async () => {})).joined).toBe(false);
  });

  it("gives up a fill that never finishes (its request's context went away) and starts a new one", async () => {
    let now = 0;
    const c = new Coalescer<string>(1_000, () => now);
    void c.run("k", () => new Promise<string>(() => {}), async () => {});
    const joiner = c.run("k", async () => "x", async () => {});
    now = 1_000;
    await expect(joiner).rejects.toThrow("abandoned");
    const fresh = await c.run("k", async () => "fresh", async () => {});
    expect(fresh).toMatchObject({ value: "fresh", joined: false });
  });
});
