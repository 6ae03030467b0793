// Minimal reproducers of what the fuzz suite (api.fuzz.test.ts) found, one case each, kept so
// each fix stays fixed. Each was a TypeError, a RangeError, a glue error or a model left
// unusable; each is now a typed error before anything reaches the core.
import { describe, expect, it } from 'vitest';
import {
  ArgumentError, BallastError, OutOfMemoryError, Sequential, StateError, callbacks, layers, loadModel, matmul, modelFromFiles, ops, tensor, tidy, valueAndGrads, type Tensor,
} from 'ballast';
import { build } from '../build.js';
import { UserThrow } from './harness.js';

const model = () => {
  const m = new Sequential([layers.input({ shape: [3] }), layers.dense({ units: 2, activation: 'softmax' })], { seed: 3 });
  m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
  return m;
};
const x = [[0, 1, 2], [1, 0, 1]];
const y = [[1, 0], [0, 1]];
/** A value whose every look throws, as a hostile Proxy's does. */
const throwing = () => {
  const t = () => {
    throw new UserThrow('proxy');
  };
  return new Proxy({}, { get: t, has: t, ownKeys: t, getPrototypeOf: t, getOwnPropertyDescriptor: t });
};

describe('fuzz regressions', () => {
  it('a throwing Proxy in compile options leaves the model usable (was: borrowed for good, "recursive use of an object")', async () => {
    const m = model();
    for (const bad of [{ loss: throwing() }, { metrics: [throwing()] }, { optimizer: { className: 'SGD', config: {}, clipValue: throwing() } }]) {
      expect(() => m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy', ...bad } as never)).toThrow(ArgumentError);
    }
    expect(() => m.compile({ optimizer: optimizers(), loss: 'categoricalCrossentropy' } as never)).toThrow(ArgumentError);
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await m.fit(x, y, { epochs: 1, verbose: 0 });
    expect(m.getWeights()).toHaveLength(2);
  });

  it('a throwing Proxy as layer options is refused, and layers still work', () => {
    expect(() => layers.dense({ units: throwing() } as never)).toThrow(/cannot read 'units' of the options of Dense/);
    // The user's own exception, from reading the options in JavaScript, passes through as it is.
    expect(() => layers.dense(throwing() as never)).toThrow(UserThrow);
    expect(layers.dense({ units: 2 }).config.units).toBe(2);
  });

  it('describing a throwing Proxy in an error message does not replace the error (was: the Proxy\'s exception)', async () => {
    const m = model();
    m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
    await expect(m.fit(x, y, { epochs: 1, verbose: 0, seed: throwing() } as never)).rejects.toThrow(/seed must be an integer in \[0, 2\^32\), got an object/);
  });

  it('a layer output too large for WASM memory is refused when the model is built (was: RangeError in predict)', () => {
    expect(() => new Sequential([layers.input({ shape: [3, 3, 1] }), layers.zeroPadding2d({ padding: 1e9 })])).toThrow(/more than 2\^30 values/);
    expect(() => new Sequential([layers.input({ shape: [3, 3, 1] }), layers.zeroPadding2d({ padding: [[2 ** 31, 0], [0, 0]] })])).toThrow(ArgumentError);
  });

  it('setWeights refuses holes and values that are not numbers (was: TypeError)', () => {
    const m = model();
    const before = m.getWeights();
    // eslint-disable-next-line no-sparse-arrays
    expect(() => m.setWeights([, ,] as never)).toThrow(/entry 0 needs a string 'name'/);
    expect(() => m.setWeights([{ name: before[0].name, values: [1, Symbol('s'), 3, 4, 5, 6] }] as never)).toThrow(/values\[1\] must be a number/);
    expect(() => m.setWeights([{ name: before[0].name, values: [Object.create(null), 2, 3, 4, 5, 6] }] as never)).toThrow(ArgumentError);
    expect(m.getWeights()).toEqual(before);
  });

  it('matmul refuses what is not a tensor and options that are not booleans (was: "expected instance of Tensor", TypeError)', () => {
    const a = tensor([[1, 2], [3, 4]]);
    expect(() => matmul(NaN as never, a)).toThrow(/matmul: a must be a Tensor, got number NaN/);
    expect(() => matmul(a, null as never)).toThrow(/b must be a Tensor/);
    expect(() => matmul(a, a, { transposeB: 5n } as never)).toThrow(/transposeB must be true or false/);
    expect(() => matmul(a, a, null as never)).toThrow(ArgumentError);
    expect(Array.from(matmul(a, a, { transposeB: true }).data())).toEqual([5, 11, 11, 25]);
  });

  it('loadModel and modelFromFiles check the types of their arguments (was: TypeError)', async () => {
    await expect(loadModel({} as never)).rejects.toThrow(/loadModel needs a directory/);
    await expect(loadModel(Symbol('s') as never)).rejects.toThrow(ArgumentError);
    const files = model().toFiles();
    expect(() => modelFromFiles(files['model.json'] as string, -5 as never)).toThrow(/weights must be a Uint8Array/);
    expect(() => modelFromFiles(5 as never, files['weights.safetensors'] as Uint8Array)).toThrow(ArgumentError);
  });

  it('recalibrateBatchNorm and setLearningRate check their options (was: TypeError)', () => {
    const m = model();
    const t = tensor(x);
    expect(() => m.recalibrateBatchNorm(t, null as never)).toThrow(ArgumentError);
    expect(() => m.recalibrateBatchNorm(t, { batches: Object.create(null) })).toThrow(/batches must be a positive integer, got an object/);
    expect(() => m.recalibrateBatchNorm(t, { seed: 5n } as never)).toThrow(ArgumentError);
    expect(() => m.setLearningRate(5n as never)).toThrow(/learning rate must be a number/);
    expect(() => m.setLearningRate(Symbol('s') as never)).toThrow(ArgumentError);
  });

  it('error messages describe values that cannot become strings (was: TypeError while making the message)', async () => {
    const bare = Object.create(null);
    expect(() => callbacks.earlyStopping({ mode: bare })).toThrow(/mode must be 'auto', 'min' or 'max', got an object/);
    expect(() => callbacks.reduceLROnPlateau({ cooldown: bare })).toThrow(ArgumentError);
    expect(() => new Sequential([layers.input({ shape: [3] }), layers.dense({ units: 2 })], { seed: Symbol('s') as never })).toThrow(ArgumentError);
    const m = model();
    await expect(m.evaluate(x, y, { sampleWeight: [1, bare] })).rejects.toThrow(/sampleWeight\[1\] must be a number/);
    expect(() => m.setTrainable(bare, true)).toThrow(ArgumentError);
  });

  it('ops check their parameters (was: ops.sum(x, 5) summed every axis, conv2d took any padding as valid, TypeErrors)', () => {
    const p = tensor([[1, 2, 3], [4, 5, 6]]);
    const run = (fn: Parameters<typeof valueAndGrads>[0]) => () => valueAndGrads(fn, [p]);
    expect(run((v) => ops.sum(v, 5 as never))).toThrow(/op 'sum': expected a list of numbers/);
    expect(run((v) => ops.sum(v, [Symbol('s')] as never))).toThrow(ArgumentError);
    expect(run((v) => ops.sum(ops.reshape(v, [1, 2, 3, 1]) && ops.conv2d(ops.reshape(v, [1, 2, 3, 1]), ops.constant(tensor([[[[1]]]])), undefined, { padding: 'SAME' as never })))).toThrow(/padding must be 'valid' or 'same', got "SAME"/);
    expect(run((v) => ops.sum(ops.maxPool2d(ops.reshape(v, [1, 2, 3, 1]), { strides: 5n as never })))).toThrow(/expected a number or \[height, width\]/);
    expect(run((v) => ops.sum(ops.batchNorm(v, v, v, null as never)))).toThrow(ArgumentError);
    expect(run((v) => ops.add(v, 3 as never))).toThrow(/input 1 must be a Variable/);
    expect(valueAndGrads((v) => ops.sum(ops.sum(v, [1])), [p]).value).toBe(21);
  });
});

describe('fuzz regressions (seeds 2 and 3, 50,000 cases each)', () => {
  it('a weight too large for memory is an error naming its size, not a trap (was: "unreachable", then a model borrowed for good)', () => {
    const build = () => new Sequential([layers.input({ shape: [4] }), layers.dense({ units: 1e9 })]);
    expect(build).toThrow(ArgumentError);
    expect(build).toThrow(/a weight of shape \[4, 1000000000\] \(4000000000 values, 15259 MiB of float32\) does not fit in memory/);
    // The same through a saved model: a DataError naming the file, and the module still works.
    const files = model().toFiles();
    const spec = JSON.parse(files['model.json'] as string);
    const dense = spec.nodes.find((n: { className: string }) => n.className === 'Dense');
    dense.config.units = 1e9;
    expect(() => modelFromFiles(JSON.stringify(spec), files['weights.safetensors'] as Uint8Array, 'saved')).toThrow(/saved\/model.json: .*does not fit in memory/);
    expect(model().getWeights()).toHaveLength(2);
  });

  it('requests larger than the memory left are OutOfMemoryErrors before any kernel runs (was: "unreachable", a trap)', async () => {
    // 30000 × 30000 float32 are 3433 MiB; the module can have 2048 MiB.
    const a = tensor(new Float32Array(30000 * 10), [30000, 10]);
    const b = tensor(new Float32Array(10 * 30000), [10, 30000]);
    const big = () => matmul(a, b);
    expect(big).toThrow(OutOfMemoryError);
    expect(big).toThrow(/^matmul: the output \[30000, 30000\] needs 3433\.2 MiB, but only [\d.]+ MiB are free of the [\d.]+ MiB the module can have \([\d.]+ MiB in use\)$/);
    // A model whose layer outputs (a 512×512 upsampling of 8×8 inputs) outgrow memory with
    // the batch: fit and evaluate refuse the batch, and nothing changed. predict runs the
    // batch in chunks of 32 rows per pool thread, which fit; one thread runs it whole.
    const m = new Sequential([layers.input({ shape: [8, 8, 1] }), layers.upSampling2d({ size: 64 }), layers.flatten(), layers.dense({ units: 1 })], { seed: 1 });
    m.compile({ optimizer: 'sgd', loss: 'mse' });
    const xs = tensor(new Float32Array(1200 * 64), [1200, 8, 8, 1]);
    const ys = tensor(new Float32Array(1200), [1200, 1]);
    const before = m.getWeights();
    await expect(m.fit(xs, ys, { batchSize: 1200, verbose: 0 })).rejects.toThrow(/^a training step on a batch of 1200 \(2× the layers' outputs, 524353 values per example\) needs [\d.]+ MiB, but only/);
    await expect(m.evaluate(xs, ys, { batchSize: 1200 })).rejects.toThrow(OutOfMemoryError);
    if (build === 'simd') await expect(m.predict(xs, { batchSize: 1200 })).rejects.toThrow(/^predict on a batch of 1200 \(1× the layers' outputs/);
    else expect((await m.predict(xs, { batchSize: 1200 })).shape).toEqual([1200, 1]);
    expect(m.getWeights()).toEqual(before);
    // Small batches of the same data still train.
    await m.fit(xs, ys, { batchSize: 8, epochs: 1, stepsPerEpoch: 1, verbose: 0 });
    for (const t of [a, b, xs, ys]) t.dispose();
    expect(Array.from(matmul(tensor([1, 2, 3, 4], [2, 2]), tensor([1, 0, 0, 1], [2, 2])).data())).toEqual([1, 2, 3, 4]);
  });

  it('fit checks shuffle and seed (was: TypeError, or a seed wrapped modulo 2^32)', async () => {
    const m = model();
    await expect(m.fit(x, y, { seed: Object.create(null), verbose: 0 })).rejects.toThrow(/fit: seed must be an integer in \[0, 2\^32\), got an object/);
    await expect(m.fit(x, y, { seed: 2 ** 32 + 1, verbose: 0 })).rejects.toThrow(ArgumentError);
    await expect(m.fit(x, y, { seed: -1, verbose: 0 })).rejects.toThrow(ArgumentError);
    await expect(m.fit(x, y, { shuffle: 'yes' as never, verbose: 0 })).rejects.toThrow(/shuffle must be true or false/);
  });

  it('reduceLROnPlateau checks that factor is a number, and Sequential its options (was: TypeError)', () => {
    expect(() => callbacks.reduceLROnPlateau({ factor: Symbol('s') as never })).toThrow(/factor must be in \(0, 1\), got symbol/);
    expect(() => callbacks.reduceLROnPlateau({ factor: Object.create(null) })).toThrow(ArgumentError);
    expect(() => new Sequential([layers.input({ shape: [3] })], null as never)).toThrow(/new Sequential: options must be an object/);
    expect(() => new Sequential([layers.input({ shape: [3] })], { sead: 3 } as never)).toThrow(/unknown option 'sead'/);
  });
});

describe('fuzz regressions (seeds 2 to 4)', () => {
  it('validation labels that do not fit the loss are refused before training (was: after an epoch had changed the weights)', async () => {
    const m = model();
    const before = m.getWeights();
    // Two class indices where the loss needs one-hot rows: refused by the core's check.
    await expect(m.fit(x, y, { validationData: [x, new Float32Array(2)], verbose: 0 })).rejects.toThrow(BallastError);
    expect(m.getWeights()).toEqual(before);
  });

  it('a checkpoint or a save that cannot be written is a DataError naming the directory (was: raw ENOENT, TypeError)', async () => {
    expect(() => callbacks.modelCheckpoint({ filepath: '' })).toThrow(ArgumentError);
    await expect(model().save('bad\u0000name')).rejects.toThrow(/cannot write "bad\\u0000name"/);
  });
});

describe('fuzz regressions (the issue\'s examples the harness does not reach)', () => {
  const m = tensor([[1, 2, 3], [4, 5, 6]]);
  const grad = (fn: Parameters<typeof valueAndGrads>[0]) => Array.from(valueAndGrads(fn, [m]).grads[0].data());

  it('axes of sum and mean count from the end and must be whole (was: -1 read as 0, 1.5 as 1)', () => {
    // d/dm sum(sum(m, axis) * w): the weights w tell which axis was reduced.
    const byLast = grad((v) => ops.sum(ops.mul(ops.sum(v, [-1]), ops.constant(tensor([1, 10])))));
    expect(byLast).toEqual([1, 1, 1, 10, 10, 10]);
    expect(grad((v) => ops.sum(ops.mul(ops.mean(v, [-2]), ops.constant(tensor([1, 2, 3])))))).toEqual([0.5, 1, 1.5, 0.5, 1, 1.5]);
    expect(() => grad((v) => ops.sum(ops.sum(v, [1.5])))).toThrow(/sum: axis 1.5 is not a whole number/);
    expect(() => grad((v) => ops.sum(ops.sum(v, [2])))).toThrow(/axis 2 is out of range for a tensor of rank 2/);
    expect(() => grad((v) => ops.sum(ops.reshape(v, [NaN])))).toThrow(/reshape: dimension NaN is not a whole number/);
    expect(() => grad((v) => ops.sum(ops.transpose(v, [-1, 0])))).toThrow(/transpose: -1 is negative/);
  });

  it('batchNorm refuses a non-positive epsilon and an axis out of range (was: NaN results)', () => {
    const bn = (o: { axis?: number; epsilon?: number }) => () => grad((v) => ops.sum(ops.batchNorm(v, ops.constant(tensor([1, 1, 1])), ops.constant(tensor([0, 0, 0])), o)));
    expect(bn({ epsilon: -1 })).toThrow(/epsilon must be a positive number, got -1/);
    expect(bn({ epsilon: 0 })).toThrow(ArgumentError);
    expect(bn({ axis: 5 })).toThrow(/axis 5 is out of range/);
    expect(bn({ axis: 0.5 })).toThrow(ArgumentError);
    expect(bn({})().every(Number.isFinite)).toBe(true);
  });

  it('a Variable used after its valueAndGrads returned is a StateError (was: "null pointer passed to rust")', () => {
    let kept: Parameters<Parameters<typeof valueAndGrads>[0]>[0] | undefined;
    valueAndGrads((v) => ((kept = v), ops.sum(v)), [m]);
    expect(() => kept!.value()).toThrow(StateError);
    expect(() => kept!.shape).toThrow(/only usable inside the valueAndGrads call that made it/);
  });

  it('tidy disposes what its function made when it throws, and refuses a non-function (was: leaked; TypeError)', () => {
    let made: Tensor | undefined;
    expect(() => tidy(() => {
      made = tensor([1, 2]);
      throw new Error('inside');
    })).toThrow('inside');
    expect(made!.isDisposed).toBe(true);
    expect(() => tidy(5 as never)).toThrow(/tidy\(\) takes a function, got number 5/);
    expect(tidy(() => tensor([3])).isDisposed).toBe(false);
  });
});

function optimizers() {
  return { className: throwing(), config: {} };
}
