// Trains a tiny model a few steps in a Worker, as a browser user of the package would.
// No top-level await: some bundlers emit workers as classic scripts.
import { ready, Sequential, layers, optimizers, tensor } from 'ballast';

async function main() {
  const env = await ready();
  const n = 32;
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
  const history = await model.fit(x, y, { batchSize: 8, epochs: 5, seed: 1 });
  const losses = history.history.loss;
  return { env, crossOriginIsolated: globalThis.crossOriginIsolated, firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
}

main().then(
  (result) => postMessage(result),
  (error) => postMessage({ error: `${error?.name}: ${error?.message}` }),
);
