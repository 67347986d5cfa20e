/**
 * Headless Chromium for the player benchmarks: Debian's /usr/bin/chromium driven by playwright-core
 * (as test/browser/watch-page.test.ts does). playwright-core starts the browser in its own process
 * group and kills it when this process exits or is interrupted.
 */
import { existsSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";
import type { PlayerSample } from "./player-page.ts";

export const CHROMIUM = "/usr/bin/chromium";

export const chromiumMissing = (): string | null => (existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (Debian: apt-get install chromium)`);

export const launchChromium = (): Promise<Browser> =>
  chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"] });

export interface PlayerPage {
  page: Page;
  /** Page errors and console errors, for the report. */
  problems: string[];
}

export const openPlayer = async (browser: Browser, url: string): Promise<PlayerPage> => {
  const page = await browser.newPage({ viewport: { width: 640, height: 360 } });
  const problems: string[] = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text().slice(0, 300)}`);
  });
  await page.goto(url);
  return { page, problems };
};

type BenchWindow = { benchSample?: () => PlayerSample };

export const samplePlayer = (page: Page): Promise<PlayerSample> => page.evaluate(() => (window as unknown as Required<BenchWindow>).benchSample());

/** Resolves when the video element has fired "playing" (hls.js has media on screen). */
export const waitPlaying = async (page: Page, timeoutMs: number): Promise<void> => {
  await page.waitForFunction(() => (window as unknown as BenchWindow).benchSample?.().state === "playing", null, { timeout: timeoutMs, polling: 100 });
};
