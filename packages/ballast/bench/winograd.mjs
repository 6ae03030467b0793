// Winograd F(4x4, 3x3) against the direct convolution kernels, in WebAssembly, side by side
// in one run: a 3x3 stride-1 Conv2D layer's forward and backward milliseconds (the core's
// per-layer profile of a training step) at batch 128 (--batch), on 1 thread and the pool; best
// of --reps.
// Usage: node packages/ballast/bench/winograd.mjs [--reps 7] [--batch 128]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, diagnostics, Sequential, layers, optimizers } from 'ballast';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '7' }, batch: { type: 'string', default: '128' } } });
const [reps, batch] = positive(values, ['reps', 'batch']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version}`);

let s = 7;
const random = (n) => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5);
// [name, height, width, in channels, filters, padding]
const shapes = [
  ['28x28, 8 -> 8, same', 28, 28, 8, 8, 'same'],
  ['ResNet-20 stage 1: 28x28, 16 -> 16, same', 28, 28, 16, 16, 'same'],
  ['ResNet-20 stage 2: 14x14, 32 -> 32, same', 14, 14, 32, 32, 'same'],
  ['ResNet-20 stage 3: 7x7, 64 -> 64, same', 7, 7, 64, 64, 'same'],
  ['seed CNN conv2: 13x13, 32 -> 64, valid', 13, 13, 32, 64, 'valid'],
];

// Each convolution as a layer between a BN (so its input gradient is needed) and the loss;
// the core's per-layer profile gives its forward and backward (input and filter gradients) ms.
function profile(h, w, c, f, padding, limit) {
  diagnostics.setThreadLimit(limit);
  const model = new Sequential([
    layers.input({ shape: [h, w, c] }),
    layers.batchNormalization(),
    layers.conv2d({ filters: f, kernelSize: 3, padding, useBias: false }),
  ], { seed: 1 });
  model.compile({ optimizer: optimizers.adam(), loss: 'meanSquaredError' });
  const [oh, ow] = padding === 'same' ? [h, w] : [h - 2, w - 2];
  const x = tensor(random(batch * h * w * c), [batch, h, w, c]);
  const y = tensor(random(batch * oh * ow * f), [batch, oh, ow, f]);
  const handle = model._handleForBenchmarks();
  const rows = Uint32Array.from({ length: batch }, (_, i) => i);
  const step = () => handle.trainStep(x.handle, y.handle, rows, new Float32Array(0));
  step();
  const best = { forward: Infinity, backward: Infinity };
  for (let i = 0; i < reps; i++) {
    step();
    const conv = model.lastStepProfile().find((r) => r.type === 'Conv2D');
    best.forward = Math.min(best.forward, conv.forwardMs);
    best.backward = Math.min(best.backward, conv.backwardMs);
  }
  for (const t of [x, y]) t.dispose();
  model.dispose();
  diagnostics.setThreadLimit(0);
  return best;
}

console.log('| convolution | threads | forward: direct ms | Winograd ms | ratio | backward: direct ms | Winograd ms | ratio |');
console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
for (const [name, h, w, c, f, padding] of shapes) {
  for (const limit of [1, 0]) {
    diagnostics.setWinograd(false);
    const direct = profile(h, w, c, f, padding, limit);
    diagnostics.setWinograd(true);
    const winograd = profile(h, w, c, f, padding, limit);
    const row = ['forward', 'backward'].flatMap((k) => [direct[k].toFixed(1), winograd[k].toFixed(1), `${(direct[k] / winograd[k]).toFixed(2)}x`]);
    console.log(`| ${name} | ${limit === 1 ? 1 : env.threads} | ${row.join(' | ')} |`);
  }
}
