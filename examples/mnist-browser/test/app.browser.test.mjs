/**
 * The built app in Debian's Chromium, driven by playwright-core: build it (vite build), serve
 * dist/ with vite preview on 127.0.0.1 with an ephemeral port, with and without the headers
 * that make a page cross-origin isolated, and use it as a person would: train, draw a digit,
 * save and load the model. Screenshots go to test-results/.
 *
 * Needs the ballast package built (its dist/ and wasm/) and /usr/bin/chromium (or
 * BALLAST_CHROMIUM); the browser is never downloaded.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, launchChromium, openPage as open, serveDist, waitForPhase as waitFor } from './harness.mjs';

const results = fileURLToPath(new URL('../test-results/', import.meta.url));

// 12,800 training images at batch 128 are 100 steps per epoch: 3 epochs are 300 steps, with
// a test-set evaluation (1,000 images) after each.
const TRAINING = { train: 12800, test: 1000, epochs: 3, steps: 300, batch: 128 };
const MIN_TEST_ACCURACY = 0.95;

let browser;
const servers = [];

async function serve(isolated) {
  const server = await serveDist({ isolated });
  servers.push(server);
  return server.origin;
}

const openPage = (url) => open(browser, url);

/** Runs `body`; a failure message gets the browser's console and the page's state. */
async function withLog({ page, log }, body) {
  try {
    return await body();
  } catch (err) {
    const state = await page.evaluate(() => JSON.stringify(window.__mnist, null, 1)).catch(() => '(page gone)');
    err.message += `\n--- page state ---\n${state}\n--- browser console ---\n${log.join('\n')}`;
    throw err;
  }
}

/** Waits for the page's phase to be one of `phases`, failing on any error it shows. */
async function waitForPhase(page, phases, timeout) {
  const { phase, errors } = await waitFor(page, phases, timeout);
  expect(errors).toEqual([]);
  expect(phases).toContain(phase);
}

/**
 * Pixels drawn in a colour (not the greys of axes, grid and labels) in the canvases under
 * `selector`: zero for a chart with axes but no data.
 */
function colouredPixels(page, selector) {
  return page.evaluate((sel) => {
    const counts = [];
    for (const canvas of document.querySelectorAll(`${sel} canvas`)) {
      const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      let n = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        const hi = Math.max(data[i], data[i + 1], data[i + 2]);
        const lo = Math.min(data[i], data[i + 1], data[i + 2]);
        if (hi - lo > 60) n++;
      }
      counts.push(n);
    }
    return counts;
  }, selector);
}

/** Strokes of a digit in pad coordinates (0..1), drawn with the mouse. */
const DIGITS = {
  1: [[[0.52, 0.14], [0.51, 0.35], [0.5, 0.6], [0.49, 0.86]]],
  0: [
    Array.from({ length: 33 }, (_, i) => {
      const a = (i / 32) * 2 * Math.PI;
      return [0.5 + 0.22 * Math.sin(a), 0.5 - 0.33 * Math.cos(a)];
    }),
  ],
  7: [[[0.26, 0.2], [0.5, 0.2], [0.74, 0.2], [0.62, 0.45], [0.5, 0.68], [0.42, 0.86]]],
};

async function drawDigit(page, digit) {
  await page.click('#clear');
  const box = await page.locator('#pad').boundingBox();
  for (const stroke of DIGITS[digit]) {
    const at = ([x, y]) => [box.x + x * box.width, box.y + y * box.height];
    await page.mouse.move(...at(stroke[0]));
    await page.mouse.down();
    for (const point of stroke.slice(1)) await page.mouse.move(...at(point), { steps: 6 });
    await page.mouse.up();
  }
  // The page predicts again when the stroke ends; wait for the answer to the whole drawing.
  await page.waitForFunction(() => window.__mnist.prediction !== null && !window.__mnist.predicting, undefined, {
    timeout: 10_000,
  });
  return page.evaluate(() => ({
    guess: document.getElementById('guess-digit').textContent,
    shown: [...document.querySelectorAll('#probs .prob')].map((row) => ({
      digit: row.dataset.digit,
      p: Number(row.dataset.p),
      text: row.querySelector('.pct').textContent,
    })),
    prediction: window.__mnist.prediction,
  }));
}

