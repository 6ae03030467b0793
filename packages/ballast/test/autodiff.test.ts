import { describe, expect, it } from 'vitest';
import { valueAndGrads, ops, tensor, tidy, layers, Sequential, StateError, ShapeError, type Tensor } from 'ballast';
import { randomArray, rng } from './reference.js';
import './build.js';


describe('custom loops', () => {
  it('valueAndGrads gives gradients that agree with finite differences', () => {
    const r = rng(3);
    const x = tensor(randomArray(6 * 5, r), [6, 5]);
    const y = tensor(Float32Array.from({ length: 18 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0)), [6, 3]);
    const w = Float32Array.from(randomArray(15, r));
    const b = Float32Array.from(randomArray(3, r));
    const loss = (wv: Float32Array, bv: Float32Array) =>
      valueAndGrads((wVar, bVar) => ops.softmaxCrossEntropy(ops.tanh(ops.dense(ops.constant(x), wVar, bVar)), ops.constant(y)), [
        tensor(wv, [5, 3]),
        tensor(bv, [3]),
      ]);
    const { value, grads, gradNorms } = loss(w, b);
    expect(value).toBeGreaterThan(0);
    expect(grads.map((g) => g.shape)).toEqual([[5, 3], [3]]);
    const gw = grads[0].data();
    expect(gradNorms[0]).toBeCloseTo(Math.hypot(...gw), 5);
    const eps = 1e-2;
    for (const i of [0, 4, 9, 14]) {
      const plus = w.slice(); plus[i] += eps;
      const minus = w.slice(); minus[i] -= eps;
      const numeric = (loss(plus, b).value - loss(minus, b).value) / (2 * eps);
      expect(Math.abs(numeric - gw[i])).toBeLessThan(2e-3 + 2e-2 * Math.abs(numeric));
    }
  });

  it('ops need a valueAndGrads scope and a scalar result', () => {
    const t = tensor([1, 2], [2]);
    expect(() => ops.constant(t)).toThrow(StateError);
    expect(() => valueAndGrads((v) => ops.relu(v), [t])).toThrow(ShapeError);
    expect(valueAndGrads((v) => ops.sum(ops.mul(v, v)), [t]).grads[0].data()).toEqual(Float32Array.from([2, 4]));
    expect(() => valueAndGrads((v) => ops.matmul(v, v), [t])).toThrow(/matmul needs two matrices/);
  });

  it('layer.apply runs one layer; BN exposes gamma, beta and its moving statistics', () => {
    const bn = layers.batchNormalization({ momentum: 0.5 });
    const model = new Sequential([layers.input({ shape: [2] }), bn, layers.dense({ units: 1 })]);
    const w = bn.weights();
    expect(Object.keys(w).sort()).toEqual(['beta', 'gamma', 'moving_mean', 'moving_variance']);
    const x = tensor([1, 10, 3, 20], [2, 2]);
    // Inference: (x − 0) / √(1 + ε)
    const inference = bn.apply(x).data();
    expect(inference[1]).toBeCloseTo(10 / Math.sqrt(1.001), 5);
    // Training: batch statistics, and the moving mean moves halfway (momentum 0.5).
    const training = bn.apply(x, { training: true }).data();
    expect(training[0]).toBeCloseTo(-1 / Math.sqrt(1 + 1e-3), 3);
    expect(Array.from(bn.weights().moving_mean.values)).toEqual([1, 7.5]);
    model.dispose();
    expect(() => layers.dense({ units: 2 }).apply(x)).toThrow(StateError);
  });

  it('tidy disposes what a function created, except what it returns', () => {
    let inner: Tensor | undefined;
    const kept = tidy(() => {
      inner = tensor([1, 2, 3], [3]);
      return { out: tensor([4], [1]) };
    });
    expect(inner!.isDisposed).toBe(true);
    expect(kept.out.isDisposed).toBe(false);
    expect(Array.from(kept.out.data())).toEqual([4]);
  });
});
