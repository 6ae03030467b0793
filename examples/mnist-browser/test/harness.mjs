// Building, serving and opening the app in Chromium: shared by the end-to-end test and the
// throughput benchmark.
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { build, preview } from 'vite';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Debian's Chromium; never a downloaded one. */
export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.BALLAST_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** `vite build` of the app into dist/. */
export function buildApp() {
  return build({ root, logLevel: 'warn' });
}

/**
 * Serves dist/ with vite preview on 127.0.0.1 and an ephemeral port, with the isolation
 * headers or (`isolated: false`) without them. Returns `{ origin, close() }`.
 */
export async function serveDist({ isolated }) {
  const before = process.env.MNIST_BROWSER_ISOLATION;
  // vite.config.mjs reads this when preview() loads it.
  process.env.MNIST_BROWSER_ISOLATION = isolated ? 'on' : 'off';
  try {
    const server = await preview({
      root,
      logLevel: 'warn',
      preview: { host: '127.0.0.1', port: 0, strictPort: true, open: false },
    });
    return { origin: `http://127.0.0.1:${server.httpServer.address().port}`, close: () => server.close() };
  } finally {
    if (before === undefined) delete process.env.MNIST_BROWSER_ISOLATION;
    else process.env.MNIST_BROWSER_ISOLATION = before;
  }
}

/** A page in a fresh browser context; `log` collects the browser's console for failure messages. */
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[console ${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[page uncaught] ${e.stack ?? e.message}`));
  page.on('requestfailed', (r) => log.push(`[request failed] ${r.url()}: ${r.failure()?.errorText}`));
  page.on('worker', (w) => log.push(`[worker] ${w.url()}`));
  await page.goto(url);
  return { page, context, log };
}

/** Waits until the page's phase is one of `phases` or it shows an error; returns its state. */
export async function waitForPhase(page, phases, timeout) {
  await page.waitForFunction(
    (wanted) => wanted.includes(window.__mnist?.phase) || (window.__mnist?.errors.length ?? 0) > 0,
    phases,
    { timeout, polling: 250 },
  );
  return page.evaluate(() => window.__mnist);
}
