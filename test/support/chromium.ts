/** Debian's Chromium for the browser tests, and the stack with a browser around a test file. */
import { existsSync, rmSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { startStack, type EdgeStack } from "../edge/stack.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** Whether Chromium is installed; when it is not, says that `file`'s tests are skipped. */
export const haveChromium = (file: string): boolean => {
  const have = existsSync(CHROMIUM);
  if (!have) console.log(`${file}: skipped, ${CHROMIUM} is missing (Debian: apt-get install chromium)`);
  return have;
};

/**
 * The whole stack (one edge, the demo publisher) and a Chromium that plays video without a click,
 * started together before the file's tests (within 90 s) and closed after them; `use` hands both
 * to the file's variables.
 */
export const stackWithChromium = (use: (stack: EdgeStack, browser: Browser) => void): void => {
  let started: [EdgeStack, Browser] | null = null;
  beforeAll(async () => {
    started = await Promise.all([startStack(), chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--autoplay-policy=no-user-gesture-required"] })]);
    use(...started);
  }, 90_000);
  afterAll(async () => {
    await started?.[1].close();
    await started?.[0].stop();
  });
};

/** Closes, in order, what a browser test file with its own edge and origin started (pages, Chromium, edge, origin) and removes its folders. */
export const closeBrowserStack = async (o: {
  contexts: readonly { close(): Promise<unknown> }[];
  browser?: { close(): Promise<unknown> } | undefined;
  edge?: { stop(): Promise<unknown> } | undefined;
  origin?: { close(): Promise<unknown> } | undefined;
  dirs: readonly (string | undefined)[];
}): Promise<void> => {
  for (const c of o.contexts) await c.close().catch(() => {});
  await o.browser?.close();
  await o.edge?.stop();
  await o.origin?.close();
  for (const d of o.dirs) if (d) rmSync(d, { recursive: true, force: true });
};
