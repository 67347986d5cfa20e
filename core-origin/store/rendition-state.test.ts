import { afterEach, describe, expect, it, vi } from "vitest";
import { concat } from "../../test/support/ffmpeg-fixtures.ts";
import { bytesOf, initSegment, listFiles, partBytes, PARTS, PDT0, Pusher, SINGLE, startOrigin, TD, type TestOrigin } from "../../test/support/origin-harness.ts";
import { RenditionState, type PartPush, type RenditionWindow } from "./rendition-state.ts";
import type { StorageDriver } from "./storage-driver.ts";


/** An in-memory storage driver whose writes can be held back (`hold`) and released or failed later. */
class MemoryStorage implements StorageDriver {
  readonly objects = new Map<string, Uint8Array>();
  hold = false;
  fail = false;
  private readonly held: { key: string; bytes: Uint8Array; resolve: () => void; reject: (e: Error) => void }[] = [];

  put(key: string, bytes: Uint8Array): Promise<void> {
    if (this.fail) return Promise.reject(new Error(`disk full writing ${key}`));
    if (!this.hold) {
      this.objects.set(key, bytes);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.held.push({ key, bytes, resolve, reject }));
  }

  release(): void {
    for (const h of this.held.splice(0)) {
      this.objects.set(h.key, h.bytes);
      h.resolve();
    }
  }

  async get(key: string): Promise<Uint8Array | null> {
    return this.objects.get(key) ?? null;
  }

  async getRange(key: string, offset: number, length: number): Promise<Uint8Array | null> {
    const b = this.objects.get(key);
    return b && offset + length <= b.length ? b.slice(offset, offset + length) : null;
  }

  async deletePrefix(prefix: string): Promise<void> {
    for (const k of [...this.objects.keys()]) if (k.startsWith(prefix)) this.objects.delete(k);
  }
}

const WINDOW: RenditionWindow = { targetDuration: TD, partTarget: 0.5, segmentDuration: TD, memorySegments: 3, playlistSegments: 6 };

/** A RenditionState plus a node-side sequence counter. */
const rendition = (storage = new MemoryStorage(), window = WINDOW) => {
  const errors: unknown[] = [];
  const r = new RenditionState("720p", "video", window, storage, "demo/1/720p", (e) => errors.push(e));
  r.putInit(0, initSegment());
  let seq = 0;
  const part = (msn: number, idx: number, o: Partial<PartPush> = {}) =>
    r.addPart({
      seq: o.seq ?? seq + 1,
      msn,
      part: idx,
      duration: 0.5,
      independent: idx === 0,
      resync: false,
      programDateTimeMs: idx === 0 ? PDT0 + msn * TD * 1000 : null,
      discontinuity: false,
      initVersion: null,
      producedAtMs: null,
      bytes: partBytes("demo", "720p", msn, idx),
      ...o,
    });
  const step = <T extends { ok: boolean }>(res: T): T => {
    if (res.ok) seq++;
    return res;
  };
  const segment = (msn: number, o: Partial<PartPush> = {}) => {
    for (let i = 0; i < PARTS; i++) expect(step(part(msn, i, i === 0 ? o : {})).ok).toBe(true);
    expect(step(r.completeSegment({ seq: seq + 1, msn, duration: TD, peakBitrate: null, averageBitrate: null })).ok).toBe(true);
  };
  const settled = async () => {
    await Promise.all(r.segments.map((s) => s.persisted));
    await new Promise((res) => setImmediate(res));
  };
  return { r, storage, errors, part: (msn: number, idx: number, o: Partial<PartPush> = {}) => step(part(msn, idx, o)), segment, settled, seq: () => seq };
};

