/**
 * The player page in a real browser against the real stack: Debian's Chromium (driven by
 * playwright-core) opens /watch/<id> on an edge Worker in workerd, which pulls from core-origin,
 * which is fed by the transcoder and the demo publisher (320x180 test ladder).
 */
import type { Browser, Page } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../live-path/harness.ts";
import type { EdgeStack } from "../edge/stack.ts";
import { haveChromium, stackWithChromium } from "../support/chromium.ts";

const chromiumHere = haveChromium("test/browser/watch-page.test.ts");

/** What the page exposes on `window.cascadePlayer` (see edge/pages/client/player.js). */
interface PlayerState {
  state: "loading" | "playing" | "offline" | "ended" | "error";
  latency: number | null;
  stalls: number;
  level: { index: number; auto: boolean; width: number | null; height: number | null; bitrate: number | null } | null;
  errors: { at: string; type: string; details: string; fatal: boolean; code: number | null }[];
  engine: "hls.js" | "native" | null;
  lowLatencyMode: boolean | null;
  partTarget: number | null;
  targetLatency: number | null;
  liveJumps: number;
  stats: { bufferAhead: number; droppedFrames: number | null; totalFrames: number | null; bandwidthEstimate: number | null } | null;
}

const PLAY_SECONDS = 20;

const playerState = (page: Page): Promise<PlayerState> => page.evaluate(() => JSON.parse(JSON.stringify((window as unknown as { cascadePlayer: unknown }).cascadePlayer)) as PlayerState);

const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
};

