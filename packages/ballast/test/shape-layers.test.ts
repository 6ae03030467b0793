// The reshaping, merge and small layers: a functional model built from them trains and
// round-trips, their configs come back resolved from the core, bad options and shapes are
// typed errors naming the option or the shapes, and an embedding model learns from integer
// class indices.
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layers, Model, optimizers, tensor, loadModel, ArgumentError, ShapeError, type Tensor } from 'ballast';
import { rng } from './reference.js';
import './build.js';


/** `n` random 6×6×2 images in 3 classes; the class shifts the mean of one channel in one corner. */
function images(n: number, seed: number): { x: Tensor; y: Tensor } {
  const r = rng(seed);
  const x = new Float32Array(n * 72);
  const y = new Float32Array(n * 3);
  for (let i = 0; i < n; i++) {
    const cls = i % 3;
    y[i * 3 + cls] = 1;
    for (let j = 0; j < 72; j++) {
      const [row, channel] = [Math.floor(j / 12), j % 2];
      x[i * 72 + j] = r() * 2 - 1 + (cls > 0 && channel === cls - 1 && row < 3 ? 1.5 : 0);
    }
  }
  return { x: tensor(x, [n, 6, 6, 2]), y: tensor(y, [n, 3]) };
}

/** Padding, a convolution, spatial dropout, pooling and both upsamplings, the four merges,
 * cropping, reshape and permute, then a softmax over 3 classes. */
function shapeModel(seed = 1): Model {
  const inp = layers.input({ shape: [6, 6, 2] });
  const padded = layers.zeroPadding2d({ name: 'pad' }).apply(inp); // 8×8×2
  const c = layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }).apply(padded); // 6×6×4
  const dropped = layers.spatialDropout2d({ rate: 0.2, name: 'sdrop' }).apply(c);
  const pooled = layers.maxPooling2d().apply(dropped); // 3×3×4
  const smooth = layers.upSampling2d({ interpolation: 'bilinear', name: 'bilinear' }).apply(pooled); // 6×6×4
  const blocky = layers.upSampling2d().apply(pooled);
  const wide = layers.zeroPadding2d({ padding: [[1, 0], [0, 1]] }).apply(c); // 7×7×4
  const cropped = layers.cropping2D({ cropping: [[1, 0], [0, 1]], name: 'crop' }).apply(wide); // 6×6×4
  const product = layers.multiply().apply([smooth, cropped]);
  const difference = layers.subtract().apply([blocky, c]);
  const most = layers.maximum().apply([product, difference, c]);
  const mean = layers.average().apply([most, smooth]);
  const rows = layers.reshape({ targetShape: [36, -1], name: 'rows' }).apply(mean); // 36×4
  const columns = layers.permute({ dims: [2, 1] }).apply(rows); // 4×36
  expect(columns.shape).toEqual([null, 4, 36]);
  const out = layers.dense({ units: 3, activation: 'softmax' }).apply(layers.flatten().apply(columns));
  const model = new Model({ inputs: inp, outputs: out, seed });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

