/**
 * Ballast in a real browser: Debian's Chromium, driven by playwright-core, loads the built
 * package (`dist/web.js` and the WASM builds) from a local static server and runs matmuls in
 * a module Worker (see page/worker.js). With the cross-origin isolation headers it must use
 * the threaded build with one pool thread per core, and the pool must really share the work;
 * without them it must fall back to the SIMD build and say why.
 *
 * Needs `packages/ballast/dist` and `packages/ballast/wasm` built, and /usr/bin/chromium
 * (the browser is never downloaded). Run: `cd packages/ballast && npx vitest run test/browser`.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type ConsoleMessage } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStaticServer, packageRoot, type StaticServer } from './server.js';

const CHROMIUM = process.env.BALLAST_CHROMIUM ?? '/usr/bin/chromium';
const TIMEOUT = 60_000;
const TOLERANCE = 1e-4;

interface PageResult {
  error?: string;
  env: { build: 'relaxed' | 'threads' | 'simd'; threads: number; simd: boolean; fallbackReason?: string };
  crossOriginIsolated: boolean;
  pageCrossOriginIsolated: boolean;
  hardwareConcurrency: number;
  maxAbsError: number | 'Infinity';
  taskCounts: number[] | null;
  shapeErrorName: string | null;
  shapeErrorMessage: string | null;
  shapeErrorIsShapeError: boolean;
  afterErrorOk: boolean;
  progress: { quiet: string[]; verbose: string[] };
  checks: unknown[];
}

let browser: Browser;
const servers: StaticServer[] = [];

beforeAll(async () => {
  for (const needed of ['dist/web.js', 'dist/pool-worker-web.js', 'wasm/threads/ballast_wasm_bg.wasm', 'wasm/simd/ballast_wasm_bg.wasm']) {
    if (!existsSync(new URL(needed, `file://${packageRoot}`))) {
      throw new Error(`${needed} is missing: build the package first (pnpm build at the repository root)`);
    }
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}, TIMEOUT);

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
}, TIMEOUT);

/** Loads the test page from a fresh server and context; returns its result and a log for failures. */
async function runPage(isolated: boolean): Promise<{ result: PageResult; log: string; ms: number }> {
  const server = await startStaticServer({ isolated });
  servers.push(server);
  const context = await browser.newContext();
  const page = await context.newPage();
  const messages: string[] = [];
  page.on('console', (msg: ConsoleMessage) => {
    const { url, lineNumber } = msg.location();
    messages.push(`[console ${msg.type()}] ${msg.text()}${url ? ` (${url}:${lineNumber})` : ''}`);
  });
  page.on('pageerror', (err) => messages.push(`[page uncaught] ${err.stack ?? err.message}`));
  // page.on('console') also carries the console of the page's workers (nested ones included);
  // each message's location says where it came from.
  page.on('worker', (worker) => {
    messages.push(`[worker started] ${worker.url()}`);
    worker.on('close', () => messages.push(`[worker closed] ${worker.url()}`));
  });
  page.on('requestfailed', (req) => messages.push(`[request failed] ${req.url()}: ${req.failure()?.errorText}`));

  const log = () =>
    [
      `--- browser console (${isolated ? 'isolated' : 'not isolated'}) ---`,
      ...messages,
      '--- server log ---',
      ...server.log,
    ].join('\n');

  const started = performance.now();
  try {
    await page.goto(`${server.origin}/page/index.html`);
    await page.waitForFunction(() => (window as { __result?: unknown }).__result !== undefined, undefined, {
      timeout: TIMEOUT - 10_000,
    });
    const result = (await page.evaluate(() => (window as { __result?: unknown }).__result)) as PageResult;
    const ms = performance.now() - started;
    if (result.error) throw new Error(`the page reported: ${result.error}`);
    return { result, log: log(), ms };
  } catch (err) {
    (err as Error).message += `\n${log()}`;
    throw err;
  } finally {
    await context.close();
  }
}