describe.skipIf(!chromiumHere)("watch page in Chromium, through the edge, on the real stack", () => {
  let stack: EdgeStack;
  let browser: Browser;

  stackWithChromium((s, b) => ((stack = s), (browser = b)));
  beforeAll(async () => {
    // The directory API (edge → origin /live/streams) lists the stream once it is live.
    await waitFor(
      "the stream in /api/v1/live",
      async () => {
        const res = await fetch(`${stack.edgeUrl}/api/v1/live`);
        const list = (await res.json()) as { id: string; renditions: string[] }[];
        return list.find((s) => s.id === stack.streamId && s.renditions.length >= 2);
      },
      30_000,
    );
  }, 90_000);

  it(`plays ${PLAY_SECONDS} s in hls.js low-latency mode without stalls, with a finite latency readout`, async () => {
    const page = await browser.newPage();
    const cspViolations: string[] = [];
    const foreign: string[] = [];
    let blockingReloads = 0;
    let partRequests = 0;
    page.on("console", (m) => {
      if (/content security policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on("pageerror", (e) => cspViolations.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      const url = r.url();
      if (!url.startsWith(stack.edgeUrl) && !url.startsWith("blob:") && !url.startsWith("data:")) foreign.push(url);
      if (/\/index\.m3u8\?.*_HLS_msn=/.test(url)) blockingReloads++;
      if (/\/part\d+\.\d+\.m4s$/.test(url)) partRequests++;
    });

    const started = Date.now();
    await page.goto(`${stack.edgeUrl}/watch/${stack.streamId}`);
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "playing", null, { timeout: 20_000 });
    const timeToPlayMs = Date.now() - started;

    const startTime = await page.evaluate(() => document.querySelector("video")!.currentTime);
    const latencies: number[] = [];
    const readouts: string[] = [];
    for (let i = 0; i < PLAY_SECONDS; i++) {
      await page.waitForTimeout(1000);
      const s = await playerState(page);
      expect(s.state, `second ${i}: ${JSON.stringify(s.errors.slice(-3))}`).toBe("playing");
      if (s.latency !== null) latencies.push(s.latency);
      readouts.push((await page.textContent("#latency")) ?? "");
    }
    const end = await playerState(page);
    const played = (await page.evaluate(() => document.querySelector("video")!.currentTime)) - startTime;
    const hlsConfig = await page.evaluate(() => {
      const hls = (window as unknown as { cascadePlayer: { hls: { config: { lowLatencyMode: boolean } } } }).cascadePlayer.hls;
      return { lowLatencyMode: hls.config.lowLatencyMode };
    });

    const p50 = quantile(latencies, 0.5);
    console.log(
      `watch page: playing after ${timeToPlayMs} ms; ${PLAY_SECONDS} s played (${played.toFixed(1)} s of media); latency s min ${Math.min(...latencies).toFixed(2)} p50 ${p50.toFixed(2)} max ${Math.max(...latencies).toFixed(2)}; ` +
        `stalls ${end.stalls}; live jumps ${end.liveJumps}; level ${end.level?.height}p; target latency ${end.targetLatency}; part target ${end.partTarget}; ` +
        `dropped ${end.stats?.droppedFrames}/${end.stats?.totalFrames}; blocking reloads ${blockingReloads}; part requests ${partRequests}; non-fatal errors ${end.errors.length}`,
    );

    expect(end.state).toBe("playing");
    expect(end.engine).toBe("hls.js");
    // hls.js in low-latency mode, on LL-HLS playlists: parts, blocking playlist reloads.
    expect(end.lowLatencyMode).toBe(true);
    expect(hlsConfig.lowLatencyMode).toBe(true);
    expect(end.partTarget).toBeGreaterThan(0);
    expect(blockingReloads).toBeGreaterThan(PLAY_SECONDS);
    expect(partRequests).toBeGreaterThan(PLAY_SECONDS);
    // Rebuffering: none after the first frame (the stream is local, the ladder is 320x180).
    expect(end.stalls, JSON.stringify(end.errors)).toBe(0);
    expect(end.errors.filter((e) => e.fatal)).toEqual([]);
    // The media really advanced (allowing for hls.js catching up at up to 1.5x).
    expect(played).toBeGreaterThan(PLAY_SECONDS - 3);
    // Latency readout: present every second, finite, and low-latency sized.
    expect(latencies.length).toBeGreaterThanOrEqual(PLAY_SECONDS - 1);
    for (const l of latencies) expect(Number.isFinite(l) && l > 0).toBe(true);
    for (const r of readouts) expect(r).toMatch(/^\d+\.\d s$/);
    expect(p50).toBeLessThan(6);
    expect(cspViolations).toEqual([]);
    expect(foreign).toEqual([]);
    await page.close();
  }, 60_000);

  it("offers the quality levels and switches when one is chosen", async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.edgeUrl}/watch/${stack.streamId}`);
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "playing", null, { timeout: 20_000 });
    const options = await page.$$eval("#quality option", (os) => os.map((o) => ({ value: (o as HTMLOptionElement).value, text: o.textContent ?? "" })));
    expect(options.map((o) => o.text.replace(/ \(.*\)$/, ""))).toEqual(["Auto", expect.stringMatching(/^180p · \d+ kb\/s$/), expect.stringMatching(/^90p · \d+ kb\/s$/)]);
    const low = options.find((o) => o.text.startsWith("90p"))!;
    await page.selectOption("#quality", low.value);
    await waitFor("the 90p level on screen", async () => (await page.evaluate(() => document.querySelector("video")!.videoHeight)) === 90, 10_000);
    // The readout follows hls.js's LEVEL_SWITCHED, which may land a moment after the first 90p frame.
    await waitFor("the player to report the 90p level", async () => {
      const level = (await playerState(page)).level as { height?: number; auto?: boolean } | null;
      return level?.height === 90 && level.auto === false;
    }, 10_000);
    const s = await playerState(page);
    expect(s.level).toMatchObject({ index: Number(low.value), auto: false, height: 90 });
    expect(s.state).toBe("playing");
    await page.close();
  }, 30_000);

  it("says a stream that is not live is offline, and the directory lists the live one", async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.edgeUrl}/watch/not-live-yet`);
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "offline", null, { timeout: 10_000 });
    expect(await page.textContent("#message")).toContain("This stream is offline");
    await page.goto(`${stack.edgeUrl}/`);
    expect(await page.getAttribute(`a[href="/watch/${stack.streamId}"]`, "href")).toBe(`/watch/${stack.streamId}`);
    await page.close();
  }, 30_000);

  // Last: it ends the stream.
  it("tells the viewer when the stream ends (publisher gone, grace period over, ENDLIST)", async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.edgeUrl}/watch/${stack.streamId}`);
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "playing", null, { timeout: 20_000 });
    const publisher = stack.publisher!;
    const gone = new Promise((resolve) => publisher.once("exit", resolve));
    publisher.kill("SIGTERM"); // ffmpeg exits with a status on SIGTERM, which stack.stop() relies on
    await gone;
    // The stack's reconnect grace is 5 s; then every playlist gets ENDLIST and the player plays out.
    await page.waitForFunction(() => (window as unknown as { cascadePlayer?: { state: string } }).cascadePlayer?.state === "ended", null, { timeout: 25_000 });
    expect(await page.textContent("#message")).toBe("The stream has ended.");
    expect(await page.textContent("#badge")).toBe("ENDED");
    await page.close();
  }, 45_000);
});
