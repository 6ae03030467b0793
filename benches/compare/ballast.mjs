// Ballast's training and inference images/s on the tutorial's seed CNN, one setting per process.
// Usage: node ballast.mjs --data DIR [--threads 0|1] [--batch 128] [--infer-batch 1000] ...
// --threads 0 uses the whole pool, 1 one thread; both load the threaded build, so the two
// figures differ only in how many threads the kernels use.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ready, tensor, diagnostics } from 'ballast';
import { buildModel } from '../../examples/shared/mnist-models.mjs';
import { parseOptions, readData, oneHot, timeRepeated, emitResult, errorText } from './lib.mjs';

const opts = parseOptions({ threads: { type: 'string', default: '0' } });
const limit = Number(opts.values.threads);
const { meta, images, labels } = readData(opts.data);
const { n, height, width, classes } = meta;

const env = await ready();
diagnostics.setThreadLimit(limit);
const threads = limit === 0 ? env.threads : Math.min(limit, env.threads);
const pkg = JSON.parse(readFileSync(new URL('./node_modules/ballast/package.json', import.meta.url), 'utf8'));
// The build's digest tells rounds apart if someone rebuilds the core while a run is going on.
const wasmFile = new URL(`./node_modules/ballast/wasm/${env.build}/ballast_wasm_bg.wasm`, import.meta.url);
const digest = createHash('sha256').update(readFileSync(wasmFile)).digest('hex').slice(0, 12);

const result = {
  engine: 'ballast',
  label: `Ballast (${env.build} build, ${env.simd ? 'SIMD128' : 'scalar'})`,
  threads,
  versions: { ballast: pkg.version, build: env.build, 'wasm sha256': digest, node: process.version },
};

const x = tensor(images, [n, height, width, 1]);
const y = tensor(oneHot(labels, classes), [n, classes]);
const model = buildModel('seed', { seed: 1 });
result.weights = model.getWeights().reduce((s, w) => s + w.values.length, 0);

// The batches every engine walks through in the same order: consecutive rows, wrapping.
const batches = Math.floor(n / opts.batch);
const rows = Array.from({ length: batches }, (_, b) => Uint32Array.from({ length: opts.batch }, (_, i) => b * opts.batch + i));

try {
  // The step fit() runs for each batch (gather, forward, backward, Adam), without fit's
  // callbacks and event-loop yields, so the time is the step's alone.
  const handle = model._handleForBenchmarks();
  const noWeights = new Float32Array(0); // no sample weights
  const t = await timeRepeated((i) => handle.trainStep(x.handle, y.handle, rows[i % batches], noWeights), {
    warmup: opts.warmup, minReps: opts.minSteps, minSeconds: opts.minSeconds, maxSeconds: opts.maxSeconds,
  });
  result.train = { ...t, imagesPerSecond: (opts.batch / t.medianMs) * 1000 };
} catch (err) {
  result.train = { error: errorText(err) };
}

try {
  const xi = tensor(images.subarray(0, opts.inferBatch * height * width), [opts.inferBatch, height, width, 1]);
  const t = await timeRepeated(async () => (await model.predict(xi, { batchSize: opts.inferBatch })).dispose(), {
    warmup: 2, minReps: opts.inferReps, minSeconds: opts.minSeconds / 2, maxSeconds: opts.maxSeconds,
  });
  xi.dispose();
  result.infer = { ...t, imagesPerSecond: (opts.inferBatch / t.medianMs) * 1000 };
} catch (err) {
  result.infer = { error: errorText(err) };
}

model.dispose();
x.dispose();
y.dispose();
emitResult(result);
