/**
 * `image.fromPixels` on the DOM's image sources in Chromium (page/image.html): ImageData, a
 * canvas, an OffscreenCanvas, an ImageBitmap, a decoded <img> and a VideoFrame give back the
 * bytes they were made from, for 1, 3 and 4 channels; an <img> still loading, one without
 * pixels, a <video> without a frame and an element that is no image are typed errors. The
 * `{ data, width, height }` source and the errors that need no DOM are tested in Node
 * (test/image.test.ts).
 */
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, type StaticServer } from './server.js';

const CHROMIUM = process.env.BALLAST_CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 60_000;

let browser: Browser;
let server: StaticServer;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run'] });
  server = await startStaticServer({ isolated: false });
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await server?.close();
}, TIMEOUT);

describe('image.fromPixels in Chromium', () => {
  it(
    'reads every DOM image source exactly and refuses what is not ready or not an image',
    async () => {
      const page = await browser.newPage();
      const messages: string[] = [];
      page.on('console', (m) => messages.push(`[console ${m.type()}] ${m.text()}`));
      page.on('pageerror', (e) => messages.push(`[page] ${e.message}`));
      await page.goto(`${server.origin}/page/image.html`);
      await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, { timeout: TIMEOUT - 10_000 });
      const checks = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as Array<{ name: string; ok: boolean; detail: string }>;
      await page.close();
      const failed = checks.filter((c) => !c.ok);
      expect(failed, `${JSON.stringify(failed, null, 2)}\n${messages.join('\n')}`).toEqual([]);
      // Six sources at three channel counts, and the five refusals.
      expect(checks.length).toBeGreaterThanOrEqual(6 * 3 - 2 + 5);
      expect(checks.map((c) => c.name)).toContain('HTMLImageElement, 3 channels');
    },
    TIMEOUT,
  );
});
