import { describe, expect, it, vi } from 'vitest';
import {
  layers, Sequential, optimizers, datasets, tensor, byteTensor, oneHot, diagnostics, RowBatch, tidy,
  ShapeError, ArgumentError, DataError, NumericError, type Tensor,
} from 'ballast';
import { rng } from './reference.js';
import './build.js';

const FEATURES = 6;
const CLASSES = 3;

function smallModel(): Sequential {
  const model = new Sequential([
    layers.input({ shape: [FEATURES] }),
    layers.dense({ units: 8, activation: 'relu' }),
    layers.batchNormalization(),
    layers.dense({ units: CLASSES, activation: 'softmax' }),
  ], { seed: 3 });
  model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return model;
}

/** `n` examples as plain arrays: features and one-hot labels. */
function plainData(n: number, seed: number): { x: Float32Array; y: Float32Array } {
  const r = rng(seed);
  const x = Float32Array.from({ length: n * FEATURES }, () => r() * 2 - 1);
  const y = new Float32Array(n * CLASSES);
  for (let i = 0; i < n; i++) y[i * CLASSES + Math.floor(r() * CLASSES)] = 1;
  return { x, y };
}

function tensors(n: number, seed: number): { x: Tensor; y: Tensor } {
  const { x, y } = plainData(n, seed);
  return { x: tensor(x, [n, FEATURES]), y: tensor(y, [n, CLASSES]) };
}

const weightsOf = (m: Sequential) => m.getWeights().map((w) => Array.from(w.values));

/** Batches of `size` rows of plain data, as a generator function would yield them. */
function* plainBatches(data: { x: Float32Array; y: Float32Array }, size: number) {
  const n = data.y.length / CLASSES;
  for (let i = 0; i < n; i += size) {
    const end = Math.min(i + size, n);
    yield { xs: data.x.slice(i * FEATURES, end * FEATURES), ys: { values: data.y.slice(i * CLASSES, end * CLASSES), shape: [end - i, CLASSES] } };
  }
}

