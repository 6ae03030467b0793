// The relaxed-SIMD build (fused multiply-adds) against the threaded build it is made from, on
// the same Node: a process has one WASM instance, so each round starts one child per build,
// alternated so noise hits both alike. Each child times the seed CNN's training step (batch
// 128) and predict (batch 1,000), ResNet-20's training step (batch 128) and a 512×512 matmul,
// on the whole pool; the parent prints medians over rounds and relaxed/threads ratios.
// Needs a Node with relaxed SIMD (22 or later, or 20 with --experimental-wasm-relaxed-simd).
// Usage: node [--experimental-wasm-relaxed-simd] packages/ballast/bench/relaxed.mjs [--rounds 3] [--steps 5]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ready, tensor, matmul } from 'ballast';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '5' },
    child: { type: 'string' }, // internal: which build this child process measures
  },
});
const [rounds, steps] = positive(values, ['rounds', 'steps']);
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

if (values.child) {
  const env = await ready({ relaxedSimd: values.child === 'relaxed' });
  if (env.build !== values.child) {
    console.error(`the ${values.child} build does not load here: ${env.fallbackReason ?? `got ${env.build}`}`);
    process.exit(1);
  }
  const { buildModel } = await import('../../../examples/shared/mnist-models.mjs');
  const { resnet } = await import('../../../examples/shared/resnet-models.mjs');
  let s = 1;
  const random = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const images = (n) => tensor(Float32Array.from({ length: n * 784 }, random), [n, 28, 28, 1]);
  const timed = (f, reps) => {
    f(); // warm-up
    return median(Array.from({ length: reps }, () => {
      const t0 = performance.now();
      f();
      return performance.now() - t0;
    }));
  };
  const trainStep = (model, batch) => {
    const x = images(batch);
    const y = tensor(Float32Array.from({ length: batch * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)), [batch, 10]);
    const rows = Uint32Array.from({ length: batch }, (_, i) => i);
    const handle = model._handleForBenchmarks();
    const ms = timed(() => handle.trainStep(x.handle, y.handle, rows, new Float32Array(0)), steps);
    model.dispose();
    return (batch / ms) * 1000;
  };
  const predictX = images(1000);
  const seed = buildModel('seed', { seed: 1 });
  const predictMs = [];
  for (let i = -1; i < steps; i++) {
    const t0 = performance.now();
    (await seed.predict(predictX, { batchSize: 1000 })).dispose();
    if (i >= 0) predictMs.push(performance.now() - t0);
  }
  const a = tensor(Float32Array.from({ length: 512 * 512 }, random), [512, 512]);
  const gemmMs = timed(() => matmul(a, a).dispose(), steps * 4);
  console.log(JSON.stringify({
    'seed CNN training, images/s': trainStep(buildModel('seed', { seed: 1 }), 128),
    'seed CNN predict, images/s': (1000 / median(predictMs)) * 1000,
    'ResNet-20 training, images/s': trainStep(resnet({ seed: 1 }), 128),
    'matmul 512, GFLOP/s': (2 * 512 ** 3) / gemmMs / 1e6,
  }));
  process.exit(0);
}

const builds = ['relaxed', 'threads'];
const runs = { relaxed: [], threads: [] };
const self = fileURLToPath(import.meta.url);
console.log(`node=${process.version} rounds=${rounds} steps=${steps}`);
for (let round = 0; round < rounds; round++) {
  for (const build of round % 2 ? [...builds].reverse() : builds) {
    // The child's errors (such as a Node without relaxed SIMD) pass through to stderr.
    let out;
    try {
      // The children get this process's Node flags (Node 20: --experimental-wasm-relaxed-simd).
      out = execFileSync(process.execPath, [...process.execArgv, self, '--child', build, '--steps', String(steps)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    } catch {
      process.exit(1); // the child said why
    }
    runs[build].push(JSON.parse(out.trim().split('\n').pop()));
  }
}
console.log('| measure | relaxed | threads | relaxed / threads |');
console.log('|---|---:|---:|---:|');
for (const key of Object.keys(runs.relaxed[0])) {
  const [r, t] = builds.map((b) => median(runs[b].map((x) => x[key])));
  console.log(`| ${key} | ${r.toFixed(r < 100 ? 1 : 0)} | ${t.toFixed(t < 100 ? 1 : 0)} | ${(r / t).toFixed(2)}x |`);
}
