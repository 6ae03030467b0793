// The preprocessing layers from TypeScript: `rescaling` in every mode, the random
// augmentations in training only (inference passes the input through), each checked against a
// straightforward reference for fixed parameters, seeded draws repeating across models, a
// model that trains through them and round-trips their configs, and bad options refused with
// the option named.
import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layers, Sequential, optimizers, tensor, loadModel, datasets, diagnostics, ArgumentError, DataError, ShapeError, type Layer, type Tensor } from 'ballast';
import { rng } from './reference.js';
import { env } from './build.js';

/** `n` images of `h`×`w`×`c` with distinct values 0, 1, 2, ... */
function ramp(n: number, h: number, w: number, c = 1): Tensor {
  return tensor(Float32Array.from({ length: n * h * w * c }, (_, i) => i), [n, h, w, c]);
}

/** `layer` alone in a model on images of `shape`, applied in training or inference mode. */
async function applied(layer: Layer, x: Tensor, training: boolean): Promise<Float32Array> {
  const model = new Sequential([layers.input({ shape: x.shape.slice(1) }), layer], { seed: 3 });
  const out = layer.apply(x, { training });
  const values = await out.data();
  out.dispose();
  model.dispose();
  return values;
}

describe('preprocessing layers', () => {
  it('rescaling maps x to x * scale + offset in training and inference alike', async () => {
    const x = ramp(2, 2, 2);
    const expected = Float32Array.from(await x.data(), (v) => v / 255 - 0.5);
    const model = new Sequential([layers.input({ shape: [2, 2, 1] }), layers.rescaling({ scale: 1 / 255, offset: -0.5 })]);
    const out = await model.predict(x);
    expect(Array.from(await out.data())).toEqual(Array.from(expected));
    // The core holds options as float32: 1 / 255 comes back as float32 writes it.
    expect(model.getLayer('rescaling').config).toEqual({ scale: 0.003921569, offset: -0.5 });
    model.dispose();
  });

  it('resizing halves with half-pixel centres; randomCrop cuts a window in training and resizes in inference', async () => {
    // 4x4 to 2x2: each output pixel is the mean of a 2x2 block.
    const x = ramp(1, 4, 4);
    const model = new Sequential([layers.input({ shape: [4, 4, 1] }), layers.resizing({ height: 2, width: 2 })]);
    expect(model.outputShape).toEqual([2, 2, 1]);
    expect(Array.from(await (await model.predict(x)).data())).toEqual([2.5, 4.5, 10.5, 12.5]);
    expect(model.getLayer('resizing').config).toEqual({ height: 2, width: 2, interpolation: 'bilinear', cropToAspectRatio: false, padToAspectRatio: false, fillMode: 'constant', fillValue: 0 });
    model.dispose();
    const crop = await applied(layers.randomCrop({ height: 2, width: 2, seed: 1 }), x, true);
    const [top, left] = [Math.floor(crop[0] / 4), crop[0] % 4];
    expect(Array.from(crop)).toEqual([0, 1, 4, 5].map((d) => top * 4 + left + d));
    expect(Array.from(await applied(layers.randomCrop({ height: 2, width: 2 }), x, false))).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it('the augmentations pass the input through in inference, and change it in training', async () => {
    const x = ramp(3, 5, 5, 2);
    const input = await x.data();
    const made: Array<() => Layer> = [
      () => layers.randomFlip({ seed: 1 }),
      () => layers.randomTranslation({ heightFactor: 0.3, widthFactor: 0.3, seed: 1 }),
      () => layers.randomRotation({ factor: 0.2, seed: 1 }),
      () => layers.randomZoom({ heightFactor: 0.3, seed: 1 }),
      () => layers.randomBrightness({ factor: 0.3, seed: 1 }),
      () => layers.randomContrast({ factor: 0.5, seed: 1 }),
    ];
    for (const make of made) {
      expect(Array.from(await applied(make(), x, false))).toEqual(Array.from(input));
      const trained = await applied(make(), x, true);
      expect(trained.length).toBe(input.length);
      expect(trained.some((v, i) => Math.abs(v - input[i]) > 1e-3), make().className).toBe(true);
    }
  });

  it('a quarter turn is counter-clockwise and a zoom of 2 reads the centre at half the step', async () => {
    const x = ramp(1, 3, 3);
    const turned = await applied(layers.randomRotation({ factor: [0.25, 0.25], fillMode: 'constant' }), x, true);
    // numpy's rot90: the first row becomes the last column read upwards.
    expect(Array.from(turned, Math.round)).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    // heightFactor -0.5: a zoom of 0.5, zooming in about the centre (1, 1).
    const zoomed = await applied(layers.randomZoom({ heightFactor: [-0.5, -0.5] }), x, true);
    expect(Array.from(zoomed)).toEqual([2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6]);
  });

  it('a fixed translation moves the rows down and fills with fillValue; a flip mirrors', async () => {
    // 4 rows: a shift of a quarter of the height is one row down.
    const x = ramp(1, 4, 3);
    const shifted = await applied(
      layers.randomTranslation({ heightFactor: [0.25, 0.25], widthFactor: 0, fillMode: 'constant', fillValue: -1 }), x, true);
    expect(Array.from(shifted)).toEqual([-1, -1, -1, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    // A horizontal flip either leaves each image or mirrors its rows; with 16 images both occur.
    const many = ramp(16, 2, 3);
    const flipped = await applied(layers.randomFlip({ mode: 'horizontal', seed: 5 }), many, true);
    const input = await many.data();
    let mirrored = 0;
    for (let n = 0; n < 16; n++) {
      const img = Array.from(flipped.subarray(n * 6, n * 6 + 6));
      const orig = Array.from(input.subarray(n * 6, n * 6 + 6));
      const mirror = [orig[2], orig[1], orig[0], orig[5], orig[4], orig[3]];
      if (img.every((v, i) => v === mirror[i])) mirrored++;
      else expect(img).toEqual(orig);
    }
    expect(mirrored).toBeGreaterThan(0);
    expect(mirrored).toBeLessThan(16);
  });

  it('brightness is clipped to the value range; a seed repeats the draws in another model', async () => {
    const x = tensor(Float32Array.from([0, 100, 200, 255]), [1, 2, 2, 1]);
    const bright = await applied(layers.randomBrightness({ factor: [0.5, 0.5] }), x, true);
    expect(Array.from(bright)).toEqual([127.5, 227.5, 255, 255]);
    const images = ramp(4, 6, 6);
    const a = await applied(layers.randomRotation({ factor: 0.25, seed: 9 }), images, true);
    const b = await applied(layers.randomRotation({ factor: 0.25, seed: 9 }), images, true);
    const c = await applied(layers.randomRotation({ factor: 0.25, seed: 10 }), images, true);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it.skipIf(env.threads < 2)('a seed gives the same images on one thread as on the whole pool', async () => {
    const x = ramp(16, 12, 12, 3);
    const draw = async () => {
      const out: number[][] = [];
      for (const make of [
        () => layers.randomRotation({ factor: 0.3, seed: 3 }),
        () => layers.randomZoom({ heightFactor: [-0.3, 0.3], widthFactor: 0.2, seed: 3 }),
        () => layers.randomContrast({ factor: 0.4, seed: 3 }),
      ]) out.push(Array.from(await applied(make(), x, true)));
      return out;
    };
    try {
      diagnostics.setThreadLimit(1);
      const one = await draw();
      diagnostics.setThreadLimit(0);
      expect(await draw()).toEqual(one);
    } finally {
      diagnostics.setThreadLimit(0);
    }
  });

  it('a model with augmentation trains, predicts deterministically and saves its augmentation configs', async () => {
    const r = rng(4);
    const n = 64;
    const xs = new Float32Array(n * 64);
    const ys = new Float32Array(n * 2);
    for (let i = 0; i < n; i++) {
      const cls = i % 2;
      ys[i * 2 + cls] = 1;
      // Class 1 is bright in the middle, class 0 dark: still true after a small move.
      for (let j = 0; j < 64; j++) {
        const [row, col] = [Math.floor(j / 8), j % 8];
        const centre = row >= 2 && row < 6 && col >= 2 && col < 6;
        xs[i * 64 + j] = r() * 60 + (centre && cls === 1 ? 180 : 0);
      }
    }
    const x = tensor(xs, [n, 8, 8, 1]);
    const y = tensor(ys, [n, 2]);
    const model = new Sequential([
      layers.input({ shape: [8, 8, 1] }),
      layers.rescaling({ scale: 1 / 255 }),
      layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, seed: 2 }),
      layers.randomRotation({ factor: 0.05, fillMode: 'nearest' }),
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 2, activation: 'softmax' }),
    ], { seed: 1 });
    model.compile({ optimizer: optimizers.adam({ learningRate: 3e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const { history } = await model.fit(x, y, { batchSize: 16, epochs: 15 });
    expect(history.loss[history.loss.length - 1]).toBeLessThan(0.6 * history.loss[0]);
    // In inference the augmentations pass images through: the same network without them,
    // given the trained weights, predicts the same.
    const p1 = await (await model.predict(x)).data();
    const plain = new Sequential([
      layers.input({ shape: [8, 8, 1] }),
      layers.rescaling({ scale: 1 / 255 }),
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.globalAveragePooling2d(),
      layers.dense({ units: 2, activation: 'softmax' }),
    ]);
    plain.setWeights(model.getWeights());
    expect(Array.from(await (await plain.predict(x)).data())).toEqual(Array.from(p1));
    plain.dispose();

    const dir = await mkdtemp(join(tmpdir(), 'ballast-augment-'));
    await model.save(dir);
    const loaded = await loadModel(dir);
    expect(loaded.getLayer('random_translation').config).toEqual(model.getLayer('random_translation').config);
    expect(loaded.getLayer('random_rotation').config).toMatchObject({ factor: [-0.05, 0.05], fillMode: 'nearest', seed: null });
    expect(Array.from(await (await loaded.predict(x)).data())).toEqual(Array.from(p1));
    model.dispose();
    loaded.dispose();
  });

  it('refuses bad options with an ArgumentError naming the layer and the option', () => {
    const refused = (make: () => unknown, message: RegExp) => {
      expect(make).toThrow(ArgumentError);
      expect(make).toThrow(message);
    };
    refused(() => layers.rescaling({} as { scale: number }), /Rescaling: option 'scale' is required/);
    refused(() => layers.randomTranslation({ heightFactor: 1.5, widthFactor: 0 }), /option 'heightFactor' must lie in \[-1, 1\]/);
    refused(() => layers.randomRotation({ factor: 0.1, fillMode: 'mirror' as 'wrap' }), /option 'fillMode'/);
    refused(() => layers.randomZoom({ heightFactor: [-1.5, 0.2] }), /option 'heightFactor'/);
    refused(() => layers.randomBrightness({ factor: 0.1, valueRange: [1, 0] }), /option 'valueRange'/);
    refused(() => layers.randomContrast({ factor: 1.5 }), /option 'factor'/);
    refused(() => layers.randomFlip({ mode: 'diagonal' as 'vertical' }), /option 'mode'/);
    refused(() => layers.randomFlip({ seed: 1.5 }), /option 'seed' must be a non-negative integer/);
    refused(() => layers.randomFlip({ sed: 1 } as object), /sed/);
    refused(() => layers.resizing({ height: 0, width: 2 }), /options 'height' and 'width' must be at least 1/);
    refused(() => layers.randomCrop({ height: 2 } as { height: number; width: number }), /option 'width' is required/);
    const flat = () => new Sequential([layers.input({ shape: [28, 28] }), layers.randomFlip()]);
    expect(flat).toThrow(/\[batch, height, width, channels\]/);
  });
});

describe('normalization', () => {
  /** `n` examples of 3 features: feature j is (i * 7 % 11) * (j + 1) + 10 j. */
  function features(n: number): Float32Array {
    return Float32Array.from({ length: n * 3 }, (_, k) => {
      const [i, j] = [Math.floor(k / 3), k % 3];
      return ((i * 7) % 11) * (j + 1) + 10 * j;
    });
  }
  /** The mean and population variance of each feature, in float64. */
  function moments(x: Float32Array, f: number): { mean: number[]; variance: number[] } {
    const n = x.length / f;
    const mean = Array.from({ length: f }, (_, j) => x.filter((_, k) => k % f === j).reduce((a, b) => a + b, 0) / n);
    const variance = mean.map((m, j) => x.filter((_, k) => k % f === j).reduce((a, v) => a + (v - m) ** 2, 0) / n);
    return { mean, variance };
  }

  it('adapts to data before the model is built: its weights are the per-feature moments, its outputs standardized', async () => {
    const data = features(40);
    const norm = layers.normalization();
    await norm.adapt(tensor(data, [40, 3]));
    const model = new Sequential([layers.input({ shape: [3] }), norm]);
    const want = moments(data, 3);
    const w = norm.weights();
    want.mean.forEach((m, j) => expect(w.mean.values[j]).toBeCloseTo(m, 4));
    want.variance.forEach((v, j) => expect(w.variance.values[j]).toBeCloseTo(v, 3));
    const out = await (await model.predict(tensor(data, [40, 3]))).data();
    const got = moments(out, 3);
    got.mean.forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    got.variance.forEach((v) => expect(v).toBeCloseTo(1, 4));

    // Saved and loaded, the adapted statistics come back as weights.
    const dir = await mkdtemp(join(tmpdir(), 'ballast-normalization-'));
    await model.save(dir);
    const loaded = await loadModel(dir);
    expect(Array.from(await (await loaded.predict(tensor(data, [40, 3]))).data())).toEqual(Array.from(out));
    expect(loaded.getLayer('normalization').config).toEqual({ axis: [-1], mean: null, variance: null, invert: false });
    model.dispose();
    loaded.dispose();
  });

  it('adapts batch by batch from a dataset as from the whole tensor, and after the model is built', async () => {
    const data = features(50);
    const whole = layers.normalization();
    await whole.adapt(tensor(data, [50, 3]));
    const streamed = layers.normalization();
    const batches = datasets.fromGenerator(function* () {
      for (const [a, b] of [[0, 7], [7, 8], [8, 50]]) yield { values: data.slice(a * 3, b * 3), shape: [b - a, 3] };
    });
    const model = new Sequential([layers.input({ shape: [3] }), streamed]);
    // Before adapting, the layer is the identity (mean 0, variance 1).
    expect(Array.from(await (await model.predict(tensor(data.slice(0, 3), [1, 3]))).data())).toEqual(Array.from(data.slice(0, 3)));
    await streamed.adapt(batches);
    const reference = new Sequential([layers.input({ shape: [3] }), whole]);
    const [a, b] = [streamed.weights(), whole.weights()];
    for (const k of ['mean', 'variance']) {
      Array.from(a[k].values).forEach((v, j) => expect(v).toBeCloseTo(b[k].values[j], 4));
    }
    model.dispose();
    reference.dispose();
  });

  it('takes a given mean and variance per axis, and inverts', async () => {
    const x = tensor(Float32Array.from({ length: 12 }, (_, i) => i), [2, 2, 3, 1]);
    // axis 1: one mean and variance per row.
    const model = new Sequential([
      layers.input({ shape: [2, 3, 1] }),
      layers.normalization({ axis: 1, mean: [1, 2], variance: [4, 16] }),
      layers.normalization({ axis: 1, mean: [1, 2], variance: [4, 16], invert: true }),
    ]);
    const there = await (await model.getLayer('normalization').apply(x)).data();
    expect(Array.from(there.slice(0, 6))).toEqual([-0.5, 0, 0.5, 0.25, 0.5, 0.75]);
    expect(Array.from(await (await model.predict(x)).data())).toEqual(Array.from(await x.data()));
    model.dispose();
  });

  it('refuses what it cannot adapt to, changing nothing', async () => {
    await expect(layers.dense({ units: 2 }).adapt(tensor([1, 2], [1, 2]))).rejects.toThrow(/Dense has nothing to adapt/);
    await expect(layers.normalization({ mean: 0, variance: 1 }).adapt(tensor([1, 2], [1, 2]))).rejects.toThrow(/cannot adapt/);
    const norm = layers.normalization();
    await expect(norm.adapt(tensor(Float32Array.of(1, NaN), [1, 2]))).rejects.toThrow(DataError);
    const mixed = [tensor([1, 2], [1, 2]), tensor([1, 2, 3], [1, 3])];
    await expect(norm.adapt(mixed)).rejects.toThrow(ShapeError);
    await expect(norm.adapt([])).rejects.toThrow(/held no batches/);
    await expect(norm.adapt([5])).rejects.toThrow(/element 0 of the data is number 5/);
    await expect(norm.adapt(null as unknown as Tensor)).rejects.toThrow(ArgumentError);
    expect(norm.adapted).toBeUndefined();
    // Adapted to 2 features, then built on 3: the model is refused, naming the weight, and
    // the layer can still go into a model it fits.
    await norm.adapt(tensor([1, 2, 3, 5], [2, 2]));
    expect(() => new Sequential([layers.input({ shape: [3] }), norm])).toThrow(/normalization\/mean/);
    const fits = new Sequential([layers.input({ shape: [2] }), norm]);
    expect(Array.from(norm.weights().mean.values)).toEqual([2, 3.5]);
    fits.dispose();
    expect(() => layers.normalization({ mean: 1 })).toThrow(/'mean' and 'variance' are given together/);
    expect(() => new Sequential([layers.input({ shape: [4] }), layers.normalization({ axis: 2 })])).toThrow(/option 'axis': 2 is out of range/);
  });
});
