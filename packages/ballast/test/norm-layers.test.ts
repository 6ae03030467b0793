import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layers, Sequential, optimizers, tensor, loadModel, ArgumentError, type Layer, type Tensor } from 'ballast';
import { rng } from './reference.js';
import './build.js';


/** `n` random 6×6×4 images in 3 classes; the class shifts the mean of one channel. */
function data(n: number, seed: number): { x: Tensor; y: Tensor } {
  const r = rng(seed);
  const x = new Float32Array(n * 144);
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const cls = i % 3;
    y[i * 3 + cls] = 1;
    for (let j = 0; j < 144; j++) x[i * 144 + j] = r() * 2 - 1 + (j % 4 === cls ? 1.5 : 0);
  }
  return { x: tensor(x, [n, 6, 6, 4]), y: tensor(y, [n, 3]) };
}

function model(norms: Layer[], seed = 3): Sequential {
  const [afterConv, afterDense] = norms;
  const m = new Sequential([
    layers.input({ shape: [6, 6, 4] }),
    layers.conv2d({ filters: 8, kernelSize: 3 }),
    afterConv,
    layers.activation({ activation: 'relu' }),
    layers.flatten(),
    layers.dense({ units: 12 }),
    afterDense,
    layers.activation({ activation: 'relu' }),
    layers.dense({ units: 3, activation: 'softmax' }),
  ], { seed });
  m.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

/** Per-batch training losses of `epochs` epochs. */
async function train(m: Sequential, x: Tensor, y: Tensor, batchSize: number, epochs: number): Promise<number[]> {
  const losses: number[] = [];
  await m.fit(x, y, { batchSize, epochs, callbacks: { onBatchEnd: (_, logs) => void losses.push(logs.loss) } });
  return losses;
}

/** Saves and loads `m`; the loaded model must predict bit-identically. Returns it and model.json. */
async function roundTrip(m: Sequential, x: Tensor): Promise<{ loaded: Sequential; json: { nodes: Array<{ name: string; className: string; config: Record<string, unknown> }> } }> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-norm-'));
  await m.save(dir);
  const loaded = await loadModel(dir);
  const [p1, p2] = [await m.predict(x), await loaded.predict(x)];
  expect(Array.from(p2.data())).toEqual(Array.from(p1.data()));
  expect(loaded.getWeights()).toEqual(m.getWeights());
  return { loaded, json: JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) };
}

describe('GroupNormalization and LayerNormalization', () => {
  it('train with batches of 2, and save/load round-trips them bit-identically', async () => {
    const { x, y } = data(24, 1);
    const m = model([
      layers.groupNormalization({ groups: 4, name: 'gn' }),
      layers.layerNormalization({ center: false, name: 'ln' }),
    ]);
    const weights = m.getWeights().map((w) => `${w.name}[${w.shape}]`);
    expect(weights).toContain('gn/gamma[8]');
    expect(weights).toContain('gn/beta[8]');
    expect(weights).toContain('ln/gamma[12]');
    expect(weights.filter((w) => w.startsWith('ln/'))).toEqual(['ln/gamma[12]']);
    const rows = m.summaryRows();
    expect(rows.find((r) => r.name === 'gn')).toMatchObject({ type: 'GroupNormalization', params: 16, trainable: 16 });
    expect(rows.find((r) => r.name === 'ln')).toMatchObject({ type: 'LayerNormalization', params: 12 });

    const losses = await train(m, x, y, 2, 3);
    expect(losses.every(Number.isFinite)).toBe(true);
    const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(mean(losses.slice(-12))).toBeLessThan(mean(losses.slice(0, 12)));
    // Nothing depends on the batch, even in training mode: an example alone gives what it
    // gives within a batch, and training and inference agree.
    const gn = m.layers.find((l) => l.name === 'gn')!;
    const r = rng(9);
    const h = tensor(Float32Array.from({ length: 3 * 128 }, () => r() * 4 - 1), [3, 4, 4, 8]);
    const batch = gn.apply(h, { training: true }).data();
    const alone = gn.apply(tensor(h.data().slice(128, 256), [1, 4, 4, 8]), { training: true }).data();
    expect(Array.from(alone)).toEqual(Array.from(batch.slice(128, 256)));
    expect(Array.from(gn.apply(h).data())).toEqual(Array.from(batch));

    const { loaded, json } = await roundTrip(m, x);
    expect(json.nodes.find((n) => n.name === 'gn')).toEqual({
      name: 'gn',
      className: 'GroupNormalization',
      config: { groups: 4, axis: -1, epsilon: 1e-3, center: true, scale: true, betaInitializer: 'zeros', gammaInitializer: 'ones' },
      inputs: ['conv2d'],
    });
    await loaded.fit(x, y, { batchSize: 4, epochs: 1 });
    m.dispose();
    loaded.dispose();
  });

  it('names the layer and the shapes when groups or axis do not fit', () => {
    const build = (norm: Layer) => () => model([norm, layers.layerNormalization()]);
    expect(build(layers.groupNormalization({ groups: 3, name: 'gn' }))).toThrow(ArgumentError);
    expect(build(layers.groupNormalization({ groups: 3, name: 'gn' }))).toThrow(
      /layer 'gn' \(GroupNormalization\): groups \(3\) must divide the number of channels \(8\) of axis -1 of input \[batch, 4, 4, 8\]/,
    );
    // Keras' default of 32 groups does not fit 8 channels either; unnamed layers are named too.
    expect(build(layers.groupNormalization())).toThrow(/layer '\w+' \(GroupNormalization\): groups \(32\)/);
    expect(build(layers.layerNormalization({ axis: 4, name: 'ln' }))).toThrow(/layer 'ln' \(LayerNormalization\): axis 4 is out of range for input \[batch, 4, 4, 8\]/);
    expect(() => layers.groupNormalization({ groups: 0 })).toThrow(ArgumentError);
    expect(() => layers.groupNormalization({ groups: 2.5 })).toThrow(/option 'groups' must be a non-negative integer, got 2.5/);
  });
});

