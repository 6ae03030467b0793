#!/usr/bin/env node
// Training throughput of the seed CNN, side by side: the app in Chromium (on an isolated page
// the relaxed-SIMD threaded build, and the threaded build without relaxed SIMD; the SIMD-only
// build without isolation) and `model.fit` in Node (threaded, and one thread), on the same MNIST images, batch size and step count. Every figure counts training
// steps only, after five warm-up steps. Settings alternate round by round so that a busy
// machine slows them alike; each figure is the median over rounds.
// Usage: node bench/throughput.mjs [--steps 60] [--rounds 1] [--batch 128] [--train 12800] [--no-build]
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { buildApp, launchChromium, openPage, serveDist, waitForPhase } from '../test/harness.mjs';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '60' },
    rounds: { type: 'string', default: '1' },
    batch: { type: 'string', default: '128' },
    train: { type: 'string', default: '12800' },
    'no-build': { type: 'boolean', default: false },
  },
});
const { steps, batch, train } = values;
const rounds = Number(values.rounds);

async function inChromium(browser, origin, extra = {}) {
  const query = new URLSearchParams({ model: 'seed', train, test: '100', steps, batch, autostart: '1', ...extra });
  const { page, context, log } = await openPage(browser, `${origin}/?${query}`);
  try {
    const s = await waitForPhase(page, ['done'], 600_000);
    if (s.errors.length) throw new Error(`the page failed: ${s.errors.join('; ')}\n${log.join('\n')}`);
    return { env: s.env, imagesPerSecond: s.result.steadyImagesPerSecond };
  } finally {
    await context.close();
  }
}

async function inNode(threads) {
  const script = fileURLToPath(new URL('./node-fit.mjs', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [script, '--threads', threads, '--train', train, '--steps', steps, '--batch', batch]);
  return JSON.parse(stdout.trim().split('\n').at(-1));
}

if (!values['no-build']) await buildApp();
const browser = await launchChromium();
const isolated = await serveDist({ isolated: true });
const notIsolated = await serveDist({ isolated: false });
const settings = [
  { name: 'Chromium, isolated page', run: () => inChromium(browser, isolated.origin) },
  { name: 'Chromium, isolated page, relaxed=0', run: () => inChromium(browser, isolated.origin, { relaxed: '0' }) },
  { name: 'Chromium, not isolated', run: () => inChromium(browser, notIsolated.origin) },
  { name: 'Node, one thread per core', run: () => inNode('auto') },
  { name: 'Node, 1 thread', run: () => inNode('1') },
];
const figures = new Map(settings.map((s) => [s.name, []]));
try {
  for (let r = 0; r < rounds; r++) {
    for (const s of settings) {
      const result = await s.run();
      figures.get(s.name).push(result);
      console.error(`round ${r + 1}/${rounds}: ${s.name}: ${Math.round(result.imagesPerSecond)} images/s`);
    }
  }
} finally {
  await browser.close();
  await isolated.close();
  await notIsolated.close();
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
console.log(
  `seed CNN, batch ${batch}, ${steps} steps on the first ${train} MNIST images, ${rounds} round(s); ` +
    `${availableParallelism()} cores, Node ${process.version}, Chromium ${browser.version()}`,
);
console.log('| where | build | threads | images/s | ms/step |');
console.log('|---|---|---|---|---|');
for (const [name, results] of figures) {
  const rate = median(results.map((r) => r.imagesPerSecond));
  const { build, threads } = results[0].env;
  console.log(`| ${name} | ${build} | ${threads} | ${Math.round(rate)} | ${((Number(batch) / rate) * 1000).toFixed(1)} |`);
}
