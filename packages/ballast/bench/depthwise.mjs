// A depthwise 3x3 "same" convolution in WASM (SIMD128), one training step's forward and
// backward, on 1 thread and on the whole pool, as memory bandwidth: the layer does about one
// multiply-add per float it reads, so GB/s is its measure. Counted once per pass: forward
// reads the input and writes the output; backward reads the output gradient twice (input
// and filter gradients) and the input, and writes the input gradient.
// Usage: node packages/ballast/bench/depthwise.mjs [--steps 10] [--batch 16] [--size 28] [--channels 256]
import { parseArgs } from 'node:util';
import { positive } from './args.mjs';
import { ready, tensor, layers, Model, optimizers, diagnostics } from 'ballast';

const { values } = parseArgs({ options: {
  steps: { type: 'string', default: '10' }, batch: { type: 'string', default: '16' },
  size: { type: 'string', default: '28' }, channels: { type: 'string', default: '256' },
} });
const [steps, batch, size, channels] = positive(values, ['steps', 'batch', 'size', 'channels']);
const env = await ready();
console.log(`build=${env.build} threads=${env.threads} simd=${env.simd} node=${process.version} input=${batch}x${size}x${size}x${channels} steps=${steps}`);

const n = batch * size * size * channels;
const x = tensor(Float32Array.from({ length: n }, (_, i) => (i % 7) * 0.1 - 0.3), [batch, size, size, channels]);
const y = tensor(Float32Array.from({ length: batch * 10 }, (_, i) => (i % 10 === 0 ? 1 : 0)), [batch, 10]);
const rows = Uint32Array.from({ length: batch }, (_, i) => i);

// The first depthwise layer's input is the data (no input gradient); the second is measured.
const inp = layers.input({ shape: [size, size, channels] });
let h = layers.depthwiseConv2d({ kernelSize: 3, padding: 'same' }).apply(inp);
h = layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'measured' }).apply(h);
const out = layers.dense({ units: 10, activation: 'softmax' }).apply(layers.globalAveragePooling2d().apply(h));
const model = new Model({ inputs: inp, outputs: out, seed: 1 });
model.compile({ optimizer: optimizers.sgd({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy' });
const handle = model._handleForBenchmarks();
const noWeights = new Float32Array(0); // no sample weights

const mb = (n * 4) / 1e6;
// One thread with the scalar kernels (the SIMD128 path's baseline), then SIMD on 1 thread and the pool.
for (const [simd, limit] of [[false, 1], [true, 1], [true, 0]]) {
  diagnostics.setSimd(simd);
  diagnostics.setThreadLimit(limit);
  for (let i = 0; i < 2; i++) handle.trainStep(x.handle, y.handle, rows, noWeights); // warm-up
  const fwd = [];
  const bwd = [];
  for (let i = 0; i < steps; i++) {
    handle.trainStep(x.handle, y.handle, rows, noWeights);
    const p = model.lastStepProfile().find((r) => r.name === 'measured');
    fwd.push(p.forwardMs);
    bwd.push(p.backwardMs);
  }
  const median = (a) => a.sort((p, q) => p - q)[a.length >> 1];
  const [f, b] = [median(fwd), median(bwd)];
  console.log(`simd=${simd} threads=${limit === 1 ? 1 : env.threads}: forward ${f.toFixed(2)} ms ${(2 * mb / f).toFixed(1)} GB/s, backward ${b.toFixed(2)} ms ${(4 * mb / b).toFixed(1)} GB/s`);
}
diagnostics.setSimd(true);
diagnostics.setThreadLimit(0);
model.dispose();
