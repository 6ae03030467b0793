// TensorFlow.js' training and inference images/s on the same Keras CNN, one backend per process.
// Usage: node tfjs.mjs --data DIR --backend cpu|wasm [--batch 128] [--infer-batch 1000] ...
// The core, the layers API and the backends are imported as the packages the `@tensorflow/tfjs`
// bundle re-exports; the bundle itself pulls in core-js, whose install script pnpm refuses to
// run unless the workspace approves it, and nothing here needs it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import { parseOptions, readData, oneHot, timeRepeated, emitResult, errorText } from './lib.mjs';

const opts = parseOptions({ backend: { type: 'string', default: 'cpu' } });
const backend = opts.values.backend;
const { meta, images, labels } = readData(opts.data);
const { n, height, width, classes } = meta;
const require = createRequire(import.meta.url);
const versionOf = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`), 'utf8')).version;

const result = {
  engine: `tfjs-${backend}`,
  label: `TensorFlow.js ${backend} backend`,
  versions: { 'tfjs-core': versionOf('@tensorflow/tfjs-core'), 'tfjs-layers': versionOf('@tensorflow/tfjs-layers'), node: process.version },
};

if (backend === 'wasm') {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  // In Node the backend reads its .wasm files from this prefix with fs.
  wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + '/');
  result.versions['tfjs-backend-wasm'] = versionOf('@tensorflow/tfjs-backend-wasm');
} else {
  result.versions['tfjs-backend-cpu'] = versionOf('@tensorflow/tfjs-backend-cpu');
}
if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' failed to initialise`);
await tf.ready();
if (backend === 'wasm') {
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  const { getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  result.threads = getThreadsCount();
  result.label += simd ? ', SIMD' : ', no SIMD';
  result.notes = `WASM_HAS_SIMD_SUPPORT=${simd}, WASM_HAS_MULTITHREAD_SUPPORT=${multithread}, ${result.threads} thread(s)`;
} else {
  // The cpu backend runs its kernels in plain JavaScript on the calling thread.
  result.threads = 1;
}

const model = tfl.sequential({
  layers: [
    tfl.layers.batchNormalization({ inputShape: [height, width, 1] }),
    tfl.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    tfl.layers.maxPooling2d({ poolSize: 2 }),
    tfl.layers.flatten(),
    tfl.layers.dense({ units: 128, activation: 'relu' }),
    tfl.layers.dropout({ rate: 0.5 }),
    tfl.layers.dense({ units: classes, activation: 'softmax' }),
  ],
});
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
result.weights = model.countParams();

// Batch tensors made once, like the other engines' data sets that sit in memory.
const batches = Math.floor(n / opts.batch);
const ys = oneHot(labels, classes);
const px = height * width;
const batchTensors = Array.from({ length: batches }, (_, b) => [
  tf.tensor4d(images.subarray(b * opts.batch * px, (b + 1) * opts.batch * px), [opts.batch, height, width, 1]),
  tf.tensor2d(ys.subarray(b * opts.batch * classes, (b + 1) * opts.batch * classes), [opts.batch, classes]),
]);

try {
  // trainOnBatch: forward, backward and Adam on one batch, returning the loss (read back).
  const t = await timeRepeated((i) => model.trainOnBatch(...batchTensors[i % batches]), {
    warmup: opts.warmup, minReps: opts.minSteps, minSeconds: opts.minSeconds, maxSeconds: opts.maxSeconds,
  });
  result.train = { ...t, imagesPerSecond: (opts.batch / t.medianMs) * 1000 };
} catch (err) {
  result.train = { error: errorText(err) };
}

try {
  const xi = tf.tensor4d(images.subarray(0, opts.inferBatch * px), [opts.inferBatch, height, width, 1]);
  const t = await timeRepeated(
    () => {
      const out = model.predict(xi, { batchSize: opts.inferBatch });
      out.dataSync();
      out.dispose();
    },
    { warmup: 2, minReps: opts.inferReps, minSeconds: opts.minSeconds / 2, maxSeconds: opts.maxSeconds },
  );
  xi.dispose();
  result.infer = { ...t, imagesPerSecond: (opts.inferBatch / t.medianMs) * 1000 };
} catch (err) {
  result.infer = { error: errorText(err) };
}

emitResult(result);
