import { describe, expect, it } from "vitest";
import { Fanout } from "./fanout.ts";
import type { BroadcastFrame } from "../../chat/protocol.ts";

const msg = (n: number): BroadcastFrame => ({ type: "message", id: `m${n}`, user_id: "u", username: "u", badges: [], text: `t${n}`, ts: n });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const harness = (windowMs: number, o: { sendCostMs?: number } = {}) => {
  const sent: unknown[] = [];
  const relayed: BroadcastFrame[][] = [];
  let clock = 0;
  const fanout = new Fanout({
    windowMs,
    now: () => clock,
    send: (p) => {
      sent.push(JSON.parse(p));
      clock += o.sendCostMs ?? 0;
    },
    relay: (f) => relayed.push(f),
  });
  return { sent, relayed, fanout, advance: (ms: number) => (clock += ms) };
};

describe("chat fan-out coalescing", () => {
  it("frames further apart than the window go out at once, as objects", () => {
    const h = harness(50);
    for (let i = 0; i < 4; i++) {
      h.fanout.push(msg(i), true);
      h.advance(60);
    }
    expect(h.sent).toEqual([0, 1, 2, 3].map(msg));
    expect(h.relayed).toEqual([0, 1, 2, 3].map((i) => [msg(i)]));
  });

  it("frames within the window after a send are gathered and sent as one ordered array; only local frames are relayed, once per batch", async () => {
    const h = harness(30);
    h.fanout.push(msg(0), true);
    for (let i = 1; i < 7; i++) h.fanout.push(msg(i), i % 2 === 0);
    expect(h.sent).toEqual([msg(0)]);
    expect(h.fanout.coalescing).toBe(true);
    await sleep(60);
    expect(h.sent).toHaveLength(2);
    expect(h.sent[1]).toEqual([1, 2, 3, 4, 5, 6].map(msg));
    expect(h.relayed).toEqual([[msg(0)], [2, 4, 6].map(msg)]);
  });

  it("the window counts from the end of a slow send, so frames queued behind it travel together", () => {
    // A send that takes longer than the window (thousands of sockets) must not make every later frame a send of its own.
    const h = harness(20, { sendCostMs: 300 });
    h.fanout.push(msg(0), false);
    for (let i = 1; i < 20; i++) h.fanout.push(msg(i), false);
    expect(h.sent).toHaveLength(1);
    expect(h.fanout.coalescing).toBe(true);
    h.fanout.flush();
    expect(h.sent[1]).toHaveLength(19);
  });

  it("window 0 never coalesces", () => {
    const h = harness(0);
    for (let i = 0; i < 50; i++) h.fanout.push(msg(i), false);
    expect(h.sent).toHaveLength(50);
    expect(h.relayed).toHaveLength(0);
  });
});
