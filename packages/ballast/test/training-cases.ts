// The training toolkit: losses and metrics computed in the core (checked here against plain
// JavaScript on the model's own predictions), Keras' names in the logs and the history,
// fit's options (validationSplit, initialEpoch, classWeight, sampleWeight, stepsPerEpoch,
// stopTraining), the standard callbacks, and the errors for options that cannot work. Run on
// the threaded build (threads.test.ts) and on the SIMD-only build (simd.test.ts).
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  layers, Sequential, optimizers, schedules, tensor, losses, metrics, callbacks, loadModel, modelFromFiles, StateError,
  ArgumentError, ShapeError, type Tensor, type Logs,
} from 'ballast';
import { rng } from './reference.js';

/** `n` examples of 6 features in `classes` classes; the class shifts one feature. */
function data(n: number, seed: number, classes = 3): { x: Tensor; y: Tensor; labels: number[] } {
  const r = rng(seed);
  const x = new Float32Array(n * 6);
  const y = new Float32Array(n * classes);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = Math.floor(r() * classes);
    labels.push(c);
    y[i * classes + c] = 1;
    for (let j = 0; j < 6; j++) x[i * 6 + j] = r() * 2 - 1 + (j === c ? 1.5 : 0);
  }
  return { x: tensor(x, [n, 6]), y: tensor(y, [n, classes]), labels };
}

function classifier(outputs = 3, activation = 'softmax', seed = 1): Sequential {
  return new Sequential([layers.input({ shape: [6] }), layers.dense({ units: 8, activation: 'tanh' }), layers.dense({ units: outputs, activation })], { seed });
}

const close = (a: number, b: number, tol = 1e-5) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));

export function trainingCases(): void {
describe('losses', () => {
  it('every loss on the model output matches the formula computed in JavaScript', async () => {
    const { x, y } = data(40, 1);
    const probe = classifier();
    const p = (await probe.predict(x)).data();
    const t = y.data();
    const rows = 40, c = 3;
    const eps = 1e-7;
    const clip = (v: number) => Math.min(Math.max(v, eps), 1 - eps);
    const mean = (f: (i: number) => number) => { let s = 0; for (let i = 0; i < rows * c; i++) s += f(i); return s / (rows * c); };
    const perRow = (f: (r: number) => number) => { let s = 0; for (let r = 0; r < rows; r++) s += f(r); return s / rows; };
    const smoothed = (i: number, s: number) => t[i] * (1 - s) + s / c;
    const cases: Array<[string, Parameters<typeof probe.compile>[0]['loss'], number]> = [
      ['cce', 'categoricalCrossentropy', perRow((r) => -[0, 1, 2].reduce((s, j) => s + t[r * c + j] * Math.log(clip(p[r * c + j])), 0))],
      ['cce smoothed', losses.categoricalCrossentropy({ labelSmoothing: 0.2 }),
        perRow((r) => -[0, 1, 2].reduce((s, j) => s + smoothed(r * c + j, 0.2) * Math.log(clip(p[r * c + j])), 0))],
      ['bce', 'binary_crossentropy', mean((i) => -(t[i] * Math.log(clip(p[i])) + (1 - t[i]) * Math.log(1 - clip(p[i]))))],
      ['mse', 'mse', mean((i) => (p[i] - t[i]) ** 2)],
      ['mae', losses.meanAbsoluteError(), mean((i) => Math.abs(p[i] - t[i]))],
      ['huber', losses.huber({ delta: 0.4 }), mean((i) => { const d = Math.abs(p[i] - t[i]); return d <= 0.4 ? 0.5 * d * d : 0.4 * (d - 0.2); })],
      ['kld', 'kld', perRow((r) => [0, 1, 2].reduce((s, j) => { const a = Math.min(Math.max(t[r * c + j], eps), 1), b = Math.min(Math.max(p[r * c + j], eps), 1); return s + a * Math.log(a / b); }, 0))],
    ];
    for (const [name, loss, want] of cases) {
      probe.compile({ optimizer: optimizers.sgd(), loss });
      const [got] = await probe.evaluate(x, y);
      expect(Math.abs(got - want), name).toBeLessThan(2e-5 * Math.max(1, want));
    }
    // From logits: the same model without its softmax gives the same cross-entropy.
    const logits = classifier(3, 'linear');
    logits.setWeights(probe.getWeights());
    logits.compile({ optimizer: optimizers.sgd(), loss: losses.categoricalCrossentropy({ fromLogits: true }) });
    probe.compile({ optimizer: optimizers.sgd(), loss: 'categoricalCrossentropy' });
    close((await logits.evaluate(x, y))[0], (await probe.evaluate(x, y))[0], 1e-5);
  });

  it('sample weights multiply each example loss, class weights each class, over the batch size', async () => {
    const { x, y, labels } = data(30, 2);
    const model = classifier();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 1e-9 }), loss: 'categoricalCrossentropy' });
    const p = (await model.predict(x)).data();
    const ce = labels.map((c, i) => -Math.log(p[i * 3 + c]));
    const w = labels.map((_, i) => (i % 4) * 0.5);
    const [weighted] = await model.evaluate(x, y, { sampleWeight: w });
    close(weighted, ce.reduce((s, v, i) => s + v * w[i], 0) / 30, 1e-5);
    // One batch, a learning rate too small to matter: the epoch's loss is the batch's.
    const cw = [0.5, 2, 0];
    const h = await model.fit(x, y, { batchSize: 30, shuffle: false, classWeight: { 0: 0.5, 1: 2, 2: 0 } });
    close(h.history.loss[0], ce.reduce((s, v, i) => s + v * cw[labels[i]], 0) / 30, 1e-5);
  });
});