describe("RenditionState: bounded memory", () => {
  it("keeps bytes for the newest memorySegments only and metadata for the playlist window only", async () => {
    const { r, storage, segment, settled } = rendition();
    for (let msn = 0; msn < 20; msn++) segment(msn);
    await settled();
    expect(r.segments.map((s) => s.msn)).toEqual([14, 15, 16, 17, 18, 19]);
    expect(r.segments.filter((s) => s.parts.some((p) => p.bytes !== null)).map((s) => s.msn)).toEqual([17, 18, 19]);
    expect([...storage.objects.keys()].filter((k) => k.includes("/seg"))).toHaveLength(20);
    // A segment out of memory but in the window: parts come back from storage by offset.
    expect(await r.readPart(15, 2)).toEqual(partBytes("demo", "720p", 15, 2));
    // A segment that left the window: the whole segment still comes from storage (RFC 8216bis §6.2.2).
    expect(await r.readSegment(3)).toEqual(concat(...Array.from({ length: PARTS }, (_, i) => partBytes("demo", "720p", 3, i))));
    expect(await r.readSegment(20)).toBeNull();
    expect(await r.readSegment(99)).toBeNull();
  });

  it("bytes stay in memory (and segments in the list) until storage has them", async () => {
    const storage = new MemoryStorage();
    storage.hold = true;
    const { r, segment, settled } = rendition(storage);
    for (let msn = 0; msn < 10; msn++) segment(msn);
    expect(r.segments).toHaveLength(10);
    expect(r.segments.every((s) => s.parts.every((p) => p.bytes !== null))).toBe(true);
    expect(await r.readPart(0, 1)).toEqual(partBytes("demo", "720p", 0, 1));
    storage.hold = false;
    storage.release();
    await settled();
    expect(r.segments.map((s) => s.msn)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(r.segments.filter((s) => s.parts[0]!.bytes !== null).map((s) => s.msn)).toEqual([7, 8, 9]);
  });

  it("a failed storage write is reported and the bytes stay servable from memory", async () => {
    const storage = new MemoryStorage();
    storage.fail = true;
    const { r, errors, segment, settled } = rendition(storage);
    for (let msn = 0; msn < 5; msn++) segment(msn);
    await settled().catch(() => undefined);
    await new Promise((res) => setImmediate(res));
    expect(errors.length).toBeGreaterThan(0);
    expect(await r.readPart(0, 3)).toEqual(partBytes("demo", "720p", 0, 3));
    expect(await r.readSegment(0)).not.toBeNull();
  });
});

describe("RenditionState: sequence and window rules", () => {
  it("RFC 8216bis §6.2.1: DISCONTINUITY-SEQUENCE counts the discontinuities that left the window", async () => {
    const { r, segment, settled } = rendition();
    segment(0);
    segment(1, { discontinuity: true });
    for (let msn = 2; msn < 8; msn++) segment(msn);
    await settled();
    expect(r.segments[0]!.msn).toBe(2);
    expect(r.discontinuitySequence).toBe(1);
  });

  it("RFC 8216bis §4.4.4.9, §6.2.1: gap segments fill a resync's MSN jump with a continuing PROGRAM-DATE-TIME", async () => {
    const { r, segment, part, settled } = rendition();
    segment(0);
    expect(part(3, 0, { seq: 500, resync: true }).ok).toBe(true);
    await settled();
    expect(r.segments.map((s) => [s.msn, s.gap, s.discontinuity])).toEqual([
      [0, false, false],
      [1, true, false],
      [2, true, false],
      [3, false, true],
    ]);
    expect(r.segments.map((s) => s.programDateTimeMs - PDT0)).toEqual([0, 2000, 4000, 6000]);
    // findSegment works across the filled hole.
    expect(r.findSegment(3)?.parts).toHaveLength(1);
  });

  it("rules 1, 17: parts above PART-TARGET and segments whose duration rounds above TD are refused", () => {
    const { r, part, seq } = rendition();
    expect(part(0, 0, { duration: 0.6 })).toMatchObject({ ok: false, status: 400 });
    for (let i = 0; i < 5; i++) expect(part(0, i).ok).toBe(true);
    expect(r.completeSegment({ seq: seq() + 1, msn: 0, duration: 2.5, peakBitrate: null, averageBitrate: null })).toMatchObject({ ok: false, status: 400 });
    expect(r.openSegment?.msn).toBe(0);
  });

  it("nextPart (the PRELOAD-HINT) follows the nominal segment duration", () => {
    const { r, part } = rendition();
    expect(r.nextPart()).toBeNull();
    part(0, 0);
    expect(r.nextPart()).toEqual({ msn: 0, part: 1 });
    part(0, 1);
    part(0, 2);
    part(0, 3);
    expect(r.nextPart()).toEqual({ msn: 1, part: 0 });
    r.end();
    expect(r.nextPart()).toBeNull();
  });

  it("end() closes the open segment once; later parts get 409", () => {
    const { r, part } = rendition();
    part(0, 0);
    part(0, 1);
    expect(r.end()).toBe(true);
    expect(r.end()).toBe(false);
    expect(r.segments[0]).toMatchObject({ complete: true, duration: 1 });
    expect(part(0, 2)).toMatchObject({ ok: false, status: 409 });
  });
});

describe("RenditionState: DVR window", () => {
  const DVR: RenditionWindow = { ...WINDOW, dvrSeconds: 30, deleteExpired: true };

  it("lists the window's worth of segments (at least playlistSegments), slides, and drops part records beyond the live window", async () => {
    const { r, storage, segment, settled } = rendition(new MemoryStorage(), DVR);
    for (let msn = 0; msn < 40; msn++) {
      segment(msn);
      await settled();
    }
    // 30 s of 2 s segments.
    expect(r.segments.map((s) => s.msn)).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i));
    // Part records only for the newest playlistSegments (6); older ones are whole segments in storage.
    expect(r.segments.filter((s) => !s.compacted).map((s) => s.msn)).toEqual([34, 35, 36, 37, 38, 39]);
    expect(await r.readSegment(26)).toEqual(concat(...Array.from({ length: PARTS }, (_, i) => partBytes("demo", "720p", 26, i))));
    expect(await r.readPart(26, 1)).toBeNull();
    expect(await r.readPart(35, 1)).toEqual(partBytes("demo", "720p", 35, 1));
    // Deleted once out of the window for longer than the longest playlist (30 s) + TD.
    const stored = [...storage.objects.keys()].filter((k) => k.includes("/seg")).map((k) => Number(/seg(\d+)/.exec(k)![1])).sort((a, b) => a - b);
    expect(stored[0]).toBe(23); // ended at 46 s, 80 − 46 > 32 s: seg0..22 gone, 23 and 24 still in their period
    expect(stored.at(-1)).toBe(39);
  });

  it("a retried part of a segment whose part records were dropped is still a duplicate", async () => {
    const { r, part, segment, settled } = rendition(new MemoryStorage(), DVR);
    for (let msn = 0; msn < 12; msn++) {
      segment(msn);
      await settled();
    }
    expect(r.findSegment(2)?.compacted).toBe(true);
    expect(part(2, 3, { seq: 5 })).toEqual({ ok: true, duplicate: true });
  });

  it("setRetention: a smaller window applies at once; deleteExpired false keeps storage", async () => {
    const { r, storage, segment, settled } = rendition(new MemoryStorage(), { ...DVR, dvrSeconds: 60 });
    r.setRetention(60, false);
    for (let msn = 0; msn < 30; msn++) {
      segment(msn);
      await settled();
    }
    expect(r.segments).toHaveLength(30);
    r.setRetention(20, false);
    expect(r.segments.map((s) => s.msn)).toEqual(Array.from({ length: 10 }, (_, i) => 20 + i));
    for (let msn = 30; msn < 60; msn++) {
      segment(msn);
      await settled();
    }
    expect([...storage.objects.keys()].filter((k) => k.includes("/seg"))).toHaveLength(60);
  });
});