describe('reshaping and merge layers', () => {
  it('a functional model of them trains, and saves and loads with their resolved configs', async () => {
    const { x, y } = images(36, 1);
    const model = shapeModel();
    const names = model.layers.map((l) => l.name);
    for (const n of ['multiply', 'subtract', 'maximum', 'average', 'up_sampling2d', 'zero_padding2d', 'permute']) {
      expect(names).toContain(n);
    }
    expect(model.summaryRows().find((r) => r.name === 'maximum')!.inputs).toEqual(['multiply', 'subtract', 'conv2d']);
    const losses: number[] = [];
    await model.fit(x, y, { batchSize: 6, epochs: 6, callbacks: { onBatchEnd: (_, logs) => void losses.push(logs.loss) } });
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(mean(losses.slice(-6))).toBeLessThan(0.5 * mean(losses.slice(0, 6)));

    const dir = await mkdtemp(join(tmpdir(), 'ballast-shape-'));
    await model.save(dir);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { nodes: Array<{ name: string; className: string; config: unknown }> };
    const node = (name: string) => json.nodes.find((n) => n.name === name)!;
    expect(node('pad')).toMatchObject({ className: 'ZeroPadding2D', config: { padding: [[1, 1], [1, 1]] } });
    expect(node('crop')).toMatchObject({ className: 'Cropping2D', config: { cropping: [[1, 0], [0, 1]] } });
    expect(node('bilinear')).toMatchObject({ className: 'UpSampling2D', config: { size: [2, 2], interpolation: 'bilinear' } });
    expect(node('rows')).toMatchObject({ className: 'Reshape', config: { targetShape: [36, -1] } });
    expect(node('sdrop')).toMatchObject({ className: 'SpatialDropout2D', config: { rate: 0.2 } });
    const loaded = await loadModel(dir);
    const [p1, p2] = [await model.predict(x), await loaded.predict(x)];
    expect(Array.from(p2.data())).toEqual(Array.from(p1.data()));
    model.dispose();
    loaded.dispose();
  });

  it('configs come back from the core with Keras defaults filled in', () => {
    expect(layers.zeroPadding2d().config).toEqual({ padding: [[1, 1], [1, 1]] });
    expect(layers.zeroPadding2d({ padding: [2, 3] }).config).toEqual({ padding: [[2, 2], [3, 3]] });
    expect(layers.cropping2D().config).toEqual({ cropping: [[0, 0], [0, 0]] });
    expect(layers.cropping2D({ cropping: 1 }).config).toEqual({ cropping: [[1, 1], [1, 1]] });
    expect(layers.upSampling2d().config).toEqual({ size: [2, 2], interpolation: 'nearest' });
    expect(layers.upSampling2d({ size: [1, 3] }).config).toEqual({ size: [1, 3], interpolation: 'nearest' });
    expect(layers.permute({ dims: [2, 1] }).config).toEqual({ dims: [2, 1] });
    expect(layers.spatialDropout2d({ rate: 0.3 }).config).toEqual({ rate: 0.3 });
    expect(layers.subtract().config).toEqual({});
    expect(layers.embedding({ inputDim: 10, outputDim: 4 }).config).toEqual({ inputDim: 10, outputDim: 4, embeddingsInitializer: 'randomUniform', embeddingsRegularizer: null });
    const upSampling = layers.upSampling2d();
    expect([upSampling.className, upSampling.defaultName]).toEqual(['UpSampling2D', 'up_sampling2d']);
  });

  it('bad options are ArgumentErrors naming the option', () => {
    const refused = (make: () => unknown, message: RegExp) => {
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
    };
    refused(() => layers.upSampling2d({ interpolation: 'bicubic' as 'bilinear' }), /UpSampling2D: option 'interpolation' must be 'nearest' or 'bilinear', got "bicubic"/);
    refused(() => layers.upSampling2d({ size: 0 }), /option 'size' must be a positive integer or a pair of them, got 0/);
    refused(() => layers.zeroPadding2d({ padding: [[1], [2, 3]] as unknown as [number, number] }), /option 'padding' must be a non-negative integer, a pair \[height, width\] or \[\[top, bottom\], \[left, right\]\]/);
    refused(() => layers.cropping2D({ cropping: -1 }), /option 'cropping' must be/);
    refused(() => layers.reshape({ targetShape: [-1, -1] }), /option 'targetShape' must list positive sizes, at most one of them -1, got \[-1,-1\]/);
    refused(() => layers.permute({ dims: [1, 1] }), /option 'dims' must be a permutation of 1\.\.2/);
    refused(() => layers.spatialDropout2d({ rate: 1 }), /SpatialDropout2D: dropout rate must be in \[0, 1\), got 1/);
    refused(() => layers.embedding({ inputDim: 5 } as { inputDim: number; outputDim: number }), /Embedding: option 'outputDim' is required/);
    refused(() => layers.embedding({ inputDim: 5, outputDim: 2, maskZero: true } as { inputDim: number; outputDim: number }), /unknown option 'maskZero'/);
  });

  it('shapes that do not fit are ShapeErrors naming the shapes (and the inputs of merges)', () => {
    const inp = layers.input({ shape: [4, 5, 3], name: 'image' });
    const other = layers.conv2d({ filters: 2, kernelSize: 1, name: 'narrow' }).apply(inp);
    const shapeError = (make: () => unknown, message: RegExp) => {
      expect(make).toThrow(ShapeError);
      expect(make).toThrow(message);
    };
    shapeError(() => layers.cropping2D({ cropping: [[2, 2], [0, 0]], name: 'crop' }).apply(inp), /layer 'crop' \(Cropping2D\): cropping 2 \+ 2 rows leaves nothing of a height of 4 \(input \[batch, 4, 5, 3\]\)/);
    shapeError(() => layers.reshape({ targetShape: [7, 8] }).apply(inp), /Reshape: cannot reshape input \[batch, 4, 5, 3\] \(60 values per example\) to target shape \[7, 8\] \(56 values\)/);
    shapeError(() => layers.permute({ dims: [2, 1] }).apply(inp), /Permute: dims \[2, 1\] permute 2 axes, but input \[batch, 4, 5, 3\] has 3/);
    shapeError(() => layers.upSampling2d().apply(layers.flatten().apply(inp)), /UpSampling2D: expects input \[batch, height, width, channels\], got \[batch, 60\]/);
    shapeError(
      () => layers.multiply().apply([inp, other]),
      /Multiply: inputs must all have one shape, got \[batch, 4, 5, 3\], \[batch, 4, 5, 2\] \(inputs: 'image' \[batch, 4, 5, 3\], 'narrow' \[batch, 4, 5, 2\]\)/,
    );
    shapeError(() => layers.maximum().apply([inp, other]), /Maximum: inputs must all have one shape/);
    expect(() => layers.subtract().apply([inp, inp, inp])).toThrow(ArgumentError);
    expect(() => layers.subtract().apply([inp, inp, inp])).toThrow(/Subtract: a Subtract layer needs exactly 2 inputs, got 3/);
    expect(() => layers.average().apply([inp])).toThrow(/at least 2 inputs/);
  });

  it('spatial dropout drops whole channels in training and is the identity in inference', () => {
    const inp = layers.input({ shape: [3, 3, 8] });
    const drop = layers.spatialDropout2d({ rate: 0.5 });
    const model = new Model({ inputs: inp, outputs: drop.apply(inp), seed: 4 });
    const x = tensor(Float32Array.from({ length: 4 * 72 }, (_, i) => 1 + (i % 5)), [4, 3, 3, 8]);
    expect(Array.from(drop.apply(x).data())).toEqual(Array.from(x.data()));
    const y = drop.apply(x, { training: true }).data();
    const xs = x.data();
    let zeros = 0;
    for (let e = 0; e < 4; e++) {
      for (let c = 0; c < 8; c++) {
        const at = (p: number) => e * 72 + p * 8 + c;
        const kept = y[at(0)] !== 0;
        zeros += kept ? 0 : 1;
        for (let p = 0; p < 9; p++) expect(y[at(p)]).toBe(kept ? 2 * xs[at(p)] : 0);
      }
    }
    expect(zeros).toBeGreaterThan(0);
    expect(zeros).toBeLessThan(32);
    model.dispose();
  });
});

