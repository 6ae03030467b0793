// One training step of ResNet-20 (examples/shared/resnet-models.mjs) at batch 128 on
// 28×28×1 inputs: milliseconds per step, and where they go (per layer type and stage,
// forward and backward), on 1 thread and on the whole pool, alternated; with --direct also
// with the Winograd convolutions switched off, alternated in the same rounds.
// Usage: node packages/ballast/bench/resnet-step.mjs [--steps 10] [--batch 128] [--rounds 2] [--direct]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, diagnostics } from 'ballast';
import { resnet } from '../../../examples/shared/resnet-models.mjs';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '10' },
    batch: { type: 'string', default: '128' },
    rounds: { type: 'string', default: '2' },
    direct: { type: 'boolean', default: false },
  },
});
const [steps, batch, rounds] = positive(values, ['steps', 'batch', 'rounds']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version} batch=${batch} steps=${steps}`);

let s = 1;
const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
const x = tensor(Float32Array.from({ length: batch * 784 }, random), [batch, 28, 28, 1]);
const y = tensor(Float32Array.from({ length: batch * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)), [batch, 10]);
const rows = Uint32Array.from({ length: batch }, (_, i) => i);
const noWeights = new Float32Array(0); // no sample weights

// A row per layer type and stage: 'Conv2D stage2' sums the stage's convolutions.
const key = (name, type) => `${type} ${/^stage\d/.exec(name)?.[0] ?? ''}`.trim();
function measure(limit) {
  diagnostics.setThreadLimit(limit);
  const model = resnet({ seed: 1 });
  const handle = model._handleForBenchmarks();
  for (let i = 0; i < 3; i++) handle.trainStep(x.handle, y.handle, rows, noWeights);
  const times = [];
  const rowsMs = new Map();
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    handle.trainStep(x.handle, y.handle, rows, noWeights);
    times.push(performance.now() - t0);
    for (const { name, type, forwardMs, backwardMs } of model.lastStepProfile()) {
      if (type === 'total') continue;
      const k = key(name, type);
      const r = rowsMs.get(k) ?? { forward: 0, backward: 0 };
      r.forward += forwardMs / steps;
      r.backward += backwardMs / steps;
      rowsMs.set(k, r);
    }
  }
  model.dispose();
  diagnostics.setThreadLimit(0);
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1], rows: rowsMs };
}

const algorithms = values.direct ? ['winograd', 'direct'] : ['winograd'];
for (let round = 1; round <= rounds; round++) {
  for (const [limit, algorithm] of [1, 0].flatMap((l) => algorithms.map((a) => [l, a]))) {
    diagnostics.setWinograd(algorithm === 'winograd');
    const r = measure(limit);
    diagnostics.setWinograd(true);
    const threads = limit === 1 ? 1 : env.threads;
    console.log(`\nround ${round}, ${threads} thread(s), ${algorithm}: ${r.median.toFixed(1)} ms/step median, ${Math.round((batch / r.median) * 1000)} images/s`);
    console.log('| layers | forward ms | backward ms |\n|---|---:|---:|');
    for (const [k, v] of [...r.rows].sort((a, b) => b[1].forward + b[1].backward - a[1].forward - a[1].backward)) {
      if (v.forward + v.backward < 0.5) continue;
      console.log(`| ${k} | ${v.forward.toFixed(1)} | ${v.backward.toFixed(1)} |`);
    }
  }
}
