// The soak test (issue 11): the seed CNN trains on MNIST for `--seconds` (an hour by default)
// in Node, and every `--every` seconds it is evaluated on the test set, saved, loaded back,
// and the loaded copy's predictions compared bitwise with the live model's. One row per
// checkpoint: steps so far, the median step time since the last checkpoint, test accuracy,
// WASM memory and the process's resident memory. At the end it checks that WASM memory did
// not grow over the second half of the run (it only ever grows, to the high-water mark of
// what is live at once, so a leak shows as growth that goes on), that no interval after the
// first (which warms up) had a median step time more than `--max-slowdown` times the fastest
// interval's, and that every reload predicted the same; it exits 1 when one did not.
// Usage: node packages/ballast/bench/soak.mjs [--seconds 3600] [--every 300] [--train 60000] [--batch 128] [--max-slowdown 1.5]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ready, datasets, diagnostics, loadModel } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3600' },
    every: { type: 'string', default: '300' },
    train: { type: 'string', default: '60000' },
    batch: { type: 'string', default: '128' },
    'max-slowdown': { type: 'string', default: '1.5' },
  },
});
const [seconds, every, maxSlowdown] = positive(values, ['seconds', 'every', 'max-slowdown'], { whole: false });
const [trainLimit, batchSize] = positive(values, ['train', 'batch']);

const env = await ready();
const { train, test } = await datasets.mnist({ trainLimit, testLimit: 10000 });
console.log(`build=${env.build} threads=${env.threads} node=${process.version} train=${train.x.shape[0]} batch=${batchSize} seconds=${seconds} every=${every}`);
const model = buildModel('seed', { seed: 1 });
// Predictions compared after each reload: the first 2,000 test images.
const probe = await datasets.mnist({ trainLimit: 1, testLimit: 2000 }).then((d) => d.test.x);
const dir = await mkdtemp(join(tmpdir(), 'ballast-soak-'));

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const rows = [];
let steps = 0;
let stepMs = [];
const started = performance.now();
let nextCheckpoint = every;
console.log('| seconds | steps | ms/step (median) | test accuracy | WASM MiB | RSS MiB | reload predicts the same |');
console.log('|---:|---:|---:|---:|---:|---:|---|');
while (true) {
  let last = performance.now();
  await model.fit(train.x, train.y, {
    epochs: 1,
    batchSize,
    verbose: 0,
    seed: steps, // a new shuffle each pass
    callbacks: {
      onBatchEnd: () => {
        const now = performance.now();
        stepMs.push(now - last);
        last = now;
        steps++;
        // Stop the pass at a checkpoint, so checkpoints land on time whatever the data size.
        if ((now - started) / 1000 >= nextCheckpoint) model.stopTraining = true;
      },
    },
  });
  const elapsed = (performance.now() - started) / 1000;
  if (elapsed < nextCheckpoint) continue;
  const [, accuracy] = await model.evaluate(test.x, test.y, { batchSize: 1000 });
  await model.save(dir);
  const loaded = await loadModel(dir);
  const [a, b] = [await model.predict(probe, { batchSize: 1000 }), await loaded.predict(probe, { batchSize: 1000 })];
  const [live, reloaded] = [a.data(), b.data()];
  const same = live.every((v, i) => Object.is(v, reloaded[i]));
  for (const t of [a, b]) t.dispose();
  loaded.dispose();
  const row = {
    seconds: elapsed,
    steps,
    ms: median(stepMs),
    accuracy,
    wasm: diagnostics.wasmMemoryBytes() / 1048576,
    rss: process.memoryUsage().rss / 1048576,
    same,
  };
  rows.push(row);
  console.log(`| ${row.seconds.toFixed(0)} | ${row.steps} | ${row.ms.toFixed(1)} | ${(row.accuracy * 100).toFixed(2)}% | ${row.wasm.toFixed(1)} | ${row.rss.toFixed(0)} | ${same ? 'yes' : 'NO'} |`);
  stepMs = [];
  if (elapsed >= seconds) break;
  // The next checkpoint comes `every` seconds of training after this one's work.
  nextCheckpoint = (performance.now() - started) / 1000 + every;
}
await rm(dir, { recursive: true, force: true });

const problems = [];
const half = rows[Math.floor((rows.length - 1) / 2)];
const end = rows[rows.length - 1];
if (end.wasm > half.wasm) problems.push(`WASM memory grew over the second half: ${half.wasm.toFixed(1)} MiB at ${half.seconds.toFixed(0)} s, ${end.wasm.toFixed(1)} MiB at the end`);
const fastest = Math.min(...rows.map((r) => r.ms));
const slow = rows.slice(1).find((r) => r.ms > fastest * maxSlowdown);
if (slow) problems.push(`steps slowed from ${fastest.toFixed(1)} to ${slow.ms.toFixed(1)} ms (more than ${maxSlowdown}x)`);
if (rows.some((r) => !r.same)) problems.push('a reloaded model predicted differently');
console.log(problems.length ? `soak: FAILED: ${problems.join('; ')}` : `soak: stable over ${rows.length} checkpoints, ${steps} steps`);
process.exit(problems.length ? 1 : 0);
