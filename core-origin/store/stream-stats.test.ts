import { describe, expect, it } from "vitest";
import { initSegment, Pusher, PARTS, SINGLE, startOrigin, type TestOrigin, originPerTest } from "../../test/support/origin-harness.ts";
import { streamStats } from "./stream-stats.ts";

let t: TestOrigin;
let p: Pusher;

originPerTest("demo", {}, (o, pusher) => ((t = o), (p = pusher)));

const stream = () => t.origin.registry.get("demo")!;
const statsAt = (nowMs: number) => streamStats(t.origin.registry.list(), nowMs).find((s) => s.id === "demo")!;

describe("live-edge age", () => {
  it("is the time since the rendition's newest part arrived", async () => {
    await p.pushPart(0, 0);
    const r = stream().renditions.get("720p")!;
    const stats = statsAt(r.lastPartAtMs + 1500);
    expect(stats.renditions.find((x) => x.name === "720p")!.liveEdgeAgeS).toBe(1.5);
  });

  it("moves with every part, and not with other changes such as a segment boundary", async () => {
    await p.pushPart(0, 0, ["720p"]);
    const r = stream().renditions.get("720p")!;
    const first = r.lastPartAtMs;
    for (let i = 1; i < PARTS; i++) await p.pushPart(0, i, ["720p"]);
    const afterParts = r.lastPartAtMs;
    expect(afterParts).toBeGreaterThanOrEqual(first);
    await p.completeSegment(0, ["720p"]);
    expect(r.lastPartAtMs).toBe(afterParts);
  });

  it("counts from the announcement before the first part: a stream that never starts still ages", async () => {
    const r = stream().renditions.get("360p")!;
    expect(r.lastPart()).toBeNull();
    expect(statsAt(r.lastPartAtMs + 4000).renditions.find((x) => x.name === "360p")!.liveEdgeAgeS).toBe(4);
  });

  it("is null for an ended rendition and for every rendition of an ended stream", async () => {
    await p.pushSegment(0);
    await p.endRendition("720p");
    const now = Date.now() + 10_000;
    const byName = Object.fromEntries(statsAt(now).renditions.map((r) => [r.name, r.liveEdgeAgeS]));
    expect(byName["720p"]).toBeNull();
    expect(byName["360p"]).toBeGreaterThan(0);
    await p.end();
    expect(statsAt(now).renditions.every((r) => r.liveEdgeAgeS === null)).toBe(true);
    expect(statsAt(now).ended).toBe(true);
  });

  it("is never negative when the clock reads earlier than the last part", async () => {
    await p.pushPart(0, 0);
    const r = stream().renditions.get("720p")!;
    expect(statsAt(r.lastPartAtMs - 5000).renditions.find((x) => x.name === "720p")!.liveEdgeAgeS).toBe(0);
  });
});

describe("what a stream holds", () => {
  it("counts complete segments, part records and the media bytes in memory", async () => {
    const q = new Pusher(t, "one", SINGLE);
    await q.announce();
    await q.pushSegments(0, 2);
    await q.pushPart(3, 0);
    const s = streamStats(t.origin.registry.list(), Date.now()).find((x) => x.id === "one")!;
    expect(s.segmentsHeld).toBe(3);
    expect(s.partsHeld).toBe(3 * PARTS + 1);
    const partBytes = [...q.pushed.values()].reduce((a, b) => a + b.byteLength, 0);
    expect(s.memoryBytes).toBe(partBytes + initSegment("360p").byteLength);
    expect(s.partTargetS).toBe(SINGLE.partTarget);
  });

  it("stops counting part bytes once they left memory (written to storage, beyond memorySegments)", async () => {
    await t.close();
    t = await startOrigin({ memorySegments: 1, playlistSegments: 6 });
    const q = new Pusher(t, "one", SINGLE);
    await q.announce();
    await q.pushSegments(0, 20);
    await t.storage.idle();
    // The next completion trims what is stored by now (the origin keeps at least 6 x TD in memory).
    await q.pushSegment(21);
    await t.storage.idle();
    const s = streamStats(t.origin.registry.list(), Date.now()).find((x) => x.id === "one")!;
    const rendition = t.origin.registry.get("one")!.renditions.get("360p")!;
    const inMemory = rendition.segments.flatMap((seg) => seg.parts).filter((part) => part.bytes !== null).reduce((a, part) => a + part.size, 0);
    expect(s.memoryBytes).toBe(inMemory + initSegment("360p").byteLength);
    const pushedBytes = [...q.pushed.values()].reduce((a, b) => a + b.byteLength, 0);
    expect(s.memoryBytes).toBeLessThan(pushedBytes / 2);
  });
});
