// Inference of the tutorial's CNN at batch 1000 in Node: images/s of `predict` on 1 thread and
// on the whole pool, and the milliseconds of each layer (the core's forward profile). On the
// pool, predict runs chunks of the batch on every thread at once, so a layer's figure there
// is thread time summed over the chunks, comparable with the 1-thread column.
// Settings alternate round by round so noise hits them alike; each figure is the median.
// With --direct, each setting also runs with the Winograd convolutions switched off.
// Usage: node packages/ballast/bench/predict.mjs [--batch 1000] [--rounds 7] [--variant seed] [--direct]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, diagnostics } from 'ballast';
import { buildModel } from '../../../examples/shared/mnist-models.mjs';

const { values } = parseArgs({
  options: {
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '7' },
    variant: { type: 'string', default: 'seed' },
    direct: { type: 'boolean', default: false },
  },
});
const [batch, rounds] = positive(values, ['batch', 'rounds']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version} batch=${batch} rounds=${rounds}`);

// Random images: the cost of inference does not depend on the values.
let s = 1;
const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const x = tensor(Float32Array.from({ length: batch * 784 }, random), [batch, 28, 28, 1]);
const model = buildModel(values.variant, { seed: 1 });

// Settings: thread limit, and whether the Winograd convolutions run (the default) or not.
const limits = (values.direct ? [[1, true], [1, false], [0, true], [0, false]] : [[1, true], [0, true]]).map(
  ([limit, winograd]) => ({ limit, winograd }),
);
const runs = new Map(limits.map((l) => [l, []]));
for (let r = -1; r < rounds; r++) {
  for (const setting of limits) {
    diagnostics.setThreadLimit(setting.limit);
    diagnostics.setWinograd(setting.winograd);
    const t0 = performance.now();
    (await model.predict(x, { batchSize: batch })).dispose();
    const ms = performance.now() - t0;
    if (r >= 0) runs.get(setting).push({ ms, layers: model.lastForwardMs() }); // round -1 warms up
  }
}
diagnostics.setThreadLimit(0);
diagnostics.setWinograd(true);

const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const names = model.layers.map((l) => l.name);
const columns = limits.map(({ limit, winograd }) =>
  `${limit === 1 ? '1 thread' : `${env.threads} threads`}${values.direct ? (winograd ? ', Winograd' : ', direct') : ''}`);
console.log(`| | ${columns.join(' | ')} |`);
console.log(`|---|${columns.map(() => '---').join('|')}|`);
const row = (label, f) => console.log(`| ${label} | ${limits.map((l) => f(runs.get(l))).join(' | ')} |`);
row('predict, ms', (v) => median(v.map((r) => r.ms)).toFixed(1));
row('images/s', (v) => Math.round(batch / median(v.map((r) => r.ms)) * 1000));
names.forEach((name, i) => row(`${name}, thread-ms`, (v) => median(v.map((r) => r.layers[i])).toFixed(1)));
const ms = (limit, winograd) => median(runs.get(limits.find((s) => s.limit === limit && s.winograd === winograd)).map((r) => r.ms));
console.log(`\n${env.threads} threads / 1 thread: ${(ms(1, true) / ms(0, true)).toFixed(2)}x`);
if (values.direct) {
  for (const limit of [1, 0]) console.log(`${limit === 1 ? '1 thread' : `${env.threads} threads`}: Winograd is ${(ms(limit, false) / ms(limit, true)).toFixed(2)}x as fast as direct`);
}
model.dispose();
x.dispose();