describe('fitDataset trains as fit does', () => {
  it('fromArrays(...).batch gives the weights and history of fit on the same batches', async () => {
    const { x, y } = tensors(48, 1);
    const a = smallModel();
    const b = smallModel();
    const v = tensors(12, 12);
    const common = { epochs: 3, verbose: 0 as const, classWeight: { 1: 2.5 }, validationData: [v.x, v.y] as [Tensor, Tensor], validationBatchSize: 5 };
    const viaFit = await a.fit(x, y, { batchSize: 8, shuffle: false, ...common });
    const ds = datasets.fromArrays(x, y).batch(8);
    const first = (await ds.take(1).toArray())[0];
    expect(first).toBeInstanceOf(RowBatch); // rows for the core's gather, no copy
    expect(first.xs.shape).toEqual([8, FEATURES]);
    const seen: number[] = [];
    const viaDataset = await b.fitDataset(ds, { ...common, callbacks: { onBatchEnd: (_b, logs) => { seen.push(logs.size!); } } });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(viaDataset.history.loss).toEqual(viaFit.history.loss);
    expect(viaDataset.history.accuracy).toEqual(viaFit.history.accuracy);
    expect(viaDataset.history.val_loss).toEqual(viaFit.history.val_loss);
    expect(viaDataset.history.val_loss).toHaveLength(3);
    expect(seen).toEqual(new Array(18).fill(8));
    a.dispose();
    b.dispose();
    x.dispose();
    y.dispose();
  });

  it('a last lone row joins the batch before it, as in fit (BatchNormalization cannot train on one example)', async () => {
    const { x, y } = tensors(9, 5);
    const sizes = (await datasets.fromArrays(x, y).batch(4).toArray()).map((b) => b.size);
    expect(sizes).toEqual([4, 5]);
    const a = smallModel();
    const b = smallModel();
    await a.fit(x, y, { batchSize: 4, shuffle: false, epochs: 2, verbose: 0 });
    await b.fitDataset(datasets.fromArrays(x, y).batch(4), { epochs: 2, verbose: 0 });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect((await datasets.fromArrays(x, y).batch(3).toArray()).map((r) => r.size)).toEqual([3, 3, 3]);
    a.dispose();
    b.dispose();
  });

  it('fit(dataset) is Keras\' form of fitDataset: stepsPerEpoch as batchesPerEpoch, batching left to the dataset', async () => {
    const { x, y } = tensors(32, 8);
    const ds = datasets.fromArrays(x, y).batch(8).repeat();
    const a = smallModel();
    const b = smallModel();
    await a.fitDataset(ds, { epochs: 2, batchesPerEpoch: 3, verbose: 0 });
    const h = await b.fit(ds, { epochs: 2, stepsPerEpoch: 3, verbose: 0 });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(h.epoch).toEqual([0, 1]);
    await expect(b.fit(ds, { batchSize: 4 })).rejects.toThrow(/fit: batchSize does not apply to a dataset/);
    a.dispose();
    b.dispose();
  });

  it('compact tensors (u8 images, class indices) stream through the gather as fit reads them', async () => {
    const r = rng(5);
    const n = 32;
    const bytes = Uint8Array.from({ length: n * FEATURES }, () => Math.floor(r() * 256));
    const labels = Uint32Array.from({ length: n }, () => Math.floor(r() * CLASSES));
    const x = byteTensor(bytes, [n, FEATURES]);
    const y = oneHot(labels, CLASSES);
    const a = smallModel();
    const b = smallModel();
    await a.fit(x, y, { batchSize: 16, epochs: 2, shuffle: false, verbose: 0 });
    await b.fitDataset(datasets.fromArrays({ xs: x, ys: y }).batch(16), { epochs: 2, verbose: 0 });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    a.dispose();
    b.dispose();
  });

  it('a generator of plain batches, with validation from another dataset, matches fit and evaluate', async () => {
    const train = plainData(40, 2);
    const val = plainData(20, 3);
    const a = smallModel();
    const b = smallModel();
    const fitted = await a.fit({ values: train.x, shape: [40, FEATURES] }, { values: train.y, shape: [40, CLASSES] }, {
      batchSize: 10, epochs: 2, shuffle: false, verbose: 0, validationData: [{ values: val.x, shape: [20, FEATURES] }, { values: val.y, shape: [20, CLASSES] }], validationBatchSize: 5,
    });
    const slow = datasets.fromGenerator(async function* () {
      for (const batch of plainBatches(train, 10)) {
        await new Promise((resolve) => setTimeout(resolve, 1)); // a source that waits (a file, the network)
        yield batch;
      }
    });
    const streamed = await b.fitDataset(slow, { epochs: 2, verbose: 0, validationData: datasets.fromGenerator(() => plainBatches(val, 5)) });
    expect(weightsOf(b)).toEqual(weightsOf(a));
    expect(streamed.history.val_loss).toEqual(fitted.history.val_loss);
    expect(streamed.epoch).toEqual([0, 1]);
    a.dispose();
    b.dispose();
  });

  it('the next batch is requested before the current one has trained', async () => {
    const data = plainData(12, 6);
    const events: string[] = [];
    const model = smallModel();
    await model.fitDataset(datasets.fromGenerator(async function* () {
      let i = 0;
      for (const batch of plainBatches(data, 4)) {
        events.push(`made ${i++}`);
        yield batch;
      }
    }), { verbose: 0, callbacks: { onBatchEnd: (b) => { events.push(`trained ${b}`); } } });
    expect(events).toEqual(['made 0', 'made 1', 'trained 0', 'made 2', 'trained 1', 'trained 2']);
    model.dispose();
  });

  it('batchesPerEpoch runs one iterator across epochs; running out warns and stops as TF.js', async () => {
    const data = plainData(30, 4);
    const model = smallModel();
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const counts: number[] = [];
    const h = await model.fitDataset(datasets.fromGenerator(() => plainBatches(data, 6)), {
      epochs: 3, batchesPerEpoch: 2, verbose: 0, callbacks: { onEpochEnd: () => { counts.push(0); }, onBatchEnd: () => { counts[counts.length] = 1; } },
    });
    // 5 batches: 2 + 2, then 1 before the data runs out in the third epoch
    expect(h.epoch).toEqual([0, 1, 2]);
    expect(counts.filter((c) => c === 1)).toHaveLength(5);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/batchesPerEpoch is 2, but the dataset ran out after 1 batches in epoch 2/);
    warn.mockRestore();
    model.dispose();
  });
});

