/**
 * Drives a built consumer page in Debian's Chromium (playwright-core, never a downloaded
 * browser): serves a directory on 127.0.0.1 with or without the cross-origin isolation
 * headers, waits for the page's training Worker to report, and collects every console
 * message, page error and failed request.
 */
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { extname, join, resolve, sep } from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.css': 'text/css; charset=utf-8',
};
const ISOLATION = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

/** Serves `root` statically; resolves to { origin, close }. */
export async function serve(root, isolated) {
  const base = resolve(root);
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    let file = resolve(base, `.${path}`);
    if (file !== base && !file.startsWith(base + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, { 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', ...(isolated ? ISOLATION : {}) });
      res.end(body);
    } catch {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
    }
  });
  await new Promise((done) => server.listen(0, '127.0.0.1', done));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((done) => { server.closeAllConnections(); server.close(done); }),
  };
}

export async function launch(workspacePackage) {
  const { chromium } = createRequire(workspacePackage)('playwright-core');
  return chromium.launch({
    executablePath: process.env.BALLAST_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/**
 * Opens `url`, waits for `globalThis.__result` (set from the Worker's message); returns it
 * with the console messages of the page and its workers (type and text) and failed requests.
 */
export async function runPage(browser, url, timeoutMs = 60_000) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const messages = [];
  page.on('console', (msg) => messages.push(`[${msg.type()}] ${msg.text()}`));
  page.on('pageerror', (err) => messages.push(`[pageerror] ${err.message}`));
  page.on('requestfailed', (req) => messages.push(`[requestfailed] ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('response', (res) => { if (res.status() >= 400) messages.push(`[http ${res.status()}] ${res.url()}`); });
  try {
    await page.goto(url);
    await page.waitForFunction(() => globalThis.__result !== undefined, null, { timeout: timeoutMs });
    const result = await page.evaluate(() => globalThis.__result);
    return { result, messages };
  } catch (e) {
    return { result: { error: `no result: ${e.message.split('\n')[0]}` }, messages };
  } finally {
    await context.close();
  }
}
