// What the gradient-health numbers cost: the seed CNN trained with per-layer norms computed
// every step and passed to onBatchEnd, against the same training with them off. Rounds
// alternate so that noise hits both alike.
// Usage: node packages/ballast/bench/health-overhead.mjs [--steps 30] [--rounds 3]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, datasets } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({ options: { steps: { type: 'string', default: '30' }, rounds: { type: 'string', default: '3' } } });
const [steps, rounds] = positive(values, ['steps', 'rounds']);
const env = await ready();
const { train } = await datasets.mnist({ trainLimit: steps * 128, testLimit: 1 });
console.log(`build=${env.build} threads=${env.threads}, ${steps} steps of batch 128 per measurement`);

async function imagesPerSecond(health) {
  const model = buildModel('seed', { seed: 1 });
  model.setGradientHealthTracking(health);
  let seen = 0;
  const onBatchEnd = health ? () => void (seen += model.lastGradientHealth().length) : undefined;
  const t0 = performance.now();
  await model.fit(train.x, train.y, { batchSize: 128, epochs: 1, yieldEvery: 0, callbacks: { onBatchEnd } });
  const rate = (steps * 128) / ((performance.now() - t0) / 1000);
  model.dispose();
  return rate;
}

const on = [], off = [];
for (let r = 0; r < rounds; r++) {
  off.push(await imagesPerSecond(false));
  on.push(await imagesPerSecond(true));
}
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const [a, b] = [median(off), median(on)];
console.log(`| gradient health | images/s (median of ${on.length}) |\n|---|---|\n| off | ${a.toFixed(0)} |\n| on, passed to onBatchEnd | ${b.toFixed(0)} |`);
console.log(`overhead: ${(((a - b) / a) * 100).toFixed(1)}%`);