/** The page's result, one line per matmul case. */
function describeResult(result: PageResult): string {
  const { checks, ...rest } = result;
  return [JSON.stringify(rest, null, 2), 'checks:', ...(checks ?? []).map((c) => `  ${JSON.stringify(c)}`)].join('\n');
}

/** Runs assertions; a failure carries the page's result, the browser's console and the server's log. */
function withLog(log: string, result: PageResult, assertions: () => void): void {
  try {
    assertions();
  } catch (err) {
    (err as Error).message += `\n--- page result ---\n${describeResult(result)}\n${log}`;
    throw err;
  }
}

function expectShapeError(result: PageResult): void {
  expect(result.shapeErrorName).toBe('ShapeError');
  expect(result.shapeErrorIsShapeError).toBe(true);
  expect(result.shapeErrorMessage).toContain('[2, 3]');
  // Both operands are [2, 3]: the message must name the shape of each, so it appears twice.
  expect(result.shapeErrorMessage!.split('[2, 3]').length - 1).toBeGreaterThanOrEqual(2);
  expect(result.afterErrorOk).toBe(true);
}

/** fit on nested arrays in the Worker: silent by default, one console line per epoch with verbose 1. */
function expectProgress(result: PageResult): void {
  expect(result.progress.quiet).toEqual([]);
  const lines = result.progress.verbose;
  expect(lines).toHaveLength(4);
  expect(lines[0]).toBe('Epoch 1/2');
  expect(lines[1]).toMatch(/^1\/1 ━{20} \d+s \d+(ms|us)\/step - loss: \d+\.\d{4}$/);
  expect(lines[2]).toBe('Epoch 2/2');
  expect(lines.join('')).not.toMatch(/[\r\n\x1b]/);
}

describe('ballast in Chromium', () => {
  it(
    'uses the threaded build on a cross-origin-isolated page',
    async () => {
      const { result, log, ms } = await runPage(true);
      console.log(
        `isolated: ${ms.toFixed(0)} ms, env ${JSON.stringify(result.env)}, hardwareConcurrency ${result.hardwareConcurrency}, ` +
          `task counts ${JSON.stringify(result.taskCounts)}, max abs error ${result.maxAbsError}`,
      );
      withLog(log, result, () => {
        expect(result.crossOriginIsolated).toBe(true);
        expect(result.pageCrossOriginIsolated).toBe(true);
        // Chromium has relaxed SIMD, so an isolated worker gets the relaxed threaded build.
        expect(result.env.build).toBe('relaxed');
        expect(result.env.fallbackReason).toBeUndefined();
        expect(result.hardwareConcurrency).toBeGreaterThan(1);
        expect(result.env.threads).toBe(result.hardwareConcurrency);
        expect(result.maxAbsError).toBeTypeOf('number');
        expect(result.maxAbsError).toBeLessThanOrEqual(TOLERANCE);
        expect(result.taskCounts).toHaveLength(result.env.threads + 1);
        const poolThreadsThatWorked = result.taskCounts!.slice(1).filter((c) => c > 0).length;
        expect(poolThreadsThatWorked).toBeGreaterThan(1);
        expectShapeError(result);
        expectProgress(result);
      });
    },
    TIMEOUT,
  );

  it(
    'falls back to the SIMD build without cross-origin isolation',
    async () => {
      const { result, log, ms } = await runPage(false);
      console.log(
        `not isolated: ${ms.toFixed(0)} ms, env ${JSON.stringify(result.env)}, ` +
          `task counts ${JSON.stringify(result.taskCounts)}, max abs error ${result.maxAbsError}`,
      );
      withLog(log, result, () => {
        expect(result.crossOriginIsolated).toBe(false);
        expect(result.pageCrossOriginIsolated).toBe(false);
        expect(result.env.build).toBe('simd');
        expect(result.env.threads).toBe(1);
        expect(result.env.fallbackReason).toMatch(/cross-origin isolat/i);
        expect(result.maxAbsError).toBeTypeOf('number');
        expect(result.maxAbsError).toBeLessThanOrEqual(TOLERANCE);
        expectShapeError(result);
        expectProgress(result);
      });
    },
    TIMEOUT,
  );
});
