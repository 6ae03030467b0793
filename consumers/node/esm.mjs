// Node ESM: import the installed package and train a tiny model until it fits XOR-like data.
import { ready, Sequential, layers, optimizers, tensor, ShapeError } from 'ballast';

const env = await ready();
// Relaxed SIMD is on from Node 22 (and in Bun and Deno); Node 20 keeps the threaded build and says why.
const node20 = globalThis.process?.versions?.node?.startsWith('20.') && !globalThis.Bun && !globalThis.Deno;
const threaded = node20 ? env.build === 'threads' && /relaxed SIMD/.test(env.fallbackReason ?? '') : env.build === 'relaxed' && !env.fallbackReason;
if (!threaded || !env.simd) throw new Error(`expected the ${node20 ? 'threaded' : 'relaxed'} SIMD build here, got ${JSON.stringify(env)}`);

// Two separable blobs: x in R^2, y one-hot.
const n = 64;
const xs = new Float32Array(n * 2);
const ys = new Float32Array(n * 2);
for (let i = 0; i < n; i++) {
  const c = i % 2;
  xs[2 * i] = (c ? 1 : -1) + 0.1 * Math.sin(i);
  xs[2 * i + 1] = (c ? -1 : 1) + 0.1 * Math.cos(i);
  ys[2 * i + c] = 1;
}
const model = new Sequential([
  layers.input({ shape: [2] }),
  layers.dense({ units: 8, activation: 'relu' }),
  layers.dense({ units: 2, activation: 'softmax' }),
], { seed: 1 });
model.compile({ optimizer: optimizers.adam({ learningRate: 0.05 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
const x = tensor(xs, [n, 2]);
const y = tensor(ys, [n, 2]);
const history = await model.fit(x, y, { batchSize: 16, epochs: 20, seed: 1 });
const [loss, accuracy] = await model.evaluate(x, y);
if (!(accuracy === 1 && loss < history.history.loss[0])) {
  throw new Error(`training did not fit: loss ${history.history.loss[0]} -> ${loss}, accuracy ${accuracy}`);
}
let shapeError = null;
try { tensor([1, 2, 3], [2, 2]); } catch (e) { shapeError = e; }
if (!(shapeError instanceof ShapeError)) throw new Error(`a wrong shape should be a ShapeError, got ${shapeError}`);
console.log(`esm: ${env.build} x${env.threads}, loss ${history.history.loss[0].toFixed(3)} -> ${loss.toFixed(3)}, accuracy ${accuracy}`);
