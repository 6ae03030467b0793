// One Node measurement for throughput.mjs: `model.fit` of the seed CNN on the first MNIST
// images, timed as the page's worker times it (training steps only, after five warm-up steps).
// Prints one JSON line. Usage: node node-fit.mjs --threads auto|N --train N --steps N --batch N
import { parseArgs } from 'node:util';
import { ready, datasets } from 'ballast';
import { buildModel } from '../../shared/mnist-models.mjs';
import { mnistDataDir } from '../build/mnist-data-plugin.mjs';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: 'auto' },
    train: { type: 'string', default: '12800' },
    steps: { type: 'string', default: '60' },
    batch: { type: 'string', default: '128' },
    model: { type: 'string', default: 'seed' },
  },
});
const steps = Number(values.steps);
const batchSize = Number(values.batch);
const env = await ready(values.threads === 'auto' ? {} : { threads: Number(values.threads) });
const { train, test } = await datasets.mnist({ location: mnistDataDir(), trainLimit: Number(values.train), testLimit: 100 });
const model = buildModel(values.model, { seed: 1 });

let step = 0, last = performance.now(), seconds = 0, images = 0;
const STOP = Symbol('stop');
try {
  await model.fit(train.x, train.y, {
    batchSize,
    epochs: Math.ceil(steps / Math.ceil(train.labels.length / batchSize)),
    shuffle: true,
    seed: 1,
    yieldEvery: 0,
    callbacks: {
      onBatchEnd(batch, logs) {
        const dt = (performance.now() - last) / 1000;
        step += 1;
        if (step > 5) {
          seconds += dt;
          images += batch === logs.batches - 1 ? train.labels.length - batch * batchSize : batchSize;
        }
        if (step >= steps) throw STOP;
        last = performance.now();
      },
      onEpochEnd() {
        last = performance.now();
      },
    },
  });
} catch (err) {
  if (err !== STOP) throw err;
}
test.x.dispose();
console.log(JSON.stringify({ env, steps: step, imagesPerSecond: images / seconds }));
