// Streaming training: generated 28x28 images through `fitDataset` against `fit` on the same
// images in memory, on the tutorial's seed CNN. Reports images/s of each path and their ratio,
// and WASM memory after the first 10,000 streamed images and after all of them.
// Paths: `fit` (a tensor in WASM memory), `fitDataset` over `fromArrays` (rows gathered by the
// core, as fit), and `fitDataset` over a generator yielding plain Float32Array batches (copied
// into WASM memory and freed each step). The generator cycles a pool of pre-made batches, so
// the time measured is Ballast's, not the making of random numbers.
// Usage: node packages/ballast/bench/stream.mjs [--images 30000] [--batch 128] [--fit-images 5120]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, datasets, diagnostics } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: { images: { type: 'string', default: '30000' }, batch: { type: 'string', default: '128' }, 'fit-images': { type: 'string', default: '5120' } },
});
const [total, batch, fitImages] = positive(values, ['images', 'batch', 'fit-images']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} node=${process.version} batch=${batch} streamed=${total} compared=${fitImages}`);

let s = 1;
const random = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
const pool = Array.from({ length: 8 }, () => {
  const xs = Float32Array.from({ length: batch * 784 }, random);
  const ys = new Float32Array(batch * 10);
  for (let i = 0; i < batch; i++) ys[i * 10 + Math.floor(random() * 10)] = 1;
  return { xs, ys };
});
const stream = (images) => datasets.fromGenerator(function* () {
  for (let i = 0; i * batch < images; i++) yield pool[i % pool.length];
});
const MiB = (b) => (b / 2 ** 20).toFixed(1);

// In memory: the same pool of batches, laid end to end.
const n = Math.floor(fitImages / batch) * batch;
const x = new Float32Array(n * 784);
const y = new Float32Array(n * 10);
for (let b = 0; b < n / batch; b++) {
  x.set(pool[b % pool.length].xs, b * batch * 784);
  y.set(pool[b % pool.length].ys, b * batch * 10);
}
const tx = tensor(x, [n, 28, 28, 1]);
const ty = tensor(y, [n, 10]);
const rows = datasets.fromArrays(tx, ty).batch(batch);

async function time(label, run) {
  const model = buildModel('seed', { seed: 1 });
  await model.fit(tx, ty, { batchSize: batch, stepsPerEpoch: 2, verbose: 0 }); // warm-up
  const t0 = performance.now();
  await run(model);
  const seconds = (performance.now() - t0) / 1000;
  model.dispose();
  return { label, rate: n / seconds };
}

// Three rounds, the order rotated each round, so noise on the shared machine and the order
// hit each path alike; the best round of each.
const paths = [
  ['fit (tensor in memory)', (m) => m.fit(tx, ty, { batchSize: batch, shuffle: false, verbose: 0 })],
  ['fitDataset (fromArrays rows)', (m) => m.fitDataset(rows, { verbose: 0 })],
  ['fitDataset (generator of Float32Array batches)', (m) => m.fitDataset(stream(n), { verbose: 0 })],
];
const best = {};
for (let round = 0; round < 3; round++) {
  for (let k = 0; k < paths.length; k++) {
    const [label, run] = paths[(k + round) % paths.length];
    const r = await time(label, run);
    best[label] = Math.max(best[label] ?? 0, r.rate);
  }
}
const base = best['fit (tensor in memory)'];
for (const [label] of paths) {
  const rate = best[label];
  console.log(`${label}: ${rate.toFixed(0)} images/s (${((100 * rate) / base).toFixed(1)}% of fit)`);
}

// Memory over a long stream: after 10,000 images and at the end.
const model = buildModel('seed', { seed: 1 });
let seen = 0;
let at10k = 0;
await model.fitDataset(stream(total), {
  verbose: 0,
  callbacks: { onBatchEnd: (_b, logs) => { seen += logs.size; if (!at10k && seen >= 10_000) at10k = diagnostics.wasmMemoryBytes(); } },
});
const end = `${MiB(diagnostics.wasmMemoryBytes())} MiB after ${seen.toLocaleString('en')} images`;
console.log(`WASM memory: ${at10k ? `${MiB(at10k)} MiB after 10,000 images, ` : ''}${end}`);
model.dispose();
