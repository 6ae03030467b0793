#!/usr/bin/env node
// Trains a ResNet-20 (He et al.'s CIFAR ResNet), or a MobileNet-v1-style depthwise-separable
// network (--model mobilenet), on Fashion-MNIST in Node and reports the test accuracy and the
// training images/s. benches/resnet/torch_resnet20.py trains the same network
// the same way in PyTorch; benches/resnet/run.mjs runs both and compares them.
// Usage: node train.mjs [--model resnet|mobilenet] [--epochs 5] [--batch-size 128] [--learning-rate 0.001] [--threads N]
//                       [--depth 20] [--data DIR] [--train-limit N] [--test-limit N] [--seed 1]
//                       [--warmup 5] [--save DIR] [--min-accuracy A] [--json]
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ready, datasets, diagnostics } from 'ballast';
import { depthProblem, resnet } from '../shared/resnet-models.mjs';
import { mobilenet } from '../shared/mobilenet-models.mjs';
import { commandLine, exitBelow, exitOnBallastError } from '../shared/cli.mjs';

// Where Debian's dataset-fashion-mnist puts its gzip IDX files (scripts/setup.sh installs it).
const DEFAULT_DATA = '/usr/share/datasets/fashion-mnist';
const FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
};
// The line benches/resnet/run.mjs reads back (as benches/compare's scripts print theirs).
const RESULT_TAG = '@bench-result ';

const usage = `Usage: node train.mjs [options]
  --model NAME          resnet (default) or mobilenet (depthwise-separable blocks with BN)
  --epochs N            passes over the training set (default 5)
  --batch-size N        examples per step (default 128)
  --learning-rate X     Adam's learning rate (default 0.001)
  --threads N           kernel threads (default: one per core; 1 = single-threaded SIMD build)
  --alpha X             MobileNet's width multiplier (default 1)
  --depth N             ResNet depth, 6n + 2: 8, 14, 20, 32, ... (default 20)
  --data DIR            a directory of Fashion-MNIST's gzip IDX files (default ${DEFAULT_DATA})
  --train-limit N       train on the first N examples only
  --test-limit N        test on the first N examples only
  --seed N              initial weights and shuffling (default 1)
  --warmup N            steps of the first epoch left out of the overall images/s (default 5)
  --augment             train with random flips and shifts (examples/shared/augmentation.mjs)
  --save DIR            save the trained model there (model.json, weights.safetensors)
  --min-accuracy A      exit with status 1 if the test accuracy ends below A (for scripts)
  --json                end with a '${RESULT_TAG.trim()} {...}' line (for benches/resnet/run.mjs)
  --help`;

const { values, fail, int, positive, optionalNumber } = commandLine(usage, {
  model: { type: 'string', default: 'resnet' },
  alpha: { type: 'string', default: '1' },
  epochs: { type: 'string', default: '5' },
  'batch-size': { type: 'string', default: '128' },
  'learning-rate': { type: 'string', default: '0.001' },
  threads: { type: 'string' },
  depth: { type: 'string', default: '20' },
  data: { type: 'string', default: DEFAULT_DATA },
  'train-limit': { type: 'string' },
  'test-limit': { type: 'string' },
  seed: { type: 'string', default: '1' },
  warmup: { type: 'string', default: '5' },
  save: { type: 'string' },
  'min-accuracy': { type: 'string' },
  json: { type: 'boolean', default: false },
  augment: { type: 'boolean', default: false },
});

const epochs = int('epochs', { min: 0 });
const batchSize = int('batch-size');
const threads = int('threads', { optional: true });
const modelName = values.model;
if (modelName !== 'resnet' && modelName !== 'mobilenet') fail(`--model must be resnet or mobilenet, got ${modelName}`);
const alpha = positive('alpha');
const depth = int('depth', { min: 8 });
if (depthProblem(depth)) fail(depthProblem(depth));
const trainLimit = int('train-limit', { optional: true });
const testLimit = int('test-limit', { optional: true });
const seed = int('seed', { min: 0 });
const warmupSteps = int('warmup', { min: 0 });
const learningRate = positive('learning-rate');
const minAccuracy = optionalNumber('min-accuracy');

const dataDir = values.data;
const missing = Object.values(FILES).filter((f) => !existsSync(join(dataDir, f)));
if (missing.length) {
  console.error(
    `error: Fashion-MNIST is not in ${dataDir} (missing ${missing.join(', ')}).\n` +
      `Run scripts/setup.sh, which installs Debian's dataset-fashion-mnist, or pass --data DIR.`,
  );
  process.exit(2);
}

