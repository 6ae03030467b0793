// One training step (forward + backward + Adam) of the tutorial's CNN at batch 128, in Node:
// milliseconds, and the share per layer type, on 1 thread and on the whole pool, for the
// seed model and the "BN everywhere" variant. Settings alternate so noise hits them alike.
// With --direct, each setting also runs with the Winograd convolutions switched off.
// Usage: node packages/ballast/bench/train-step.mjs [--steps 20] [--batch 128] [--direct]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, diagnostics } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '20' }, batch: { type: 'string', default: '128' }, direct: { type: 'boolean', default: false } },
});
const [steps, batch] = positive(values, ['steps', 'batch']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version} batch=${batch} steps=${steps}`);

// Random images and labels: the step's cost does not depend on the values.
let s = 1;
const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const x = tensor(Float32Array.from({ length: batch * 784 }, random), [batch, 28, 28, 1]);
const y = tensor(Float32Array.from({ length: batch * 10 }, (_, i) => (i % 10 === i / 10 % 10 ? 1 : 0)), [batch, 10]);
const rows = Uint32Array.from({ length: batch }, (_, i) => i);
const noWeights = new Float32Array(0); // no sample weights

const groups = { Conv2D: 'conv', BatchNormalization: 'BN', MaxPooling2D: 'pool', Dense: 'dense' };
function measure(variant, limit) {
  diagnostics.setThreadLimit(limit);
  const model = buildModel(variant, { seed: 1 });
  const handle = model._handleForBenchmarks();
  for (let i = 0; i < 3; i++) handle.trainStep(x.handle, y.handle, rows, noWeights); // warm-up
  const times = [];
  const share = {};
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    handle.trainStep(x.handle, y.handle, rows, noWeights);
    times.push(performance.now() - t0);
    for (const { type, forwardMs, backwardMs } of model.lastStepProfile()) {
      if (type === 'total') continue;
      const g = groups[type] ?? (type === 'optimizer' ? 'Adam' : 'other');
      share[g] = (share[g] ?? 0) + forwardMs + backwardMs;
    }
  }
  model.dispose();
  diagnostics.setThreadLimit(0);
  times.sort((a, b) => a - b);
  const total = Object.values(share).reduce((a, b) => a + b, 0);
  for (const k of Object.keys(share)) share[k] = share[k] / total;
  return { median: times[times.length >> 1], share };
}

const results = [];
const algorithms = values.direct ? ['winograd', 'direct'] : ['winograd'];
for (const model of ['seed', 'bn-everywhere']) {
  for (const limit of [1, 0]) {
    for (const algorithm of algorithms) {
      diagnostics.setWinograd(algorithm === 'winograd');
      const r = measure(model, limit);
      diagnostics.setWinograd(true);
      const variant = values.direct ? `${model}, ${algorithm}` : model;
      results.push({ model, algorithm, variant, threads: limit === 1 ? 1 : env.threads, ...r });
    }
  }
}
const kinds = ['conv', 'BN', 'pool', 'dense', 'Adam', 'other'];
console.log(`| model | threads | ms/step (median) | images/s | ${kinds.map((k) => `${k} %`).join(' | ')} |`);
console.log(`|---|---|---|---|${kinds.map(() => '---').join('|')}|`);
for (const r of results) {
  const shares = kinds.map((k) => ((r.share[k] ?? 0) * 100).toFixed(1));
  console.log(`| ${r.variant} | ${r.threads} | ${r.median.toFixed(1)} | ${Math.round((batch / r.median) * 1000)} | ${shares.join(' | ')} |`);
}
for (const model of ['seed', 'bn-everywhere']) {
  const [one, all] = results.filter((r) => r.model === model && r.algorithm === 'winograd');
  console.log(`${model}: ${env.threads} threads are ${(one.median / all.median).toFixed(2)}x one thread`);
  if (!values.direct) continue;
  for (const threads of [1, env.threads]) {
    const [w, d] = ['winograd', 'direct'].map((a) => results.find((r) => r.model === model && r.algorithm === a && r.threads === threads));
    console.log(`${model}, ${threads} thread(s): Winograd steps are ${(d.median / w.median).toFixed(2)}x as fast as direct`);
  }
}