beforeAll(async () => {
  for (const needed of ['dist/web.js', 'wasm/threads/ballast_wasm_bg.wasm', 'wasm/simd/ballast_wasm_bg.wasm']) {
    if (!existsSync(new URL(`../node_modules/ballast/${needed}`, import.meta.url))) {
      throw new Error(`ballast's ${needed} is missing: build the package first (pnpm build at the repository root)`);
    }
  }
  await mkdir(results, { recursive: true });
  await buildApp();
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await Promise.all(servers.map((s) => s.close()));
});

describe('the MNIST app, built and served with cross-origin isolation', () => {
  let session;
  let drawnOne;

  afterAll(async () => {
    await session?.context.close();
  });

  it(
    `trains the seed CNN for ${TRAINING.steps} steps on the threaded build to ≥ 95% test accuracy, plotting as it goes`,
    async () => {
      const origin = await serve(true);
      const query = new URLSearchParams({ ...TRAINING, model: 'seed', autostart: '1' });
      session = await openPage(`${origin}/?${query}`);
      const { page } = session;
      const started = performance.now();
      await withLog(session, async () => {
        // The build and the thread count first: no point in waiting for training otherwise.
        await page.waitForFunction(() => window.__mnist.env !== null, undefined, { timeout: 30_000 });
        const early = await page.evaluate(() => window.__mnist);
        expect(early.crossOriginIsolated).toBe(true);
        expect(early.workerCrossOriginIsolated).toBe(true);
        expect(early.env.build).toBe('relaxed'); // Chromium has relaxed SIMD
        expect(early.env.threads).toBe(early.hardwareConcurrency);

        await waitForPhase(page, ['done'], 170_000);
        const s = await page.evaluate(() => window.__mnist);
        console.log(
          `isolated: ${((performance.now() - started) / 1000).toFixed(1)} s, env ${JSON.stringify(s.env)}, ` +
            `${s.result.steps} steps, test accuracy ${(s.result.testAcc * 100).toFixed(2)}% on ${s.result.testCount}, ` +
            `${Math.round(s.result.imagesPerSecond)} images/s`,
        );
        expect(s.crossOriginIsolated).toBe(true);
        expect(s.workerCrossOriginIsolated).toBe(true);
        expect(s.env.build).toBe('relaxed');
        expect(s.env.fallbackReason).toBeUndefined();
        expect(s.env.threads).toBe(s.hardwareConcurrency);
        expect(s.data).toEqual({ train: TRAINING.train, test: TRAINING.test });
        expect(s.result.steps).toBeGreaterThanOrEqual(TRAINING.steps);
        expect(s.result.testCount).toBe(TRAINING.test);
        expect(s.result.testAcc).toBeGreaterThanOrEqual(MIN_TEST_ACCURACY);
        expect(s.epochs).toHaveLength(TRAINING.epochs);
        expect(await page.locator('#notice').isHidden()).toBe(true);
        expect(await page.locator('#env').textContent()).toContain(`threads ×${s.hardwareConcurrency}`);
        expect(await page.locator('#stat-test').textContent()).toBe(`${(s.result.testAcc * 100).toFixed(2)}%`);

        // Every chart drew its lines: loss, accuracy, throughput, gradient norms, and the BN
        // layer's two.
        for (const chart of ['#chart-loss', '#chart-acc', '#chart-speed', '#chart-grad']) {
          const counts = await colouredPixels(page, chart);
          expect(counts.length, chart).toBeGreaterThan(0);
          expect(Math.max(...counts), `coloured pixels in ${chart}`).toBeGreaterThan(300);
        }
        const bn = await page.locator('.bn-layer').evaluateAll((cards) => cards.map((c) => c.dataset.layer));
        expect(bn).toEqual(['batch_normalization']);
        for (const part of ['.bn-mean', '.bn-var']) {
          const counts = await colouredPixels(page, `.bn-layer ${part}`);
          expect(Math.max(...counts), `coloured pixels in ${part}`).toBeGreaterThan(100);
        }
        // A gradient norm for every trainable layer at every step, each finite and positive;
        // the chart's legend names the same layers.
        const trainable = s.model.layers.filter((l) => l.params > 0).map((l) => l.name);
        expect(trainable).toEqual(['batch_normalization', 'conv2d', 'conv2d_1', 'dense', 'dense_1']);
        expect(s.gradients.map((g) => g.name)).toEqual(trainable);
        for (const g of s.gradients) {
          expect(g.batches, g.name).toBe(s.result.steps);
          expect(Number.isFinite(g.min) && g.min > 0, `${g.name}: smallest norm ${g.min}`).toBe(true);
          expect(Number.isFinite(g.max), `${g.name}: largest norm ${g.max}`).toBe(true);
        }
        const legend = await page.locator('#chart-grad .u-legend .u-label').allTextContents();
        expect(legend).toEqual(trainable);
        // A chain of layers: no "connected to" in the summary.
        expect(await page.locator('#layers th').allTextContents()).toEqual(['Layer', 'Output', 'Params']);
        await page.screenshot({ path: `${results}trained.png`, fullPage: true });
      });
    },
    180_000,
  );

  it('classifies digits drawn on the pad, with probabilities that sum to 1', async () => {
    expect(session, 'needs the trained page of the previous test').toBeDefined();
    const { page } = session;
    await withLog(session, async () => {
      for (const digit of ['1', '0', '7']) {
        const drawn = await drawDigit(page, digit);
        const sum = drawn.shown.reduce((s, row) => s + row.p, 0);
        const shownPercent = drawn.shown.reduce((s, row) => s + Number.parseFloat(row.text), 0);
        console.log(`drew ${digit}: guess ${drawn.guess}, ${drawn.shown.map((r) => `${r.digit}:${r.text}`).join(' ')}`);
        expect(drawn.shown.map((r) => r.digit)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
        expect(sum).toBeCloseTo(1, 4);
        // Ten figures rounded to 0.1% each.
        expect(Math.abs(shownPercent - 100)).toBeLessThanOrEqual(0.5);
        expect(drawn.guess).toBe(digit);
        if (digit === '1') drawnOne = drawn.prediction;
      }
      await drawDigit(page, '1');
      await page.screenshot({ path: `${results}drawn.png`, fullPage: false });
    });
  });

  it('saves the model in the browser and as files, and loads both back', async () => {
    expect(drawnOne, 'needs the prediction of the previous test').toBeDefined();
    const { page } = session;
    await withLog(session, async () => {
      await page.click('#save');
      await page.waitForFunction(() => window.__mnist.saved === true, undefined, { timeout: 10_000 });
      const downloads = [];
      page.on('download', (d) => downloads.push(d));
      await page.click('#download');
      await expect.poll(() => downloads.length, { timeout: 10_000 }).toBe(2);
      const files = {};
      for (const d of downloads) {
        files[d.suggestedFilename()] = `${results}${d.suggestedFilename()}`;
        await d.saveAs(files[d.suggestedFilename()]);
      }
      expect(Object.keys(files).sort()).toEqual(['model.json', 'weights.safetensors']);
      expect(JSON.parse(await readFile(files['model.json'], 'utf8'))).toMatchObject({ format: 'ballast-model', version: 2, modelClass: 'Sequential' });

      // A fresh load of the page: no model until one is loaded, from IndexedDB...
      await page.goto(page.url().split('?')[0] + '?test=100');
      await waitForPhase(page, ['ready'], 30_000);
      expect(await page.evaluate(() => window.__mnist.model)).toBeNull();
      // The charts' pixel check sees axes without lines as blank.
      expect(Math.max(...(await colouredPixels(page, '#chart-loss')))).toBe(0);
      expect(await page.locator('#load-saved').isEnabled()).toBe(true);
      await page.click('#load-saved');
      await page.waitForFunction(() => window.__mnist.model !== null, undefined, { timeout: 10_000 });
      const fromSaved = await drawDigit(page, '1');
      expect(fromSaved.prediction).toEqual(drawnOne);

      // ... and from the two downloaded files.
      await page.goto(page.url());
      await waitForPhase(page, ['ready'], 30_000);
      await page.setInputFiles('#files', [files['model.json'], files['weights.safetensors']]);
      await page.waitForFunction(() => window.__mnist.model !== null, undefined, { timeout: 10_000 });
      const fromFiles = await drawDigit(page, '1');
      expect(fromFiles.prediction).toEqual(drawnOne);
    });
  });
});

describe('the ResNet in the same app', () => {
  // 12 steps of 32 images: one epoch of a ResNet-20 in a few seconds, long enough for the
  // loss to fall from its start (about 2.5) and for every chart to draw.
  const RESNET = { train: 384, test: 100, batch: 32, steps: 12, epochs: 1 };

  it(`trains ResNet-20 for ${RESNET.steps} steps, shows its graph and its BN layers one at a time, and saves and loads it`, async () => {
    const origin = await serve(true);
    const query = new URLSearchParams({ ...RESNET, model: 'resnet20', autostart: '1' });
    const session = await openPage(`${origin}/?${query}`);
    const { page, context, log } = session;
    try {
      await withLog(session, async () => {
        await waitForPhase(page, ['done'], 120_000);
        const s = await page.evaluate(() => window.__mnist);
        console.log(`resnet20: ${s.result.steps} steps, losses ${s.losses.map((l) => l.toFixed(2)).join(' ')}, ${Math.round(s.result.imagesPerSecond)} images/s`);
        expect(s.settings.variant).toBe('resnet20');
        expect(await page.locator('select[name=variant]').inputValue()).toBe('resnet20');
        expect(s.result.steps).toBe(RESNET.steps);
        expect(s.losses).toHaveLength(RESNET.steps);
        for (const loss of [...s.losses, s.result.testLoss]) expect(Number.isFinite(loss) && loss > 0, `loss ${loss}`).toBe(true);
        const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
        expect(mean(s.losses.slice(-4))).toBeLessThan(mean(s.losses.slice(0, 4)));

        // The summary: 73 layers, the residual connections shown where the graph branches.
        expect(s.model.layers).toHaveLength(73);
        expect(s.model.bn).toHaveLength(21);
        expect(await page.locator('#model-info').textContent()).toMatch(/^The resnet20 model\. 27\d,\d{3} parameters, 21 BN layers\.$/);
        expect(await page.locator('#layers th').first().textContent()).toBe('Layer ← connected to');
        const add = page.locator('#layers tr[data-layer=stage1_block1_add] td').first();
        expect(await add.locator('small').allTextContents()).toEqual(['Add', '← stage1_block1_bn2, stem_relu']);
        const shortcut = page.locator('#layers tr[data-layer=stage2_block1_shortcut_conv] td').first();
        expect(await shortcut.locator('small').allTextContents()).toEqual(['Conv2D', '← stage1_block3_relu2']);
        // A layer fed by the row above says nothing more.
        expect(await page.locator('#layers tr[data-layer=stage1_block1_bn1] small').allTextContents()).toEqual(['BatchNormalization']);

        // Every chart drew its lines.
        for (const chart of ['#chart-loss', '#chart-acc', '#chart-speed', '#chart-grad']) {
          expect(Math.max(...(await colouredPixels(page, chart))), `coloured pixels in ${chart}`).toBeGreaterThan(300);
        }
        // Gradient norms: each of the 43 trainable layers finite and positive at every step,
        // drawn as one line per residual block (and the stem, and the Dense layer).
        const trainable = s.model.trainable.map((l) => l.name);
        expect(trainable).toHaveLength(43);
        expect(s.gradients.map((g) => g.name)).toEqual(trainable);
        for (const g of s.gradients) {
          expect(g.batches, g.name).toBe(RESNET.steps);
          expect(Number.isFinite(g.min) && g.min > 0 && Number.isFinite(g.max), `${g.name}: norms ${g.min}..${g.max}`).toBe(true);
        }
        const blocks = [1, 2, 3].flatMap((stage) => [1, 2, 3].map((block) => `stage${stage}_block${block}`));
        expect(s.gradientLines.map((l) => l.name)).toEqual(['stem', ...blocks, 'predictions']);
        expect(s.gradientLines.flatMap((l) => l.layers)).toEqual(trainable);
        expect(await page.locator('#chart-grad .u-legend .u-label').allTextContents()).toEqual(['stem', ...blocks, 'predictions']);

        // BN: one layer at a time, the first to begin with; another shows its whole history.
        const picker = page.locator('#bn select[name=bnLayer]');
        expect(await picker.locator('option').count()).toBe(21);
        expect(await picker.inputValue()).toBe('stem_bn');
        const shown = () => page.locator('.bn-layer').evaluateAll((cards) => cards.map((c) => c.dataset.layer));
        expect(await shown()).toEqual(['stem_bn']);
        await picker.selectOption('stage3_block3_bn2');
        expect(await shown()).toEqual(['stage3_block3_bn2']);
        expect(await page.locator('.bn-layer h3 small').textContent()).toBe('64 channels');
        await page.waitForTimeout(200); // a redraw happens at the next animation frame
        for (const part of ['.bn-mean', '.bn-var']) {
          expect(Math.max(...(await colouredPixels(page, `.bn-layer ${part}`))), `coloured pixels in ${part}`).toBeGreaterThan(100);
        }
        await page.screenshot({ path: `${results}resnet.png`, fullPage: true });

        // Save as files and load them back into a fresh page: the same graph, the same answer.
        const before = (await drawDigit(page, '1')).prediction;
        const downloads = [];
        page.on('download', (d) => downloads.push(d));
        await page.click('#download');
        await expect.poll(() => downloads.length, { timeout: 10_000 }).toBe(2);
        const files = {};
        for (const d of downloads) {
          files[d.suggestedFilename()] = `${results}resnet-${d.suggestedFilename()}`;
          await d.saveAs(files[d.suggestedFilename()]);
        }
        const saved = JSON.parse(await readFile(files['model.json'], 'utf8'));
        expect(saved).toMatchObject({ format: 'ballast-model', version: 2, modelClass: 'Functional' });
        await page.goto(`${origin}/?test=100`);
        await waitForPhase(page, ['ready'], 30_000);
        await page.setInputFiles('#files', [files['model.json'], files['weights.safetensors']]);
        await page.waitForFunction(() => window.__mnist.model !== null, undefined, { timeout: 10_000 });
        const loaded = await page.evaluate(() => window.__mnist.model);
        expect(loaded.source).toMatch(/^files: /);
        expect(loaded.layers).toEqual(s.model.layers);
        expect(await page.locator('#layers tr[data-layer=stage1_block1_add] small').allTextContents()).toEqual(['Add', '← stage1_block1_bn2, stem_relu']);
        expect((await drawDigit(page, '1')).prediction).toEqual(before);

        // Nothing went to the console but the workers starting.
        expect(log.filter((line) => !line.startsWith('[worker]'))).toEqual([]);
      });
    } finally {
      await context.close();
    }
  }, 90_000);
});

describe('the MNIST app served without cross-origin isolation', () => {
  it('trains on the SIMD-only build and says so; pauses and resumes', async () => {
    const origin = await serve(false);
    const session = await openPage(`${origin}/?train=2560&test=200&steps=16&epochs=1&autostart=1`);
    const { page, context } = session;
    try {
      await withLog(session, async () => {
        await page.waitForFunction(() => window.__mnist.step >= 2, undefined, { timeout: 30_000, polling: 50 });
        await page.click('#pause');
        await waitForPhase(page, ['paused'], 10_000);
        const pausedAt = await page.evaluate(() => window.__mnist.step);
        await page.waitForTimeout(1000);
        expect(await page.evaluate(() => window.__mnist.step)).toBe(pausedAt);
        expect(await page.locator('#pause').textContent()).toBe('Resume');
        await page.click('#pause');
        await waitForPhase(page, ['done'], 60_000);
        const s = await page.evaluate(() => window.__mnist);
        console.log(`not isolated: env ${JSON.stringify(s.env)}, ${s.result.steps} steps, ${Math.round(s.result.imagesPerSecond)} images/s`);
        expect(s.crossOriginIsolated).toBe(false);
        expect(s.env.build).toBe('simd');
        expect(s.env.threads).toBe(1);
        expect(s.env.fallbackReason).toMatch(/cross-origin isolated/);
        expect(s.result.steps).toBe(16);
        expect(Number.isFinite(s.result.testLoss)).toBe(true);
        const notice = page.locator('#notice');
        expect(await notice.isVisible()).toBe(true);
        const text = await notice.textContent();
        expect(text).toContain('one thread');
        expect(text).toContain('SIMD-only');
        expect(text).toContain('not cross-origin isolated');
        expect(await page.locator('#env').textContent()).toMatch(/1 thread/);
        // Only the single-threaded choices can be picked.
        const enabled = await page.locator('select[name=threads] option:not([disabled])').evaluateAll((o) => o.map((x) => x.value));
        expect(enabled).toEqual(['auto', '1']);
        const counts = await colouredPixels(page, '#chart-loss');
        expect(Math.max(...counts)).toBeGreaterThan(100);
        await page.screenshot({ path: `${results}not-isolated.png`, fullPage: false });
      });
    } finally {
      await context.close();
    }
  });
});