try {
  const env = await ready(threads === undefined ? {} : { threads });
  console.log(`Ballast: ${env.build} build, ${env.threads} thread(s), SIMD ${env.simd ? 'on' : 'off'}`);
  // Only the first n examples are decoded.
  const load = (images, labels, n) => datasets.idx({ images: join(dataDir, images), labels: join(dataDir, labels), numClasses: 10, limit: n });
  const train = await load(FILES.trainImages, FILES.trainLabels, trainLimit);
  const test = await load(FILES.testImages, FILES.testLabels, testLimit);
  const n = train.labels.length;
  console.log(`Fashion-MNIST: ${n} training and ${test.labels.length} test images`);

  const shape = { inputShape: train.x.shape.slice(1), classes: train.numClasses, seed, learningRate, augment: values.augment };
  const model = modelName === 'mobilenet' ? mobilenet({ alpha, ...shape }) : resnet({ depth, ...shape });
  model.summary();

  // Training images/s: the training steps' wall time (validation left out), less the first
  // `warmup` steps of the first epoch; torch_resnet20.py measures the same way.
  let warmup = 0, warmMark = 0, warmImages = 0, lastBatchEnd = 0;
  let steadySeconds = 0, steadyImages = 0, trainSeconds = 0;
  const perEpoch = [];

  await model.fit(train.x, train.y, {
    batchSize,
    epochs,
    shuffle: true,
    seed,
    validationData: [test.x, test.y],
    yieldEvery: 0,
    verbose: 1,
    callbacks: {
      onBatchEnd(batch, logs) {
        lastBatchEnd = performance.now();
        if (batch === 0 && logs.epoch === 0) warmup = Math.min(warmupSteps, logs.batches - 1);
        if (logs.epoch === 0 && batch + 1 === warmup) {
          warmMark = lastBatchEnd;
          warmImages = warmup * batchSize;
        }
      },
      onEpochEnd(epoch, logs) {
        trainSeconds += logs.seconds;
        if (epoch === 0 && warmup > 0) {
          steadySeconds += (lastBatchEnd - warmMark) / 1000;
          steadyImages += n - warmImages;
        } else {
          steadySeconds += logs.seconds;
          steadyImages += n;
        }
        perEpoch.push({ epoch: epoch + 1, seconds: logs.seconds, imagesPerSecond: n / logs.seconds, loss: logs.loss, acc: logs.accuracy, valLoss: logs.val_loss, valAcc: logs.val_accuracy });
        // Linear memory only grows: the same figure every epoch means nothing leaks.
        console.log(`  ${Math.round(n / logs.seconds)} img/s - WASM memory: ${(diagnostics.wasmMemoryBytes() / 2 ** 20).toFixed(0)} MiB`);
      },
    },
  });
  const [testLoss, testAcc] = await model.evaluate(test.x, test.y);
  const imagesPerSecond = steadySeconds > 0 ? steadyImages / steadySeconds : NaN;
  console.log(`Training: ${Math.round(imagesPerSecond)} images/s (after ${warmup} warm-up steps), ${trainSeconds.toFixed(0)} s in all`);
  console.log(`Test accuracy: ${(testAcc * 100).toFixed(2)}% (loss ${testLoss.toFixed(4)})`);
  if (values.save) {
    await model.save(values.save);
    console.log(`Model saved to ${values.save}/ (model.json, weights.safetensors)`);
  }
  if (values.json) {
    const { user, system } = process.cpuUsage();
    const result = {
      engine: 'ballast',
      model: modelName === 'mobilenet' ? `mobilenet-${alpha}` : `resnet${depth}`,
      epochs,
      batchSize,
      trainExamples: n,
      testExamples: test.labels.length,
      trainImagesPerSecond: imagesPerSecond,
      trainSeconds,
      testAccuracy: testAcc,
      testLoss,
      threads: env.threads,
      perEpoch,
      versions: { build: env.build, simd: env.simd, node: process.version },
      // CPU time of all the process' threads, as benches/compare's scripts report theirs.
      cpuSeconds: (user + system) / 1e6,
    };
    process.stdout.write(`${RESULT_TAG}${JSON.stringify(result)}\n`);
  }
  exitBelow(minAccuracy, testAcc);
} catch (err) {
  exitOnBallastError(err);
}