describe('Batch Renormalization', () => {
  it('with rmax 1 and dmax 0 trains exactly like batch normalization', async () => {
    const { x, y } = data(12, 2);
    const plain = model([layers.batchNormalization(), layers.batchNormalization()]);
    const renorm = () => layers.batchNormalization({ renorm: true, renormClipping: { rmax: 1, dmax: 0 } });
    const re = model([renorm(), renorm()]);
    expect(await train(re, x, y, 2, 2)).toEqual(await train(plain, x, y, 2, 2));
    plain.dispose();
    re.dispose();
  });

  it('trains with batches of 2, keeps the Keras renorm weights, and round-trips', async () => {
    const { x, y } = data(12, 3);
    const bn = layers.batchNormalization({ renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9 });
    const m = model([bn, layers.batchNormalization({ renorm: true })]);
    expect(Object.keys(bn.weights())).toEqual(['gamma', 'beta', 'moving_mean', 'moving_variance', 'moving_stddev', 'renorm_mean', 'renorm_stddev']);
    const losses = await train(m, x, y, 2, 2);
    expect(losses.every(Number.isFinite)).toBe(true);
    const w = bn.weights();
    expect(Array.from(w.renorm_mean.values).every((v) => v !== 0)).toBe(true);
    // Keras derives the moving variance from the moving standard deviation.
    w.moving_variance.values.forEach((v, c) => expect(v).toBeCloseTo(Math.max(w.moving_stddev.values[c] ** 2 - 1e-3, 0), 6));

    const { loaded, json } = await roundTrip(m, x);
    const [first, second] = json.nodes.filter((n) => n.className === 'BatchNormalization').map((n) => n.config);
    expect(first).toMatchObject({ renorm: true, renormClipping: { rmax: 3, dmax: 5 }, renormMomentum: 0.9 });
    // Unbounded clipping (Keras' default) is saved as null: JSON has no Infinity.
    expect(second).toMatchObject({ renorm: true, renormClipping: { rmax: null, dmax: null }, renormMomentum: 0.99 });
    await loaded.fit(x, y, { batchSize: 4, epochs: 1 });
    m.dispose();
    loaded.dispose();
  });

  it('rejects clipping bounds out of range', () => {
    expect(() => layers.batchNormalization({ renorm: true, renormClipping: { rmax: 0.5 } })).toThrow(/renorm clipping needs rmax >= 1 and dmax >= 0, got 0.5/);
    expect(() => layers.batchNormalization({ renorm: true, renormClipping: { dmax: -1 } })).toThrow(ArgumentError);
    expect(() => model([layers.batchNormalization({ renorm: true, renormMomentum: 2 }), layers.layerNormalization()])).toThrow(/renorm momentum must be in \[0, 1\]/);
  });
});