describe('Embedding', () => {
  /** Sequences of 4 class indices out of 10, labelled by whether class 7 appears. */
  function sequences(n: number, seed: number): { ids: Int32Array; labels: Float32Array } {
    const r = rng(seed);
    const ids = Int32Array.from({ length: n * 4 }, () => Math.floor(r() * 10));
    const labels = Float32Array.from({ length: n }, (_, i) => (ids.subarray(i * 4, i * 4 + 4).includes(7) ? 1 : 0));
    return { ids, labels };
  }

  function embeddingModel(): Model {
    const inp = layers.input({ shape: [4] });
    const e = layers.embedding({ inputDim: 10, outputDim: 3 }).apply(inp);
    expect(e.shape).toEqual([null, 4, 3]);
    const out = layers.dense({ units: 2, activation: 'softmax' }).apply(layers.flatten().apply(e));
    const model = new Model({ inputs: inp, outputs: out, seed: 2 });
    model.compile({ optimizer: optimizers.adam({ learningRate: 5e-2 }), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    return model;
  }

  it('fits on integer class indices; its weight is the embeddings table', async () => {
    const { ids, labels } = sequences(64, 3);
    const model = embeddingModel();
    const table = model.getLayer('embedding').weights().embeddings;
    expect(table.shape).toEqual([10, 3]);
    expect(Array.from(table.values).every((v) => Math.abs(v) <= 0.05)).toBe(true);
    const history = await model.fit(tensor(ids, [64, 4]), tensor(labels, [64]), { batchSize: 16, epochs: 25 });
    const { loss, accuracy } = history.history;
    expect(loss[loss.length - 1]).toBeLessThan(0.5 * loss[0]);
    expect(accuracy[accuracy.length - 1]).toBeGreaterThan(0.9);
    model.dispose();
  });

  it('refuses indices that are not whole numbers in [0, inputDim), naming the layer and the value', async () => {
    const model = embeddingModel();
    const before = model.getWeights();
    const labels = tensor(new Float32Array(2), [2]);
    const fit = (values: number[]) => model.fit(tensor(values, [2, 4]), labels, { batchSize: 2, epochs: 1, shuffle: false });
    await expect(fit([0, 1, 2, 3, 4, 5, 10, 7])).rejects.toThrow(ArgumentError);
    await expect(fit([0, 1, 2, 3, 4, 5, 10, 7])).rejects.toThrow(/layer 'embedding' \(Embedding\): input value 10 at \[1, 2\] of the batch is out of range: indices must be whole numbers in \[0, 10\)/);
    await expect(fit([0, 1.5, 2, 3, 4, 5, 6, 7])).rejects.toThrow(/input value 1.5 at \[0, 1\] of the batch is not a whole number/);
    await expect(fit([0, 1, 2, -1, 4, 5, 6, 7])).rejects.toThrow(/input value -1 at \[0, 3\] of the batch is out of range/);
    expect(model.getWeights()).toEqual(before);
    model.dispose();
  });
});
