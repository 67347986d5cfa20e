/**
 * The pages whose scripts had no browser test: sign-up (`/login`), the creator dashboard (`/creator`)
 * and the D1 directory's reload, in Debian's Chromium (playwright-core) against one edge Worker in
 * workerd (`wrangler dev`, D1 migrated) in front of a real core-origin. Each page's script
 * (edge/pages/client/*.js) reads its data island and runs under the page's CSP nonce; any page error
 * or CSP report fails the file.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrigin, type Origin } from "../../core-origin/app.ts";
import { applyEdgeMigrations, startEdgeProcess, type EdgeProcess } from "../../scripts/edge-process.ts";
import { NODE_SECRET } from "../live-path/harness.ts";
import { EDGE_ADMIN_TOKEN, freePort } from "../edge/stack.ts";
import { CHROMIUM, closeBrowserStack, haveChromium as haveChromiumFor } from "../support/chromium.ts";

const haveChromium = haveChromiumFor("test/browser/app-pages.test.ts");

const ROOT = path.resolve(import.meta.dirname, "../..");
const JWT_SECRET = "jwt-secret-for-the-app-pages-test-0123456789";
const PASSWORD = "correct horse battery";

describe.skipIf(!haveChromium)("sign-up, creator dashboard and directory pages, in Chromium", () => {
  let origin: Origin;
  let edge: EdgeProcess;
  let browser: Browser;
  let stateDir = "";
  let storageDir = "";
  const contexts: BrowserContext[] = [];
  const problems: string[] = [];

  /** A page in a fresh context (its own localStorage), with page errors and CSP reports collected. */
  const open = async (): Promise<Page> => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    page.on("console", (m) => {
      if (/content security policy/i.test(m.text())) problems.push(m.text());
    });
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    return page;
  };

  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(tmpdir(), "cascade-app-pages-"));
    storageDir = mkdtempSync(path.join(tmpdir(), "cascade-app-pages-origin-"));
    const logger = pino({ level: process.env.CASCADE_TEST_LOG ?? "silent" });
    origin = createOrigin({ host: "127.0.0.1", port: 0, nodeSecret: NODE_SECRET, storageDir, memorySegments: 8, playlistSegments: 15, logger });
    const [{ port: originPort }, edgePort] = await Promise.all([origin.listen(), freePort()]);
    await applyEdgeMigrations({ index: 1, stateDir, root: ROOT });
    edge = startEdgeProcess({
      index: 1,
      port: edgePort,
      originUrl: `http://127.0.0.1:${originPort}`,
      adminToken: EDGE_ADMIN_TOKEN,
      stateDir,
      root: ROOT,
      secrets: { JWT_SECRET, NODE_SECRET },
    });
    [, browser] = await Promise.all([edge.ready(90_000), chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] })]);
  }, 180_000);

  afterAll(async () => {
    await closeBrowserStack({ contexts, browser, edge, origin, dirs: [stateDir, storageDir] });
    expect(problems).toEqual([]);
  });

  it("signs up on /login, lands on /creator signed in, creates a stream and sees its key once", async () => {
    const page = await open();
    const username = `pages_${Date.now().toString(36)}`;
    await page.goto(`${edge.url}/login`);
    await page.fill("#signup input[name=username]", username);
    await page.fill("#signup input[name=password]", PASSWORD);
    await page.fill("#signup input[name=password2]", `${PASSWORD}!`);
    await page.click("#signup button[type=submit]");
    expect(await page.textContent("#signup .error")).toBe("The passwords do not match.");

    await page.fill("#signup input[name=password2]", PASSWORD);
    await Promise.all([page.waitForURL(`${edge.url}/creator`, { timeout: 15_000 }), page.click("#signup button[type=submit]")]);
    // The dashboard asked /api/v1/me with the session the login page stored.
    await page.waitForFunction((name) => document.getElementById("who")?.textContent === name, username, { timeout: 10_000 });
    expect(await page.isVisible("#need-login")).toBe(false);
    expect(await page.isVisible("#app")).toBe(true);

    await page.fill("#create input[name=title]", "App pages test");
    await page.click("#create button[type=submit]");
    await page.waitForSelector("#key-box:not([hidden])", { timeout: 10_000 });
    expect(await page.inputValue("#obs-key")).not.toBe("");
    expect(await page.textContent("#key-title")).toBe("App pages test");
    expect(await page.textContent("#ffmpeg")).toContain(await page.inputValue("#obs-key"));
    // The new stream is listed, and its go-live saga is followed.
    await page.waitForSelector("#streams-body tr[data-stream-id]", { timeout: 10_000 });
    expect(await page.isVisible("#saga")).toBe(true);
    await page.waitForFunction(() => (document.getElementById("saga-status")?.textContent ?? "") !== "", null, { timeout: 10_000 });
    await page.click("#hide-key");
    expect(await page.inputValue("#obs-key")).toBe("");

    // Back on /login with the session: it says who is signed in instead of the forms.
    await page.goto(`${edge.url}/login`);
    expect(await page.textContent("#who")).toBe(username);
    expect(await page.isVisible("#forms")).toBe(false);
  });

  it("/creator without a session asks to sign in", async () => {
    const page = await open();
    await page.goto(`${edge.url}/creator`);
    await page.waitForSelector("#need-login:not([hidden])", { timeout: 10_000 });
    expect(await page.isVisible("#app")).toBe(false);
  });

  it("the D1 directory reloads itself at the interval its data island gives", async () => {
    const page = await open();
    await page.goto(`${edge.url}/`);
    const loaded = Date.now();
    const { reloadMs } = JSON.parse((await page.textContent("#page-data")) ?? "{}") as { reloadMs: number };
    expect(reloadMs).toBe(15_000);
    await page.waitForEvent("load", { timeout: reloadMs + 10_000 });
    expect(Date.now() - loaded).toBeGreaterThanOrEqual(reloadMs - 1000);
  }, 60_000);
});
