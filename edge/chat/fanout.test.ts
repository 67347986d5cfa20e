import { describe, expect, it } from "vitest";
import { Fanout } from "./fanout.ts";
import type { BroadcastFrame } from "./protocol.ts";

const msg = (n: number): BroadcastFrame => ({ type: "message", id: `m${n}`, user_id: "u", username: "u", badges: [], text: `t${n}`, ts: n });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const harness = (windowMs: number, highRate = 5) => {
  const sent: unknown[] = [];
  const relayed: BroadcastFrame[][] = [];
  const fanout = new Fanout({ windowMs, highRate, send: (p) => sent.push(JSON.parse(p)), relay: (f) => relayed.push(f) });
  return { sent, relayed, fanout };
};

describe("chat fan-out coalescing", () => {
  it("below the rate threshold every frame goes out at once, as an object", () => {
    const h = harness(50);
    for (let i = 0; i < 4; i++) h.fanout.push(msg(i), true);
    expect(h.sent).toEqual([0, 1, 2, 3].map(msg));
    expect(h.relayed).toEqual([0, 1, 2, 3].map((i) => [msg(i)]));
  });

  it("at a high rate frames are gathered for the window and sent as one ordered array; only local frames are relayed, once per batch", async () => {
    const h = harness(50);
    for (let i = 0; i < 4; i++) h.fanout.push(msg(i), true);
    // The 5th frame within a second starts coalescing.
    for (let i = 4; i < 10; i++) h.fanout.push(msg(i), i % 2 === 0);
    expect(h.sent).toHaveLength(4);
    expect(h.fanout.coalescing).toBe(true);
    await sleep(80);
    expect(h.sent).toHaveLength(5);
    expect(h.sent[4]).toEqual([4, 5, 6, 7, 8, 9].map(msg));
    expect(h.relayed.at(-1)).toEqual([4, 6, 8].map(msg));
  });

  it("window 0 never coalesces", () => {
    const h = harness(0);
    for (let i = 0; i < 50; i++) h.fanout.push(msg(i), false);
    expect(h.sent).toHaveLength(50);
    expect(h.relayed).toHaveLength(0);
  });
});
