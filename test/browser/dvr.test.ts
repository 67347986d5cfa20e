/**
 * DVR in a real browser on the real stack (issue 6): the demo publisher (320x180) runs through the
 * transcoder and core-origin (default 2 h DVR window) to an edge Worker in workerd; Chromium plays
 * /watch/<id> with hls.js, rewinds 60 s into the DVR window (segments that left the origin's
 * memory come from its storage), keeps playing there, then "Go live" returns to the live edge.
 * LL-HLS is real time, so the stream must first run for over a minute: the test mostly waits.
 */
import type { Browser, Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { EdgeStack } from "../edge/stack.ts";
import { haveChromium, stackWithChromium } from "../support/chromium.ts";

const chromiumHere = haveChromium("test/browser/dvr.test.ts");

const REWIND_S = 60;

interface PlayerState {
  state: string;
  latency: number | null;
  stalls: number;
  dvr: boolean;
  behindLive: number | null;
  dvrWindow: { start: number; end: number } | null;
  lowLatencyMode: boolean | null;
  errors: { type: string; details: string; fatal: boolean; code: number | null }[];
}

const playerState = (page: Page): Promise<PlayerState> =>
  page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { cascadePlayer: unknown }).cascadePlayer)) as PlayerState);
const currentTime = (page: Page): Promise<number> => page.evaluate(() => document.querySelector("video")!.currentTime);
const paused = (page: Page): Promise<boolean> => page.evaluate(() => document.querySelector("video")!.paused);

describe.skipIf(!chromiumHere)("DVR in Chromium, through the edge, on the real stack", () => {
  let stack: EdgeStack;
  let browser: Browser;

  stackWithChromium((s, b) => ((stack = s), (browser = b)));

  it(`plays live, rewinds ${REWIND_S} s into the DVR window and plays there, then Go live returns to the live edge`, async () => {
    const page = await browser.newPage();
    const segmentResponses: { url: string; status: number }[] = [];
    let partRequests = 0;
    page.on("response", (r) => {
      if (/\/seg\d+\.m4s$/.test(r.url())) segmentResponses.push({ url: r.url(), status: r.status() });
    });
    page.on("request", (r) => {
      if (/\/part\d+\.\d+\.m4s$/.test(r.url())) partRequests++;
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));

    await page.goto(`${stack.edgeUrl}/watch/${stack.streamId}`);
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "playing", null, { timeout: 30_000 });
    const live0 = await playerState(page);
    expect(live0.dvr).toBe(false);
    expect(live0.lowLatencyMode).toBe(true);
    expect(await page.isHidden("#golive")).toBe(true);

    // Real time: wait (doing nothing else) until the playlist's window reaches REWIND_S behind the sync point.
    const waitStart = Date.now();
    await page.waitForFunction(
      (need) => {
        const p = (window as unknown as { cascadePlayer?: { dvrWindow: { start: number; end: number } | null } }).cascadePlayer;
        return !!p?.dvrWindow && p.dvrWindow.end - p.dvrWindow.start >= need;
      },
      REWIND_S + 8,
      { timeout: 100_000, polling: 1000 },
    );
    const waitedS = (Date.now() - waitStart) / 1000;
    const atLive = await playerState(page);
    expect(atLive.state).toBe("playing");
    expect(atLive.latency!).toBeLessThan(6);

    // Rewind as the seek bar does: the media time REWIND_S before hls.js's live sync point.
    const target = await page.evaluate((rewind) => {
      const hls = (window as unknown as { cascadePlayer: { hls: { liveSyncPosition: number } } }).cascadePlayer.hls;
      const t = hls.liveSyncPosition - rewind;
      document.querySelector("video")!.currentTime = t;
      return t;
    }, REWIND_S);
    const segmentsBefore = segmentResponses.length;
    await page.waitForFunction((t) => document.querySelector("video")!.currentTime > t + 1, target, { timeout: 15_000 });
    const t1 = await currentTime(page);
    await page.waitForTimeout(4000);
    const t2 = await currentTime(page);
    const rewound = await playerState(page);
    const segmentsLoaded = segmentResponses.slice(segmentsBefore);
    console.log(
      `dvr: waited ${waitedS.toFixed(0)} s for a ${REWIND_S + 8} s window (${atLive.dvrWindow!.start}–${atLive.dvrWindow!.end}); live latency ${atLive.latency} s; ` +
        `rewound to ${target.toFixed(1)}: behind live ${rewound.behindLive} s, latency ${rewound.latency} s, played ${(t2 - t1).toFixed(1)} s in 4 s; ` +
        `${segmentsLoaded.length} whole segments fetched (${segmentsLoaded.filter((s) => s.status === 200).length} × 200); stalls ${rewound.stalls}`,
    );
    // Playing from about REWIND_S behind: the playhead moves at real time, no catch-up jump.
    expect(rewound.state).toBe("playing");
    expect(await paused(page)).toBe(false);
    expect(t2 - t1).toBeGreaterThan(3);
    expect(rewound.dvr).toBe(true);
    expect(rewound.behindLive!).toBeGreaterThan(REWIND_S - 5);
    expect(rewound.behindLive!).toBeLessThan(REWIND_S + 5);
    // Capture-to-display latency now includes the rewind.
    expect(rewound.latency!).toBeGreaterThan(REWIND_S - 5);
    expect(rewound.latency!).toBeLessThan(REWIND_S + 8);
    // hls.js fetched whole segments from the DVR part of the playlist (out of the origin's memory: from storage).
    expect(segmentsLoaded.length).toBeGreaterThan(0);
    expect(segmentsLoaded.every((s) => s.status === 200)).toBe(true);
    const origin = stack.live.origin.registry.get(stack.streamId)!;
    const fromStorage = segmentsLoaded.filter((s) => {
      const m = /\/hls\/[^/]+\/([^/]+)\/seg(\d+)\.m4s$/.exec(s.url);
      const seg = m ? origin.renditions.get(m[1]!)?.findSegment(Number(m[2])) : undefined;
      return seg !== undefined && seg.parts.every((p) => p.bytes === null);
    });
    expect(fromStorage.length).toBeGreaterThan(0);
    expect(await page.isVisible("#golive")).toBe(true);
    expect(await page.textContent("#behind")).toMatch(/^−\d+:\d\d behind live$/);

    // Go live: back at the live edge, low latency again, parts again.
    const partsBefore = partRequests;
    await page.click("#golive");
    await page.waitForFunction(
      () => {
        const p = (window as unknown as { cascadePlayer: { latency: number | null; dvr: boolean } }).cascadePlayer;
        return !p.dvr && p.latency !== null && p.latency < 6;
      },
      null,
      { timeout: 15_000, polling: 500 },
    );
    await page.waitForTimeout(3000);
    const back = await playerState(page);
    console.log(`dvr: after Go live: latency ${back.latency} s, behind live ${back.behindLive} s, part requests since ${partRequests - partsBefore}`);
    expect(back.state).toBe("playing");
    expect(back.dvr).toBe(false);
    expect(back.latency!).toBeLessThan(6);
    expect(back.behindLive!).toBeLessThan(3 * 2);
    expect(await page.isHidden("#golive")).toBe(true);
    expect(partRequests - partsBefore).toBeGreaterThan(0);
    expect(back.errors.filter((e) => e.fatal)).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 160_000);
});
