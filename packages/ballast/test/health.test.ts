import { describe, expect, it } from 'vitest';
import { layers, Sequential, optimizers, tensor, NumericError, ArgumentError, type Tensor } from 'ballast';
import { rng } from './reference.js';
import './build.js';


function data(n: number, seed: number): { x: Tensor; y: Tensor } {
  const r = rng(seed);
  const y = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) y[i * 4 + Math.floor(r() * 4)] = 1;
  return { x: tensor(Float32Array.from({ length: n * 16 }, () => r() * 2 - 1), [n, 16]), y: tensor(y, [n, 4]) };
}

function mlp(depth: number, options: { bn?: boolean } = {}): Sequential {
  const hidden = Array.from({ length: depth }, () => [
    layers.dense({ units: 32, activation: options.bn ? 'linear' : 'relu' }),
    ...(options.bn ? [layers.batchNormalization(), layers.activation({ activation: 'relu' })] : []),
  ]).flat();
  return new Sequential([layers.input({ shape: [16] }), ...hidden, layers.dense({ units: 4, activation: 'softmax' })], { seed: 2 });
}

describe('gradient health', () => {
  it('reported gradient norms equal the norms of the gradients (seen through an SGD step)', async () => {
    const model = mlp(3);
    const lr = 0.01;
    model.compile({ optimizer: optimizers.sgd({ learningRate: lr }), loss: 'categoricalCrossentropy' });
    const { x, y } = data(32, 1);
    const before = model.getWeights();
    let reported: Array<{ name: string; gradNorm: number; updateNorm: number; weightNorm: number }> = [];
    await model.fit(x, y, { batchSize: 32, epochs: 1, callbacks: { onBatchEnd: () => void (reported = model.lastGradientHealth()) } });
    const after = model.getWeights();
    expect(reported.map((r) => r.name)).toEqual(['dense', 'dense_1', 'dense_2', 'dense_3']);
    for (const r of reported) {
      // Plain SGD: Δw = −lr·g, so ‖g‖ = ‖Δw‖ / lr, computed here from the weights themselves.
      let sq = 0, wsq = 0;
      after.forEach((w, i) => {
        if (!w.name.startsWith(`${r.name}/`)) return;
        w.values.forEach((v, j) => {
          sq += (v - before[i].values[j]) ** 2;
          wsq += v ** 2;
        });
      });
      expect(r.gradNorm).toBeGreaterThan(0);
      expect(Math.abs(r.gradNorm - Math.sqrt(sq) / lr) / r.gradNorm).toBeLessThan(1e-3);
      expect(Math.abs(r.updateNorm - Math.sqrt(sq)) / r.updateNorm).toBeLessThan(1e-3);
      expect(Math.abs(r.weightNorm - Math.sqrt(wsq)) / r.weightNorm).toBeLessThan(1e-4);
    }
    expect(model.lastGradientHealth()).toEqual(reported);
  });

  it('an exploding network stops fit with a NumericError naming a layer; with clipping it trains', async () => {
    const blowUp = (model: Sequential) => {
      // Weights 30x too large in every layer: activations and gradients overflow.
      model.setWeights(model.getWeights().map((w) => ({ name: w.name, values: w.values.map((v) => v * 30) })));
    };
    const { x, y } = data(64, 2);
    const exploding = mlp(8);
    exploding.compile({ optimizer: optimizers.sgd({ learningRate: 10 }), loss: 'categoricalCrossentropy' });
    blowUp(exploding);
    const err = await exploding.fit(x, y, { batchSize: 16, epochs: 5 }).catch((e) => e);
    expect(err).toBeInstanceOf(NumericError);
    expect(err.message).toMatch(/(node|layer) '(dense|dense_\d+)'/);
    expect(err.message).toMatch(/step \d+/);

    const clipped = mlp(8);
    clipped.compile({ optimizer: optimizers.sgd({ learningRate: 10, clipNorm: 1 }), loss: 'categoricalCrossentropy' });
    blowUp(clipped);
    const history = await clipped.fit(x, y, { batchSize: 16, epochs: 5 });
    expect(history.history.loss.every(Number.isFinite)).toBe(true);
    expect(() => clipped.compile({ optimizer: optimizers.adam({ clipNorm: -1 }), loss: 'categoricalCrossentropy' })).toThrow(ArgumentError);
  });
});
