// Inference of the tutorial's CNN at batch 1000 in Node: images/s of `predict` on 1 thread and
// on the whole pool, and the milliseconds of each layer (the core's forward profile). On the
// pool, predict runs chunks of the batch on every thread at once, so a layer's figure there
// is thread time summed over the chunks, comparable with the 1-thread column.
// Settings alternate round by round so noise hits them alike; each figure is the median.
// Usage: node packages/ballast/bench/predict.mjs [--batch 1000] [--rounds 7] [--variant seed]
import { parseArgs } from 'node:util';
import { ready, tensor, diagnostics } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '7' },
    variant: { type: 'string', default: 'seed' },
  },
});
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version} batch=${batch} rounds=${rounds}`);

// Random images: the cost of inference does not depend on the values.
let s = 1;
const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const x = tensor(Float32Array.from({ length: batch * 784 }, random), [batch, 28, 28, 1]);
const model = buildModel(values.variant, { seed: 1 });

const limits = [1, 0];
const runs = new Map(limits.map((l) => [l, []]));
for (let r = -1; r < rounds; r++) {
  for (const limit of limits) {
    diagnostics.setThreadLimit(limit);
    const t0 = performance.now();
    (await model.predict(x, { batchSize: batch })).dispose();
    const ms = performance.now() - t0;
    if (r >= 0) runs.get(limit).push({ ms, layers: model.lastForwardMs() }); // round -1 warms up
  }
}
diagnostics.setThreadLimit(0);

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const names = model.layers.map((l) => l.name);
const columns = limits.map((l) => (l === 1 ? '1 thread' : `${env.threads} threads`));
console.log(`| | ${columns.join(' | ')} |`);
console.log(`|---|${columns.map(() => '---').join('|')}|`);
const row = (label, f) => console.log(`| ${label} | ${limits.map((l) => f(runs.get(l))).join(' | ')} |`);
row('predict, ms', (v) => median(v.map((r) => r.ms)).toFixed(1));
row('images/s', (v) => Math.round(batch / median(v.map((r) => r.ms)) * 1000));
names.forEach((name, i) => row(`${name}, thread-ms`, (v) => median(v.map((r) => r.layers[i])).toFixed(1)));
const [one, all] = limits.map((l) => median(runs.get(l).map((r) => r.ms)));
console.log(`\n${env.threads} threads / 1 thread: ${(one / all).toFixed(2)}x`);
model.dispose();
x.dispose();
