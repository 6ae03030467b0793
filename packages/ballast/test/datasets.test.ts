// Data sets kept compact in WASM memory (bytes and class indices, scaled and made one-hot per
// batch), the loaders' limits and file errors, and the memory training takes.
import { describe, expect, it } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ready, layers, Sequential, optimizers, datasets, tensor, byteTensor, oneHot, matmul, diagnostics,
  ArgumentError, DataError, ShapeError, StateError, type Tensor,
} from 'ballast';
import { idxFile, rng } from './reference.js';

await ready({ threads: 2 });

/** `n` random 8x8 images and labels 0..3 as IDX files. */
function randomIdx(n: number, seed: number): { images: Uint8Array; labels: Uint8Array; pixels: Uint8Array; classes: Uint8Array } {
  const r = rng(seed);
  const pixels = Uint8Array.from({ length: n * 64 }, () => Math.floor(r() * 256));
  const classes = Uint8Array.from({ length: n }, () => Math.floor(r() * 4));
  return { images: idxFile([n, 8, 8], pixels), labels: idxFile([n], classes), pixels, classes };
}

function smallModel(seed: number, loss = 'categoricalCrossentropy'): Sequential {
  const model = new Sequential([
    layers.input({ shape: [8, 8, 1] }),
    layers.batchNormalization(),
    layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
    layers.flatten(),
    layers.dropout({ rate: 0.2 }),
    layers.dense({ units: 4, activation: 'softmax' }),
  ], { seed });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss, metrics: ['accuracy'] });
  return model;
}

const bits = (t: Float32Array) => Array.from(new Uint32Array(t.buffer, t.byteOffset, t.length));