describe("RenditionState.waitFor", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("resolves true on the change that makes it ready, and not before", async () => {
    const { r, part } = rendition();
    part(0, 0);
    let done: boolean | null = null;
    void r.waitFor(() => r.lastPart()!.part >= 2, 60_000).then((v) => (done = v));
    part(0, 1);
    await Promise.resolve();
    expect(done).toBeNull();
    expect(r.waiterCount).toBe(1);
    part(0, 2);
    await Promise.resolve();
    expect(done).toBe(true);
    expect(r.waiterCount).toBe(0);
  });

  it("resolves false after the timeout and on abort, leaving no waiter", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const { r } = rendition();
    const timed = r.waitFor(() => false, 6000);
    const ctrl = new AbortController();
    const aborted = r.waitFor(() => false, 6000, ctrl.signal);
    expect(r.waiterCount).toBe(2);
    ctrl.abort();
    expect(await aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(6000);
    expect(await timed).toBe(false);
    expect(r.waiterCount).toBe(0);
  });
});

describe("memory window through the origin", () => {
  let t: TestOrigin;
  afterEach(async () => {
    await t.close();
  });

  it("the per-rendition window is bounded; older segments are in the storage directory and still fetchable", async () => {
    t = await startOrigin({ memorySegments: 8, playlistSegments: 15 });
    const p = new Pusher(t, "mem", SINGLE);
    await p.announce();
    // As for a recorded stream: storage keeps every segment (core-origin/store/dvr-window.test.ts covers deletion).
    t.origin.registry.keepStorage("mem");
    const name = SINGLE.renditions[0]!.name;
    await p.pushSegments(0, 29);
    await p.pushPart(30, 0);
    await t.storage.idle();
    const state = t.origin.registry.get("mem")!.renditions.get(name)!;
    expect(state.window).toMatchObject({ memorySegments: 8, playlistSegments: 15 });
    expect(state.segments.map((s) => s.msn)).toEqual(Array.from({ length: 16 }, (_, i) => 15 + i));
    const inMemory = state.segments.filter((s) => s.parts.some((x) => x.bytes !== null)).map((s) => s.msn);
    expect(inMemory).toEqual([22, 23, 24, 25, 26, 27, 28, 29, 30]);
    const files = await listFiles(t.storageDir);
    const session = t.origin.registry.get("mem")!.sessionId;
    expect(files).toEqual(
      [`mem/${session}/${name}/init0.mp4`, ...Array.from({ length: 30 }, (_, i) => `mem/${session}/${name}/seg${i}.m4s`)].sort(),
    );
    const segBytes = (msn: number) => concat(...Array.from({ length: PARTS }, (_, i) => partBytes("mem", name, msn, i)));
    // Left the window: served from the storage directory.
    for (const msn of [0, 7, 14]) {
      const res = await t.request(`/live/mem/${name}/seg${msn}.m4s`);
      expect(res.status, `seg${msn}`).toBe(200);
      expect(await bytesOf(res)).toEqual(segBytes(msn));
    }
    // In the window, out of memory: parts read back by byte range.
    expect(await bytesOf(await t.request(`/live/mem/${name}/part16.3.m4s`))).toEqual(partBytes("mem", name, 16, 3));
    expect(await bytesOf(await t.request(`/live/mem/${name}/seg16.m4s`))).toEqual(segBytes(16));
  });
});


