import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  layers, Sequential, Model, optimizers, tensor, loadModel, valueAndGrads, ops,
  ArgumentError, type Layer, type ActivationName,
} from 'ballast';
import './build.js';


/** erf to ~1e-7 (Abramowitz & Stegun 7.1.26), enough for float32 comparisons. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const clip = (x: number, lo: number, hi: number) => Math.min(Math.max(x, lo), hi);

/** Plain-JS references, Keras 3's maths and defaults. */
const reference: Record<string, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => Math.max(x, 0),
  sigmoid,
  tanh: Math.tanh,
  leaky_relu: (x) => (x >= 0 ? x : 0.2 * x),
  elu: (x) => (x > 0 ? x : Math.expm1(x)),
  selu: (x) => 1.05070098 * (x > 0 ? x : 1.67326324 * Math.expm1(x)),
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
  silu: (x) => x * sigmoid(x),
  softplus,
  softsign: (x) => x / (1 + Math.abs(x)),
  hard_sigmoid: (x) => clip(x + 3, 0, 6) / 6,
  relu6: (x) => clip(x, 0, 6),
  mish: (x) => x * Math.tanh(softplus(x)),
};
/** TF.js spellings and the Keras name they resolve to. */
const aliases: Record<string, string> = { swish: 'silu', hardSigmoid: 'hard_sigmoid', leakyRelu: 'leaky_relu' };

const X = [-7.5, -3.5, -1.2, -0.3, 0.4, 1.7, 2.9, 7.2];
const N = X.length;