describe('compact storage', () => {
  it('keeps IDX images as bytes and labels as indices, reading the same values as before', async () => {
    const { images, labels, pixels, classes } = randomIdx(30, 1);
    const d = await datasets.idx({ images, labels });
    expect([d.x.storage, d.x.byteLength, d.y.storage, d.y.byteLength]).toEqual(['uint8', 30 * 64, 'classes', 30 * 4]);
    expect([d.x.shape, d.y.shape]).toEqual([[30, 8, 8, 1], [30, 4]]);
    // x/255 in float32, bit for bit, and one-hot rows.
    expect(bits(d.x.data())).toEqual(bits(Float32Array.from(pixels, (b) => Math.fround(b / 255))));
    const hot = new Float32Array(30 * 4);
    classes.forEach((c, i) => (hot[i * 4 + c] = 1));
    expect(d.y.data()).toEqual(hot);
    d.dispose();
    expect(d.x.isDisposed && d.y.isDisposed).toBe(true);
  });

  it('trains, evaluates, predicts and recalibrates exactly as on float32 tensors', async () => {
    const { images, labels } = randomIdx(200, 2);
    const compact = await datasets.idx({ images, labels });
    const dense = { x: tensor(compact.x.data(), compact.x.shape), y: tensor(compact.y.data(), compact.y.shape) };
    expect(dense.x.storage).toBe('float32');
    const run = async (x: Tensor, y: Tensor, vx: Tensor, vy: Tensor) => {
      const model = smallModel(3);
      const a = await model.fit(x, y, { batchSize: 16, epochs: 2, validationSplit: 0.2 });
      const b = await model.fit(x, y, { batchSize: 16, epochs: 1, validationData: [vx, vy], classWeight: { 1: 2 } });
      const evaluated = await model.evaluate(x, y, { batchSize: 64 });
      const predicted = (await model.predict(x, { batchSize: 50 })).data();
      model.recalibrateBatchNorm(x, { batchSize: 32, batches: 4 });
      const weights = model.getWeights().flatMap((w) => bits(w.values));
      model.dispose();
      return { loss: [...a.history.loss, ...a.history.val_loss, ...b.history.val_accuracy], evaluated, predicted: bits(predicted), weights };
    };
    const small = datasets.limit({ ...compact, x: compact.x, y: compact.y }, 200);
    const got = await run(small.x, small.y, compact.x, compact.y);
    const want = await run(dense.x, dense.y, dense.x, dense.y);
    expect(got.loss).toEqual(want.loss);
    expect(got.evaluated).toEqual(want.evaluated);
    expect(got.predicted).toEqual(want.predicted);
    expect(got.weights).toEqual(want.weights);
    // Sparse labels as a float32 tensor of indices train as before too.
    const sparse = tensor(Float32Array.from(compact.labels), [200]);
    const m = smallModel(3, 'sparseCategoricalCrossentropy');
    const h = await m.fit(compact.x, sparse, { batchSize: 16, epochs: 1 });
    const m2 = smallModel(3, 'sparseCategoricalCrossentropy');
    const h2 = await m2.fit(dense.x, sparse, { batchSize: 16, epochs: 1 });
    expect(h.history.loss).toEqual(h2.history.loss);
    // Class-index storage stands for one-hot rows: a sparse loss refuses it as it refused them.
    await expect(m.fit(compact.x, compact.y, { epochs: 1 })).rejects.toThrow(ShapeError);
    [m, m2].forEach((x) => x.dispose());
    [compact, dense].forEach((d) => { d.x.dispose(); d.y.dispose(); });
    sparse.dispose();
  });

  it('datasets.limit keeps the storage; other ops read the float32 values', async () => {
    const { images, labels } = randomIdx(10, 4);
    const d = await datasets.idx({ images, labels, numClasses: 6 });
    const all = d.x.data();
    const first = datasets.limit(d, 3);
    expect([first.x.storage, first.y.storage, first.x.shape, first.y.shape]).toEqual(['uint8', 'classes', [3, 8, 8, 1], [3, 6]]);
    expect(first.x.data()).toEqual(all.subarray(0, 192));
    expect(d.x.isDisposed).toBe(true);
    // An op outside training reads the values the storage stands for.
    const model = new Sequential([layers.input({ shape: [8, 8, 1] }), layers.flatten()]);
    const flat = model.getLayer('flatten').apply(first.x) as Tensor;
    expect([flat.shape, flat.data()]).toEqual([[3, 64], all.subarray(0, 192)]);
    const product = matmul(byteTensor(Uint8Array.from([1, 2]), [1, 2], { scale: 1 }), oneHot([1, 0], 2));
    expect(Array.from(product.data())).toEqual([2, 1]);
    [first, flat, product, model].forEach((t) => t.dispose());
  });

  it('byteTensor and oneHot make compact tensors; bad input is a typed error', () => {
    const x = byteTensor(Uint8Array.from([0, 255, 51, 10, 20, 30]), [1, 2, 3]);
    expect(x.data()).toEqual(Float32Array.from([0, 1, 0.2, 10 / 255, 20 / 255, 30 / 255]));
    const std = byteTensor(Uint8Array.from([0, 10, 20, 255, 128, 1]), [2, 3], { mean: [0, 10, 100], std: [1, 2, 4] });
    expect(Array.from(std.data())).toEqual([0, 0, -20, 255, 59, -24.75]);
    const affine = byteTensor(Uint8Array.from([0, 2]), [2], { scale: 0.5, offset: -1 });
    expect(Array.from(affine.data())).toEqual([-1, 0]);
    const y = oneHot([2, 0], 3);
    expect([y.storage, y.shape, Array.from(y.data())]).toEqual(['classes', [2, 3], [0, 0, 1, 1, 0, 0]]);
    expect(() => byteTensor(new Uint8Array(5), [2, 3])).toThrow(ShapeError);
    expect(() => byteTensor(new Uint8Array(6), [2, 3], { mean: [0, 1] })).toThrow(/mean has 2 values; give one, or one per channel \(3\)/);
    expect(() => byteTensor(new Uint8Array(6), [2, 3], { std: 0 })).toThrow(ArgumentError);
    expect(() => byteTensor(new Uint8Array(6), [2, 3], { scale: 1, mean: 0 } as never)).toThrow(/not both/);
    expect(() => byteTensor(new Uint8Array(6), [2, 3], { scael: 1 } as never)).toThrow(/unknown option 'scael'/);
    expect(() => byteTensor([1, 2] as never, [2])).toThrow(ArgumentError);
    expect(() => oneHot([0, 3], 3)).toThrow(/label 3 at index 1 is out of range for 3 classes/);
    expect(() => oneHot([0, -1], 3)).toThrow(ArgumentError);
    expect(() => oneHot([0], 0)).toThrow(ArgumentError);
    [x, std, affine, y].forEach((t) => t.dispose());
    expect(() => x.storage).toThrow(StateError);
  });

  it('a scaling given to the loader applies as batches are read', async () => {
    const { images, labels, pixels } = randomIdx(4, 5);
    const d = await datasets.idx({ images, labels, scaling: { mean: 127.5, std: 127.5 } });
    expect(bits(d.x.data())).toEqual(bits(Float32Array.from(pixels, (b) => Math.fround((b - 127.5) / 127.5))));
    d.dispose();
    await expect(datasets.idx({ images, labels, scaling: 3 as never })).rejects.toThrow(ArgumentError);
    await expect(datasets.idx({ images, labels, scaling: { std: -1 } })).rejects.toThrow(/std -1 is not a positive number/);
  });
});