describe('datasets: fromArrays, fromGenerator and the tf.data operations', () => {
  it('shuffle is a seeded permutation, new each iteration; take, repeat, map and batch compose', async () => {
    const xs = Float32Array.from({ length: 20 }, (_, i) => i);
    const ys = Float32Array.from({ length: 20 }, (_, i) => i * 10);
    const ds = datasets.fromArrays({ values: xs, shape: [20, 1] }, ys);
    const ids = async (d: AsyncIterable<{ xs: { values: Float32Array } }>) => {
      const out: number[] = [];
      for await (const e of d) out.push(...e.xs.values);
      return out;
    };
    const shuffled = ds.shuffle(20, 7);
    const one = await ids(shuffled);
    const two = await ids(shuffled);
    expect([...one].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(one).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(two).not.toEqual(one); // reshuffled each epoch
    expect(await ids(ds.shuffle(20, 7))).toEqual(one); // same seed, same orders
    expect(await ids(ds.shuffle(4, 7))).toHaveLength(20);
    expect(await ids(ds.take(3).repeat(2))).toEqual([0, 1, 2, 0, 1, 2]);
    const batches = await ds.take(5).batch(2).toArray();
    // A last lone row joins the batch before it, as in fit.
    expect(batches.map((b) => Array.from(b.rows))).toEqual([[0, 1], [2, 3, 4]]);
    expect(Array.from(batches[1].ys.values)).toEqual([20, 30, 40]);
    const mapped = await ds.take(4).map((e) => ({ xs: e.xs, ys: Float32Array.of(e.ys.values[0] + 1) })).batch(3).toArray();
    expect(mapped[0].xs.shape).toEqual([3, 1]);
    expect(Array.from(mapped[0].ys.values)).toEqual([1, 11, 21]);
    expect(await datasets.fromGenerator(function* () { yield* [1, 2, 3]; }).batch(2).toArray()).toEqual([
      { values: Float32Array.of(1, 2), shape: [2] }, { values: Float32Array.of(3), shape: [1] },
    ]);
    ds.dispose();
    await expect(ds.toArray()).rejects.toThrow(/dispose/);
  });

  it('a dataset returned from tidy keeps its tensors (tidy disposes only what nothing returned holds)', async () => {
    const ds = tidy(() => datasets.fromArrays([[1, 2], [3, 4], [5, 6]], [[1], [2], [3]]));
    const rows = await ds.batch(3).toArray();
    expect(Array.from(rows[0].ys.values)).toEqual([1, 2, 3]);
    ds.dispose();
    await expect(ds.toArray()).rejects.toThrow(/dataset used after dispose/);
  });

  it('refuses bad arguments with typed errors', async () => {
    expect(() => datasets.fromArrays({ values: new Float32Array(6), shape: [3, 2] }, new Float32Array(4))).toThrow(ShapeError);
    expect(() => datasets.fromArrays(5 as never)).toThrow(ArgumentError);
    expect(() => datasets.fromGenerator(3 as never)).toThrow(ArgumentError);
    const ds = datasets.fromGenerator(function* () { yield 1; });
    expect(() => ds.batch(0)).toThrow(ArgumentError);
    expect(() => ds.shuffle(-1)).toThrow(ArgumentError);
    expect(() => ds.take(1.5)).toThrow(ArgumentError);
    expect(() => ds.map(null as never)).toThrow(ArgumentError);
    await expect(datasets.fromGenerator(function* () { yield [1, 2]; yield [1]; }).batch(2).toArray()).rejects.toThrow(/element 1 has shape \[1\] where element 0 has \[2\]/);
    await expect(datasets.fromGenerator((() => 4) as never).toArray()).rejects.toThrow(DataError);
  });

  it('validation options that do not fit the validation data, and bad validation labels, are refused before anything trains', async () => {
    const { x, y } = tensors(16, 4);
    const model = smallModel();
    const before = weightsOf(model);
    const ds = datasets.fromArrays(x, y).batch(8);
    await expect(model.fitDataset(ds, { verbose: 0, validationData: [x, y], validationBatches: 2 })).rejects.toThrow(/validationBatches is for a validation dataset/);
    await expect(model.fitDataset(ds, { verbose: 0, validationData: ds, validationBatchSize: 4 })).rejects.toThrow(/validationBatchSize is for validationData \[x, y\]/);
    // Labels of the wrong width for the loss: the core refuses them on one example, up front.
    const wrong = tensor(new Float32Array(16 * 2), [16, 2]);
    await expect(model.fitDataset(ds, { verbose: 0, validationData: [x, wrong] })).rejects.toThrow(ShapeError);
    expect(weightsOf(model)).toEqual(before);
    wrong.dispose();
    model.dispose();
  });
});

describe('fitDataset: bad batches are refused, naming the batch, with the model as the batches before left it', () => {
  const good = plainData(8, 9);
  const goodBatch = () => ({ xs: good.x.slice(0, 4 * FEATURES), ys: { values: good.y.slice(0, 4 * CLASSES), shape: [4, CLASSES] } });

  async function refused(bad: () => unknown, error: new (...a: never[]) => Error, message: RegExp): Promise<void> {
    const reference = smallModel();
    await reference.fitDataset([goodBatch(), goodBatch()], { verbose: 0 });
    const model = smallModel();
    const gen = datasets.fromGenerator(function* () {
      yield goodBatch();
      yield goodBatch();
      yield bad();
      yield goodBatch();
    });
    const err = await model.fitDataset(gen, { verbose: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(error);
    expect((err as Error).message).toMatch(message);
    expect(weightsOf(model)).toEqual(weightsOf(reference));
    reference.dispose();
    model.dispose();
  }

  it('wrong shape, wrong row count, wrong label width', async () => {
    await refused(() => ({ xs: { values: new Float32Array(4 * 5), shape: [4, 5] }, ys: goodBatch().ys }), ShapeError, /epoch 0 batch 2.*\[4, 5\].*\[n, 6\]/);
    await refused(() => ({ xs: goodBatch().xs, ys: { values: new Float32Array(3 * CLASSES), shape: [3, CLASSES] } }), ShapeError, /epoch 0 batch 2: x has 4 examples but y has 3/);
    await refused(() => ({ xs: goodBatch().xs, ys: { values: new Float32Array(4 * 2), shape: [4, 2] } }), ShapeError, /epoch 0 batch 2/);
  });

  it('wrong dtype, not a batch, an empty batch', async () => {
    await refused(() => ({ xs: new BigInt64Array(24), ys: goodBatch().ys }), ArgumentError, /epoch 0 batch 2: xs must be .*BigInt/);
    await refused(() => ({ xs: [['a']], ys: goodBatch().ys }), ArgumentError, /epoch 0 batch 2.*must be a number/);
    await refused(() => [goodBatch().xs, goodBatch().ys], ArgumentError, /epoch 0 batch 2: a batch must be \{ xs, ys \}/);
    await refused(() => ({ xs: { values: new Float32Array(0), shape: [0, FEATURES] }, ys: { values: new Float32Array(0), shape: [0, CLASSES] } }), ShapeError, /epoch 0 batch 2: an empty batch/);
  });

  it('NaN is a NumericError naming the batch', async () => {
    await refused(() => ({ xs: new Float32Array(4 * FEATURES).fill(NaN), ys: goodBatch().ys }), NumericError, /epoch 0 batch 2/);
  });

  it('a generator that throws is a DataError naming the batch, its error the cause', async () => {
    const cause = new Error('camera unplugged');
    await refused(() => { throw cause; }, DataError, /epoch 0 batch 2: the dataset threw while producing it: camera unplugged/);
    const model = smallModel();
    const err = (await model.fitDataset(datasets.fromGenerator(function* () { throw cause; }), { verbose: 0 }).catch((e: unknown) => e)) as Error;
    expect(err.cause).toBe(cause);
    model.dispose();
  });

  it('a generator object iterates once: the second epoch is a DataError saying so; options are TF.js names', async () => {
    const model = smallModel();
    const once = plainBatches(good, 4);
    await expect(model.fitDataset(once, { epochs: 2, verbose: 0 })).rejects.toThrow(/no batches in epoch 1.*iterated once/);
    await expect(model.fitDataset([goodBatch()], { stepsPerEpoch: 1 } as never)).rejects.toThrow(/unknown option 'stepsPerEpoch'/);
    await expect(model.fitDataset(goodBatch() as never)).rejects.toThrow(ArgumentError);
    await expect(model.fitDataset([goodBatch()], { validationData: [goodBatch().xs] as never })).rejects.toThrow(ArgumentError);
    model.dispose();
  });
});

it('WASM memory stays flat over many streamed batches (each batch freed after its step)', async () => {
  // Wide rows, so that keeping each batch (64 KiB of inputs) would grow memory by 19 MiB.
  const width = 256;
  const model = new Sequential([layers.input({ shape: [width] }), layers.dense({ units: CLASSES, activation: 'softmax' })], { seed: 1 });
  model.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  const r = rng(11);
  const xs = Float32Array.from({ length: 64 * width }, () => r());
  const ys = new Float32Array(64 * CLASSES).fill(1 / CLASSES);
  let at20 = 0;
  let batches = 0;
  await model.fitDataset(datasets.fromGenerator(function* () { for (let i = 0; i < 300; i++) yield { xs, ys }; }), {
    verbose: 0, callbacks: { onBatchEnd: (b) => { batches++; if (b === 19) at20 = diagnostics.wasmMemoryBytes(); } },
  });
  expect(batches).toBe(300);
  expect(at20).toBeGreaterThan(0);
  expect(diagnostics.wasmMemoryBytes()).toBe(at20); // no growth after the 20th batch
  model.dispose();
});