function expectClose(got: ArrayLike<number>, want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs(got[i] - w), `${what}[${i}]: ${got[i]} vs ${w}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w))));
}

/** Runs `layer` alone after an input of `shape` on `values` (a batch of one). */
async function predictWith(layer: Layer, values: number[], shape = [values.length]): Promise<Float32Array> {
  const m = new Sequential([layers.input({ shape }), layer]);
  const y = await m.predict(tensor(Float32Array.from(values), [1, ...shape]));
  const out = y.data();
  y.dispose();
  m.dispose();
  return out;
}

describe('activations as the activation option', () => {
  it('every name, Keras and TF.js spellings, computes the Keras function in Dense and Conv2D', async () => {
    const identity = Float32Array.from({ length: N * N }, (_, i) => (i % (N + 1) === 0 ? 1 : 0));
    for (const name of [...Object.keys(reference), ...Object.keys(aliases)]) {
      const keras = aliases[name] ?? name;
      const dense = layers.dense({ units: N, activation: name as ActivationName });
      expect(dense.config.activation, name).toBe(keras);
      const m = new Sequential([layers.input({ shape: [N] }), dense]);
      m.setWeights([{ name: 'dense/kernel', values: identity }, { name: 'dense/bias', values: new Float32Array(N) }]);
      const y = await m.predict(tensor(Float32Array.from(X), [1, N]));
      expectClose(y.data(), X.map(reference[keras]), `dense ${name}`);
      y.dispose();
      m.dispose();
    }
    // A 1x1 convolution with an identity kernel: the activation on every pixel and channel.
    const conv = layers.conv2d({ filters: 2, kernelSize: 1, activation: 'gelu', useBias: false, name: 'c' });
    const m = new Sequential([layers.input({ shape: [2, 2, 2] }), conv]);
    m.setWeights([{ name: 'c/kernel', values: [1, 0, 0, 1] }]);
    const y = await m.predict(tensor(Float32Array.from(X), [1, 2, 2, 2]));
    expectClose(y.data(), X.map(reference.gelu), 'conv2d gelu');
    y.dispose();
    m.dispose();
  });

  it('an Activation layer takes every name too, and an unknown one is an ArgumentError listing them', async () => {
    for (const name of Object.keys(reference)) {
      expectClose(await predictWith(layers.activation({ activation: name as ActivationName }), X), X.map(reference[name]), name);
    }
    const bad = () => layers.dense({ units: 2, activation: 'gelu_tanh' as ActivationName, name: 'd' });
    expect(bad).toThrow(ArgumentError);
    expect(bad).toThrow(/layer 'd' \(Dense\): option 'activation' must be one of 'linear', 'relu'.*'mish' \(or 'swish', 'hardSigmoid', 'leakyRelu'\), got "gelu_tanh"/);
    expect(() => layers.activation({ activation: 'Relu' as ActivationName })).toThrow(/Activation: option 'activation' must be one of/);
  });
});

describe('activation layers', () => {
  it('take their defaults from the core (Keras 3)', () => {
    expect(layers.leakyReLU().config).toEqual({ negativeSlope: 0.3 });
    expect(layers.elu().config).toEqual({ alpha: 1 });
    expect(layers.reLU().config).toEqual({ maxValue: null, negativeSlope: 0, threshold: 0 });
    expect(layers.softmax().config).toEqual({ axis: -1 });
    expect(layers.prelu().config).toEqual({ alphaInitializer: 'zeros', sharedAxes: null });
    // TF.js's spellings resolve to one key.
    expect(layers.leakyReLU({ alpha: 0.1 }).config).toEqual({ negativeSlope: 0.1 });
    expect(layers.prelu({ sharedAxes: 1 }).config).toEqual({ alphaInitializer: 'zeros', sharedAxes: [1] });
    const names = new Sequential([
      layers.input({ shape: [3] }), layers.leakyReLU(), layers.reLU(), layers.elu(), layers.prelu(), layers.softmax(),
    ]).layers.map((l) => l.name);
    expect(names).toEqual(['leaky_re_lu', 're_lu', 'elu', 'p_re_lu', 'softmax']);
  });

  it('compute the Keras maths', async () => {
    expectClose(await predictWith(layers.leakyReLU(), X), X.map((x) => (x >= 0 ? x : 0.3 * x)), 'LeakyReLU');
    expectClose(await predictWith(layers.leakyReLU({ negativeSlope: 0.05 }), X), X.map((x) => (x >= 0 ? x : 0.05 * x)), 'LeakyReLU 0.05');
    expectClose(await predictWith(layers.elu({ alpha: 0.5 }), X), X.map((x) => (x > 0 ? x : 0.5 * Math.expm1(x))), 'ELU');
    expectClose(await predictWith(layers.reLU(), X), X.map(reference.relu), 'ReLU');
    expectClose(await predictWith(layers.reLU({ maxValue: 6 }), X), X.map(reference.relu6), 'ReLU max 6');
    // Keras: clip(x·[x > t], 0, max) − s·relu(t − x).
    const keras = (x: number) => clip(x > 0.5 ? x : 0, 0, 2.5) - 0.1 * Math.max(0.5 - x, 0);
    expectClose(await predictWith(layers.reLU({ maxValue: 2.5, negativeSlope: 0.1, threshold: 0.5 }), X), X.map(keras), 'ReLU all');
    // PReLU starts from alpha = 0 (a ReLU); with set weights, one alpha per channel.
    expectClose(await predictWith(layers.prelu(), X), X.map(reference.relu), 'PReLU at init');
    const prelu = layers.prelu({ sharedAxes: [1], name: 'p' });
    const m = new Sequential([layers.input({ shape: [4, 2] }), prelu]);
    expect(prelu.weights().alpha.shape).toEqual([1, 2]);
    m.setWeights([{ name: 'p/alpha', values: [0.1, 0.5] }]);
    const y = await m.predict(tensor(Float32Array.from(X), [1, 4, 2]));
    expectClose(y.data(), X.map((x, i) => (x > 0 ? x : (i % 2 ? 0.5 : 0.1) * x)), 'PReLU');
    y.dispose();
    m.dispose();
  });

  it('softmax over any axis; only the last one is fused into the loss, and both losses are right', async () => {
    const x = tensor(Float32Array.from(X.slice(0, 6)), [1, 2, 3]);
    const rows = [X.slice(0, 3), X.slice(3, 6)];
    const soft = (v: number[]) => { const m = Math.max(...v); const e = v.map((a) => Math.exp(a - m)); const s = e.reduce((a, b) => a + b); return e.map((a) => a / s); };
    const last = rows.flatMap(soft);
    const cols = [0, 1, 2].map((j) => soft([rows[0][j], rows[1][j]]));
    const axis1 = [0, 1].flatMap((i) => cols.map((c) => c[i]));
    expectClose(await predictWith(layers.softmax(), X.slice(0, 6), [2, 3]), last, 'softmax axis -1');
    expectClose(await predictWith(layers.softmax({ axis: 2 }), X.slice(0, 6), [2, 3]), last, 'softmax axis 2');
    expectClose(await predictWith(layers.softmax({ axis: 1 }), X.slice(0, 6), [2, 3]), axis1, 'softmax axis 1');

    // Cross-entropy (losses take [batch, classes]): a final last-axis Softmax layer is fused
    // into the loss (from logits: the rows of x); a softmax over axis 1 of [2, 3], flattened,
    // is applied and the loss reads its probabilities, normalized as Keras does (the six
    // values sum to 3: each of the 3 columns sums to 1).
    const rowsX = tensor(Float32Array.from(X.slice(0, 6)), [2, 3]);
    const oneHot = tensor(Float32Array.from([0, 0, 1, 1, 0, 0]), [2, 3]);
    const fused = new Sequential([layers.input({ shape: [3] }), layers.softmax()]);
    fused.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
    const [fusedLoss] = await fused.evaluate(rowsX, oneHot);
    expect(Math.abs(fusedLoss - -(Math.log(last[2]) + Math.log(last[3])) / 2)).toBeLessThan(1e-5);
    const applied = new Sequential([layers.input({ shape: [2, 3] }), layers.softmax({ axis: 1 }), layers.flatten()]);
    applied.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
    const target = tensor(Float32Array.from([0, 0, 1, 0, 0, 0]), [1, 6]);
    const [appliedLoss] = await applied.evaluate(x, target);
    expect(Math.abs(appliedLoss - -Math.log(axis1[2] / 3))).toBeLessThan(1e-5);
    [x, rowsX, oneHot, target].forEach((t) => t.dispose());
    fused.dispose();
    applied.dispose();
  });

  it('train and save/load round-trip, in a functional model', async () => {
    const inp = layers.input({ shape: [4] });
    let h = layers.dense({ units: 8, activation: 'swish' }).apply(inp);
    h = layers.prelu({ name: 'prelu' }).apply(h);
    h = layers.dense({ units: 8, activation: 'gelu_new' }).apply(h);
    h = layers.leakyReLU({ alpha: 0.1 }).apply(h);
    h = layers.reLU({ maxValue: 6 }).apply(h);
    h = layers.dense({ units: 3, activation: 'mish' }).apply(h);
    h = layers.elu().apply(h);
    const out = layers.softmax().apply(layers.dense({ units: 3 }).apply(h));
    const m = new Model({ inputs: inp, outputs: out, seed: 2 });
    m.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy' });
    const x = tensor(Float32Array.from({ length: 48 }, (_, i) => Math.sin(i)), [12, 4]);
    const y = tensor(Float32Array.from({ length: 36 }, (_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0)), [12, 3]);
    const history = await m.fit(x, y, { batchSize: 4, epochs: 3 });
    expect(history.history.loss.every(Number.isFinite)).toBe(true);
    expect(Array.from(m.getLayer('prelu').weights().alpha.values).some((a) => a !== 0)).toBe(true);
    const dir = await mkdtemp(join(tmpdir(), 'ballast-act-'));
    await m.save(dir);
    const loaded = await loadModel(dir);
    const [p1, p2] = [await m.predict(x), await loaded.predict(x)];
    expect(Array.from(p2.data())).toEqual(Array.from(p1.data()));
    expect(loaded.layers.map((l) => l.config)).toEqual(m.layers.map((l) => l.config));
    [p1, p2, x, y].forEach((t) => t.dispose());
    m.dispose();
    loaded.dispose();
  });

  it('refuse bad options with ArgumentErrors naming the layer and the option', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => layers.reLU({ maxValue: -1 }), /ReLU: option 'maxValue' must be at least 0 \(as in Keras\), got -1/],
      [() => layers.reLU({ threshold: -0.5, name: 'r' }), /layer 'r' \(ReLU\): option 'threshold' must be at least 0/],
      [() => layers.leakyReLU({ negativeSlope: -0.1 }), /LeakyReLU: option 'negativeSlope' must be at least 0/],
      [() => layers.leakyReLU({ alpha: 0.1, negativeSlope: 0.2 }), /LeakyReLU: options 'alpha' and 'negativeSlope' are the same option: give one/],
      [() => layers.elu({ alpha: NaN }), /'alpha' of the options of ELU must be a finite number, got NaN/],
      [() => layers.leakyReLU({ alpha: Infinity }), /'alpha' of the options of LeakyReLU must be a finite number/],
      [() => layers.softmax({ axis: 1.5 }), /Softmax: option 'axis' must be an integer, got 1.5/],
      [() => layers.prelu({ sharedAxes: [0] }), /PReLU: option 'sharedAxes' must be a positive integer/],
      [() => new Sequential([layers.input({ shape: [2, 3] }), layers.softmax({ axis: 3 })]), /layer 'softmax' \(Softmax\): axis 3 is out of range for input \[batch, 2, 3\]/],
      [() => layers.softmax({ axis: 0, name: 's' }).apply(layers.input({ shape: [3] })), /layer 's' \(Softmax\): axis 0 is out of range/],
      [() => new Sequential([layers.input({ shape: [3] }), layers.prelu({ sharedAxes: [2] })]), /\(PReLU\): option 'sharedAxes': axis 2 is out of range for input \[batch, 3\]/],
    ];
    for (const [make, message] of cases) {
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
    }
  });
});

describe('activation ops in custom loops', () => {
  it('gelu (exact and tanh), leakyRelu and softmax on an axis give Keras values and gradients', () => {
    const t = tensor(Float32Array.from(X.slice(0, 6)), [2, 3]);
    const sum = (f: (v: ReturnType<typeof ops.constant>) => ReturnType<typeof ops.constant>) =>
      valueAndGrads((v) => ops.sum(f(v)), [t]);
    const exact = sum((v) => ops.gelu(v));
    expect(Math.abs(exact.value - X.slice(0, 6).map(reference.gelu).reduce((a, b) => a + b))).toBeLessThan(1e-5);
    const approx = sum((v) => ops.gelu(v, { approximate: true }));
    expect(Math.abs(approx.value - X.slice(0, 6).map(reference.gelu_new).reduce((a, b) => a + b))).toBeLessThan(1e-5);
    const leaky = sum((v) => ops.leakyRelu(v));
    expectClose(leaky.grads[0].data(), X.slice(0, 6).map((x) => (x > 0 ? 1 : 0.2)), 'leakyRelu gradient');
    // Softmax sums to 1 along its axis, so the sum's gradient is 0.
    const soft = sum((v) => ops.softmax(v, 0));
    expect(Math.abs(soft.value - 3)).toBeLessThan(1e-5);
    expect(Array.from(soft.grads[0].data()).every((g) => Math.abs(g) < 1e-6)).toBe(true);
    expect(() => sum((v) => ops.softmax(v, 2))).toThrow(/softmax: axis 2 is out of range for a tensor of rank 2/);
    [exact, approx, leaky, soft].forEach((r) => r.grads.forEach((g) => g.dispose()));
    t.dispose();
  });
});