describe('loading', () => {
  it('a limit keeps the first examples', async () => {
    const { images, labels, pixels, classes } = randomIdx(20, 6);
    for (const [im, lb] of [[images, labels], [gzipSync(images), gzipSync(labels)]]) {
      const d = await datasets.idx({ images: im, labels: lb, limit: 5 });
      expect(d.x.shape).toEqual([5, 8, 8, 1]);
      expect(d.x.byteLength).toBe(5 * 64);
      expect(Array.from(d.labels)).toEqual(Array.from(classes.subarray(0, 5)));
      expect(bits(d.x.data())).toEqual(bits(Float32Array.from(pixels.subarray(0, 320), (b) => Math.fround(b / 255))));
      d.dispose();
    }
    for (const bad of [0, -1, 1.5, '3']) {
      await expect(datasets.idx({ images, labels, limit: bad as never })).rejects.toThrow(/datasets.idx: limit must be a positive integer/);
    }
    await expect(datasets.idx({ images, labels, limits: 3 } as never)).rejects.toThrow(/unknown option 'limits'/);
  });

  it('MNIST with limits reads only those rows', async () => {
    const { train, test } = await datasets.mnist({ trainLimit: 100, testLimit: 50 });
    expect([train.x.shape, test.x.shape, train.x.byteLength, test.y.byteLength]).toEqual([[100, 28, 28, 1], [50, 28, 28, 1], 100 * 784, 50 * 4]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    train.dispose();
    test.dispose();
    await expect(datasets.mnist({ trainLimit: 0 })).rejects.toThrow(/trainLimit must be a positive integer/);
  });

  it('a missing file or directory is a DataError naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'idx-'));
    const { images, labels } = randomIdx(3, 7);
    await expect(datasets.idx({ images: join(dir, 'missing'), labels })).rejects.toThrow(DataError);
    await expect(datasets.idx({ images: join(dir, 'missing'), labels })).rejects.toThrow(`no such file: ${join(dir, 'missing')}`);
    await expect(datasets.idx({ images: join(dir, 'nope', 'x'), labels })).rejects.toThrow(`(there is no directory ${join(dir, 'nope')})`);
    await expect(datasets.idx({ images: dir, labels })).rejects.toThrow(`cannot read ${dir}`);
    await expect(datasets.idx({ images: dir, labels })).rejects.toThrow(DataError);
    const none = join(dir, 'no-mnist');
    await expect(datasets.mnist({ location: none })).rejects.toThrow(DataError);
    await expect(datasets.mnist({ location: none })).rejects.toThrow(`neither ${none}/train-images-idx3-ubyte nor ${none}/train-images-idx3-ubyte.gz exists (there is no directory ${none})`);
    await expect(datasets.mnist({ location: dir })).rejects.toThrow(`neither ${dir}/train-images-idx3-ubyte nor`);
    await expect(datasets.idx({ images: 7 as never, labels })).rejects.toThrow(ArgumentError);
  });

  it('finds the gzip names MNIST is distributed under, and names a corrupt file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mnist-gz-'));
    const r = rng(8);
    const file = (n: number) => ({
      images: idxFile([n, 28, 28], Uint8Array.from({ length: n * 784 }, () => Math.floor(r() * 256))),
      labels: idxFile([n], Uint8Array.from({ length: n }, () => Math.floor(r() * 10))),
    });
    const [train, test] = [file(12), file(6)];
    await writeFile(join(dir, 'train-images-idx3-ubyte.gz'), gzipSync(train.images));
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), train.labels); // one plain, the others gzip
    await writeFile(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(test.images));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte.gz'), gzipSync(test.labels));
    const d = await datasets.mnist({ location: dir, trainLimit: 10 });
    expect([d.train.x.shape, d.test.x.shape, d.train.numClasses]).toEqual([[10, 28, 28, 1], [6, 28, 28, 1], 10]);
    expect(Array.from(d.test.labels)).toEqual(Array.from(test.labels.subarray(8)));
    d.train.dispose();
    d.test.dispose();
    // Truncated: the error names the file that was read.
    await writeFile(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(test.images.subarray(0, 1000)));
    await expect(datasets.mnist({ location: dir })).rejects.toThrow(`${dir}/t10k-images-idx3-ubyte.gz: truncated`);
    await writeFile(join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(test.images).subarray(0, 50));
    await expect(datasets.mnist({ location: dir })).rejects.toThrow(`${dir}/t10k-images-idx3-ubyte.gz: corrupt gzip data`);
  });
});

describe('memory', () => {
  it('a disposed data set frees its memory for the next one', async () => {
    const load = async () => datasets.mnist({ trainLimit: 3000, testLimit: 1000 });
    (await load()).train.dispose();
    // Warm up, then loading and disposing again needs no new memory.
    const first = await load();
    first.train.dispose();
    first.test.dispose();
    const before = diagnostics.wasmMemoryBytes();
    for (let i = 0; i < 3; i++) {
      const again = await load();
      again.train.dispose();
      again.test.dispose();
    }
    expect(diagnostics.wasmMemoryBytes()).toBe(before);
  });

  it('WASM memory does not grow after the first epoch of MNIST training', async () => {
    const { train, test } = await datasets.mnist({ trainLimit: 2000, testLimit: 500 });
    const model = new Sequential([
      layers.input({ shape: [28, 28, 1] }),
      layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 10, activation: 'softmax' }),
    ], { seed: 2 });
    model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const sizes: number[] = [];
    await model.fit(train.x, train.y, {
      batchSize: 128, epochs: 4, validationData: [test.x, test.y],
      callbacks: { onEpochEnd: () => void sizes.push(diagnostics.wasmMemoryBytes()) },
    });
    expect(sizes.every((s) => s === sizes[0]), `WASM memory per epoch: ${sizes}`).toBe(true);
    model.dispose();
    train.dispose();
    test.dispose();
  });
});