describe('metrics', () => {
  it('are computed per batch, aggregated per epoch, and match JavaScript on the predictions', async () => {
    const { x, y, labels } = data(64, 3);
    const model = classifier();
    model.compile({
      optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy',
      metrics: ['accuracy', 'mae', metrics.topKCategoricalAccuracy({ k: 2 }), metrics.precision({ threshold: 0.4 }), metrics.recall(), metrics.auc({ name: 'roc' })],
    });
    expect(model.metricsNames).toEqual(['loss', 'accuracy', 'mae', 'top_k_categorical_accuracy', 'precision', 'recall', 'roc']);
    const result = await model.evaluate(x, y, { batchSize: 10, returnDict: true });
    const p = (await model.predict(x)).data();
    const t = y.data();
    const argmax = (r: number) => [0, 1, 2].reduce((b, j) => (p[r * 3 + j] > p[r * 3 + b] ? j : b), 0);
    close(result.accuracy, labels.filter((c, r) => argmax(r) === c).length / 64);
    close(result.mae, p.reduce((s, v, i) => s + Math.abs(v - t[i]), 0) / p.length);
    close(result.top_k_categorical_accuracy, labels.filter((c, r) => [0, 1, 2].filter((j) => p[r * 3 + j] > p[r * 3 + c]).length < 2).length / 64);
    let tp = 0, fp = 0, fn = 0, tp5 = 0, fn5 = 0;
    p.forEach((v, i) => { if (v > 0.4 && t[i]) tp++; else if (v > 0.4) fp++; else if (t[i]) fn++; if (v > 0.5 && t[i]) tp5++; else if (t[i]) fn5++; });
    close(result.precision, tp / (tp + fp));
    close(result.recall, tp5 / (tp5 + fn5));
    // AUC from 200 thresholds is close to the exact pair-counting AUC.
    let wins = 0, pairs = 0;
    for (let i = 0; i < p.length; i++) for (let j = 0; j < p.length; j++) if (t[i] && !t[j]) { pairs++; wins += p[i] > p[j] ? 1 : p[i] === p[j] ? 0.5 : 0; }
    expect(Math.abs(result.roc - wins / pairs)).toBeLessThan(0.01);
    void fn;
  });

  it('logs carry Keras names: batch values per batch, epoch values, val_ ones and the learning rate', async () => {
    const { x, y } = data(48, 4);
    const model = classifier();
    model.compile({ optimizer: optimizers.adam({ learningRate: 5e-3 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const batchLogs: Logs[] = [];
    const epochLogs: Logs[] = [];
    const history = await model.fit(x, y, {
      epochs: 2, batchSize: 16, validationSplit: 0.25,
      callbacks: { onBatchEnd: (_b, l) => void batchLogs.push(l), onEpochEnd: (_e, l) => void epochLogs.push(l) },
    });
    expect(Object.keys(history.history).sort()).toEqual(['accuracy', 'learning_rate', 'loss', 'seconds', 'val_accuracy', 'val_loss']);
    // 36 training examples: batches of 16, 16, 4 per epoch.
    expect(batchLogs.map((l) => l.size)).toEqual([16, 16, 4, 16, 16, 4]);
    // The epoch's loss is the batch losses weighted by batch size.
    const epoch0 = batchLogs.slice(0, 3).reduce((s, l) => s + l.loss * l.size, 0) / 36;
    close(history.history.loss[0], epoch0, 1e-5);
    close(history.history.learning_rate[1], 5e-3, 1e-6);
    // validationSplit holds out the last quarter: the same as evaluating those rows.
    const xs = x.data(), ys = y.data();
    const [valLoss, valAcc] = await model.evaluate(tensor(xs.slice(36 * 6), [12, 6]), tensor(ys.slice(36 * 3), [12, 3]));
    close(epochLogs[1].val_loss, valLoss, 1e-5);
    close(epochLogs[1].val_accuracy, valAcc, 1e-6);
  });
});

describe('regularizers', () => {
  it('add l1·Σ|w| + l2·Σw² of each regularized weight to the loss; frozen layers add nothing', async () => {
    const { x, y } = data(20, 13);
    const plain = classifier();
    const reg = new Sequential([
      layers.input({ shape: [6] }),
      layers.dense({ units: 8, activation: 'tanh', kernelRegularizer: 'l2', biasRegularizer: { className: 'L1', config: { l1: 0.5 } } }),
      layers.dense({ units: 3, activation: 'softmax' }),
    ], { seed: 1 });
    for (const m of [plain, reg]) m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const w = reg.getLayer('dense').weights();
    const penalty = 0.01 * w.kernel.values.reduce((s, v) => s + v * v, 0) + 0.5 * w.bias.values.reduce((s, v) => s + Math.abs(v), 0);
    const [base] = await plain.evaluate(x, y);
    close((await reg.evaluate(x, y))[0], base + penalty, 1e-5);
    expect(reg.getLayer('dense').config.kernelRegularizer).toEqual({ className: 'L2', config: { l2: 0.01 } });
    reg.setTrainable('dense', false);
    close((await reg.evaluate(x, y))[0], base, 1e-6);
    expect(() => layers.dense({ units: 2, kernelRegularizer: 'l3' as never })).toThrow(/kernelRegularizer/);

    // The convolutions and embeddings take theirs the same way.
    const image = (regularized: boolean) => new Sequential([
      layers.input({ shape: [4, 4, 2] }),
      layers.depthwiseConv2d({ kernelSize: 3, ...(regularized ? { depthwiseRegularizer: 'l1' as const } : {}) }),
      layers.conv2d({ filters: 2, kernelSize: 1, ...(regularized ? { kernelRegularizer: { className: 'L2' as const, config: { l2: 0.1 } } } : {}) }),
      layers.flatten(), layers.dense({ units: 3, activation: 'softmax' }),
    ], { seed: 2 });
    const [a, b] = [image(false), image(true)];
    for (const m of [a, b]) m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    const xi = tensor(Float32Array.from({ length: 5 * 32 }, (_, i) => Math.sin(i)), [5, 4, 4, 2]);
    const yi = tensor(Float32Array.from({ length: 15 }, (_, i) => (i % 3 === 0 ? 1 : 0)), [5, 3]);
    const dw = b.getLayer('depthwise_conv2d').weights().depthwise_kernel.values;
    const pw = b.getLayer('conv2d').weights().kernel.values;
    const extra = 0.01 * dw.reduce((s, v) => s + Math.abs(v), 0) + 0.1 * pw.reduce((s, v) => s + v * v, 0);
    close((await b.evaluate(xi, yi))[0], (await a.evaluate(xi, yi))[0] + extra, 1e-5);
  });
});

describe('fit options', () => {
  it('initialEpoch resumes the same run; stepsPerEpoch limits batches; stopTraining ends after the batch', async () => {
    const { x, y } = data(40, 5);
    const straight = classifier();
    straight.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
    const all = await straight.fit(x, y, { epochs: 3, batchSize: 8 });
    const resumed = classifier();
    resumed.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
    await resumed.fit(x, y, { epochs: 1, batchSize: 8 });
    const rest = await resumed.fit(x, y, { epochs: 3, initialEpoch: 1, batchSize: 8 });
    expect(rest.epoch).toEqual([1, 2]);
    expect(rest.history.loss).toEqual(all.history.loss.slice(1));

    let batches = 0;
    await straight.fit(x, y, { epochs: 2, batchSize: 8, stepsPerEpoch: 2, callbacks: { onBatchEnd: () => void batches++ } });
    expect(batches).toBe(4);
    batches = 0;
    const stopped = await straight.fit(x, y, {
      epochs: 5, batchSize: 8,
      callbacks: { onBatchEnd: (b) => { batches++; if (b === 2) straight.stopTraining = true; } },
    });
    expect(batches).toBe(3);
    expect(stopped.epoch).toEqual([0]);
  });

  it('refuses options it does not know and values that cannot work, changing nothing', async () => {
    const { x, y } = data(20, 6);
    const model = classifier();
    model.compile({ optimizer: optimizers.sgd(), loss: 'categoricalCrossentropy' });
    const before = model.getWeights();
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ validationSplit: 1 }, /validationSplit must be a number in \[0, 1\)/],
      [{ epoch: 2 }, /unknown option 'epoch' \(options: batchSize, epochs/],
      [{ batchSize: 0 }, /batchSize must be a positive integer/],
      [{ classWeight: { 3: 1 } }, /classWeight has class 3, but the model has classes 0 to 2/],
      [{ sampleWeight: [1, 2] }, /sampleWeight has 2 weights for 20 examples/],
      [{ callbacks: { onEpochEnds: () => {} } }, /unknown callback hook 'onEpochEnds'/],
      [{ validationData: [x] }, /validationData must be \[x, y\]/],
    ];
    for (const [options, message] of bad) await expect(model.fit(x, y, options as never)).rejects.toThrow(message);
    await expect(model.evaluate(x, y, { batchSize: -1 })).rejects.toThrow(ArgumentError);
    await expect(model.predict(x, { batchSize: 0 })).rejects.toThrow(/batchSize must be a positive integer/);
    await expect(model.fit(x, y, { sampleWeight: [1, 2] })).rejects.toThrow(ShapeError);
    expect(model.getWeights()).toEqual(before);

    const compileErrors: Array<[Record<string, unknown>, RegExp]> = [
      [{ loss: 'hinge' }, /unknown loss 'hinge' \(categoricalCrossentropy, /],
      [{ loss: losses.huber({ delta: -1 }) }, /loss Huber: delta must be positive/],
      [{ loss: 'mse', metrics: ['f1'] }, /unknown metric 'f1'/],
      [{ loss: 'mse', metrics: [metrics.topKCategoricalAccuracy({ k: 4 })] }, /k must be in \[1, 3\] for a model with 3 outputs, got 4/],
      [{ loss: 'mse', metrics: ['mae', 'mae'] }, /two metrics are named 'mae'/],
      [{ loss: 'mse', metrics: 'mae' }, /metrics must be a list/],
      [{ loss: 'mse', metric: ['mae'] }, /unknown option 'metric'/],
    ];
    for (const [options, message] of compileErrors) {
      expect(() => model.compile({ optimizer: optimizers.sgd(), ...options } as never)).toThrow(message);
    }
    // The model is still compiled as before the refused calls, and trains.
    expect(model.metricsNames).toEqual(['loss']);
    expect((await model.fit(x, y, { epochs: 1 })).history.loss[0]).toBeGreaterThan(0);
  });
});

describe('callbacks', () => {
  /** A hook that puts a scripted value into the epoch logs, ahead of the callbacks under test. */
  const scripted = (values: number[]) => ({ onEpochEnd: (e: number, logs: Logs) => void (logs.score = values[e]) });

  it('earlyStopping stops at the right epoch and restores the best weights bit for bit', async () => {
    const { x, y } = data(24, 7);
    const model = classifier();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.5 }), loss: 'categoricalCrossentropy' });
    const weightsAt: Array<ReturnType<typeof model.getWeights>> = [];
    const stop = callbacks.earlyStopping({ monitor: 'score', patience: 2, restoreBestWeights: true, mode: 'min' });
    // Best at epoch 1; epochs 2 and 3 do not improve: stop at 3.
    const h = await model.fit(x, y, {
      epochs: 10, batchSize: 8,
      callbacks: [scripted([5, 1, 2, 3, 0, 0]), { onEpochEnd: () => void weightsAt.push(model.getWeights()) }, stop],
    });
    expect(h.epoch).toEqual([0, 1, 2, 3]);
    expect(h.history.score).toEqual([5, 1, 2, 3]); // what a callback adds to the logs is in the history
    expect(stop.stoppedEpoch).toBe(3);
    expect(stop.bestEpoch).toBe(1);
    expect(model.getWeights()).toEqual(weightsAt[1]);
    expect(() => callbacks.earlyStopping({ patience: -1 })).toThrow(/patience must be a non-negative integer/);
    expect(() => callbacks.earlyStopping({ patients: 1 } as never)).toThrow(/unknown option 'patients'/);
    expect(() => callbacks.earlyStopping({ baseline: '0.5' } as never)).toThrow(/baseline must be a finite number/);
    expect(() => callbacks.earlyStopping({ restoreBestWeights: 1 } as never)).toThrow(/restoreBestWeights must be true or false/);
    expect(() => callbacks.modelCheckpoint({ filepath: 'x', monitor: 5 } as never)).toThrow(/monitor must be a non-empty string/);
  });

  it('reduceLROnPlateau lowers the rate after the patience, then waits out its cooldown', async () => {
    const { x, y } = data(24, 8);
    const model = classifier();
    model.compile({ optimizer: optimizers.sgd({ learningRate: 0.1 }), loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, {
      epochs: 7, batchSize: 8,
      callbacks: [scripted([1, 1, 1, 1, 1, 1, 1]), callbacks.reduceLROnPlateau({ monitor: 'score', patience: 2, factor: 0.5, cooldown: 1 })],
    });
    // The logs show the rate each epoch ran with. Epochs 1 and 2 do not improve: halved after
    // epoch 2; epoch 3 is the cooldown, 3 and 4 count again: halved after epoch 4.
    const lr = h.history.learning_rate;
    [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025].forEach((want, i) => close(lr[i], want, 1e-6));
    expect(() => callbacks.reduceLROnPlateau({ factor: 1 })).toThrow(/factor must be in \(0, 1\)/);
  });

  it('modelCheckpoint writes a model that loads and predicts the same; csvLogger writes one row per epoch', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-ckpt-'));
    const { x, y } = data(24, 9);
    const model = classifier();
    model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const predictions: Float32Array[] = [];
    await model.fit(x, y, {
      epochs: 3, batchSize: 8, validationSplit: 0.25,
      callbacks: [
        callbacks.modelCheckpoint({ filepath: join(dir, 'epoch-{epoch}') }),
        { onEpochEnd: async () => void predictions.push((await model.predict(x)).data()) },
        callbacks.csvLogger({ filename: join(dir, 'log.csv') }),
      ],
    });
    const second = await loadModel(join(dir, 'epoch-2'));
    expect((await second.predict(x)).data()).toEqual(predictions[1]);
    const csv = (await readFile(join(dir, 'log.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe('epoch,accuracy,learning_rate,loss,seconds,val_accuracy,val_loss');
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(['0', '1', '2']);
    // saveBestOnly saves only epochs that improve the monitored value.
    const saved: number[] = [];
    await model.fit(x, y, {
      epochs: 4, batchSize: 8,
      callbacks: [scripted([3, 1, 2, 0]), callbacks.modelCheckpoint({ filepath: (_files, epoch) => void saved.push(epoch), monitor: 'score', saveBestOnly: true })],
    });
    expect(saved).toEqual([0, 1, 3]);
  });
});

describe('optimizers', () => {
  it('every optimizer trains, with its Keras defaults resolved by the core', async () => {
    const { x, y } = data(48, 10);
    const made = [
      optimizers.sgd({ momentum: 0.9, nesterov: true }), optimizers.adam({ amsgrad: true }), optimizers.adamw({ learningRate: 1e-2 }),
      optimizers.rmsprop({ centered: true }), optimizers.adagrad({ learningRate: 0.1 }), optimizers.nadam({ learningRate: 1e-2 }),
      optimizers.lion({ learningRate: 1e-3 }),
    ];
    for (const optimizer of made) {
      const model = classifier();
      model.compile({ optimizer, loss: 'categoricalCrossentropy' });
      const h = await model.fit(x, y, { epochs: 6, batchSize: 16 });
      expect(h.history.loss[5], optimizer.className).toBeLessThan(h.history.loss[0]);
      model.dispose();
    }
    const model = classifier();
    model.compile({ optimizer: 'rmsprop', loss: 'mse' });
    expect(model.compiledConfig.optimizer).toMatchObject({ className: 'RMSprop', config: { learningRate: 0.001, rho: 0.9, momentum: 0, epsilon: 1e-7, centered: false } });
    model.compile({ optimizer: optimizers.adamw(), loss: 'mse' });
    expect(model.compiledConfig.optimizer.config.weightDecay).toBeCloseTo(0.004, 9);
    expect(() => model.compile({ optimizer: optimizers.adam({ beta1: 1 }), loss: 'mse' })).toThrow(/Adam: option 'beta1' must be in \[0, 1\)/);
    expect(() => model.compile({ optimizer: optimizers.sgd({ learningRat: 1 } as never), loss: 'mse' })).toThrow(/unknown option 'learningRat'/);
    expect(() => model.compile({ optimizer: 'adamax', loss: 'mse' })).toThrow(/adamax/);
  });

  it('a schedule sets the rate at every step, and the logs show it; reduceLROnPlateau refuses to override it', async () => {
    const { x, y } = data(48, 11);
    const model = classifier();
    const schedule = schedules.cosineDecay({ initialLearningRate: 0.1, decaySteps: 12, alpha: 0.1 });
    model.compile({ optimizer: optimizers.sgd({ learningRate: schedule }), loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 4, batchSize: 16 });
    // The rate logged after each epoch is the schedule at the steps taken so far (3 per epoch).
    const cosine = (step: number) => 0.1 * ((1 - 0.1) * 0.5 * (1 + Math.cos((Math.PI * Math.min(step, 12)) / 12)) + 0.1);
    h.history.learning_rate.forEach((lr, e) => close(lr, cosine(3 * (e + 1)), 1e-6));
    await expect(model.fit(x, y, { epochs: 2, callbacks: [{ onEpochEnd: (_e, l) => void (l.score = 1) }, callbacks.reduceLROnPlateau({ monitor: 'score', patience: 0 })] }))
      .rejects.toThrow(StateError);
  });

  it('a model.json saved with the earlier optimizer form ({ type: "adam", ... }) loads compiled', () => {
    const model = classifier();
    model.compile({ optimizer: optimizers.adam(), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const files = model.toFiles();
    const saved = JSON.parse(files['model.json'] as string);
    saved.compile.optimizer = { type: 'adam', learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-6, clipNorm: 1 };
    const loaded = modelFromFiles(JSON.stringify(saved), files['weights.safetensors'] as Uint8Array);
    expect(loaded.compiledConfig.optimizer).toMatchObject({ className: 'Adam', config: { learningRate: 0.002, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 } });
    expect(loaded.metricsNames).toEqual(['loss', 'accuracy']);
  });

  it('useEma ends fit with the moving average of the weights', async () => {
    const { x, y } = data(32, 12);
    const run = async (options: Record<string, unknown>) => {
      const model = classifier();
      model.compile({ optimizer: optimizers.adam({ learningRate: 1e-2, ...options }), loss: 'categoricalCrossentropy' });
      await model.fit(x, y, { epochs: 3, batchSize: 8 });
      return model.getWeights();
    };
    const plain = await run({});
    // A momentum of 0 averages nothing: the weights are the last ones.
    expect(await run({ useEma: true, emaMomentum: 0 })).toEqual(plain);
    const averaged = await run({ useEma: true, emaMomentum: 0.9 });
    expect(averaged).not.toEqual(plain);
  });
});
}
