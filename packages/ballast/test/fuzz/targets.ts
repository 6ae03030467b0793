// The calls the fuzz harness mutates: for each public entry point, a valid call (built anew
// for every case, so a mutation never leaks into the next) and, for calls on a model, the
// model whose weights must be unchanged when the call is refused.
import {
  layers, Sequential, Model, tensor, byteTensor, oneHot, matmul, optimizers, schedules, losses, metrics, callbacks,
  datasets, modelFromFiles, loadModel, decodeSafetensors, encodeSafetensors, valueAndGrads, ops, Tensor, DataError, type Layer,
} from 'ballast';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Mutation } from './harness.js';
import { idxFile } from '../reference.js';

export interface Target {
  name: string;
  /** The arguments of a valid call; `variant` picks among a target's forms. */
  args(variant: number): unknown[];
  /** Makes the call with (possibly mutated) arguments. */
  call(args: unknown[], variant: number): unknown;
  /** The model the call acts on, whose weights a refused call must leave as they were. */
  model?: () => Model;
  /** Byte targets mutate bytes instead of a path. */
  bytes?: boolean;
}

/** Each layer factory, its minimal options and an input shape to build it on. */
const layerCases: Array<[keyof typeof layers, Record<string, unknown>, number[] | 'merge']> = [
  ['dense', { units: 3 }, [4]],
  ['conv2d', { filters: 2, kernelSize: 3 }, [6, 6, 2]],
  ['conv2dTranspose', { filters: 2, kernelSize: 2 }, [4, 4, 2]],
  ['depthwiseConv2d', { kernelSize: 2 }, [5, 5, 2]],
  ['separableConv2d', { filters: 2, kernelSize: 2 }, [5, 5, 2]],
  ['maxPooling2d', {}, [4, 4, 2]],
  ['averagePooling2d', {}, [4, 4, 2]],
  ['globalAveragePooling2d', {}, [4, 4, 2]],
  ['flatten', {}, [2, 3]],
  ['dropout', { rate: 0.5 }, [4]],
  ['activation', { activation: 'relu' }, [4]],
  ['leakyReLU', {}, [4]],
  ['elu', {}, [4]],
  ['reLU', {}, [4]],
  ['softmax', {}, [4]],
  ['prelu', {}, [4]],
  ['batchNormalization', {}, [4]],
  ['layerNormalization', {}, [4]],
  ['groupNormalization', { groups: 2 }, [3, 3, 4]],
  ['zeroPadding2d', {}, [3, 3, 1]],
  ['cropping2D', { cropping: 1 }, [4, 4, 1]],
  ['upSampling2d', {}, [2, 2, 1]],
  ['reshape', { targetShape: [2, 2] }, [4]],
  ['permute', { dims: [2, 1] }, [2, 3]],
  ['spatialDropout2d', { rate: 0.5 }, [3, 3, 2]],
  ['embedding', { inputDim: 5, outputDim: 2 }, [3]],
  ['rescaling', { scale: 0.5 }, [3, 3, 1]],
  ['resizing', { height: 2, width: 4, padToAspectRatio: true, fillValue: 0.5 }, [3, 3, 1]],
  ['randomCrop', { height: 2, width: 2 }, [3, 3, 1]],
  ['normalization', {}, [3, 2]],
  ['randomFlip', {}, [3, 3, 1]],
  ['randomTranslation', { heightFactor: 0.2, widthFactor: 0.2 }, [3, 3, 1]],
  ['randomRotation', { factor: 0.1 }, [3, 3, 1]],
  ['randomZoom', { heightFactor: 0.2 }, [3, 3, 1]],
  ['randomBrightness', { factor: 0.2 }, [3, 3, 1]],
  ['randomContrast', { factor: 0.2 }, [3, 3, 1]],
  ['add', {}, 'merge'],
  ['multiply', {}, 'merge'],
  ['subtract', {}, 'merge'],
  ['maximum', {}, 'merge'],
  ['average', {}, 'merge'],
  ['concatenate', {}, 'merge'],
];

type Factory = (options?: unknown) => Layer;

/** Every option of each layer with its resolved value (the core's declaration, via `config`). */
let fullOptions: Record<string, unknown>[] | null = null;
function layerOptions(i: number): Record<string, unknown> {
  fullOptions ??= layerCases.map(([f, o]) => {
    const layer = (layers[f] as Factory)(o);
    return { ...layer.config, name: `fz_${f}`, trainable: true };
  });
  return structuredClone(fullOptions[i]);
}

const zeros = (shape: number[]) => tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);

/** A layer made from `options` and run in a model, so accepted options must also work. */
async function buildAndRun(i: number, options: unknown): Promise<void> {
  const [factory, , inputShape] = layerCases[i];
  const layer = (layers[factory] as Factory)(options);
  let model: Model;
  if (inputShape === 'merge') {
    const input = layers.input({ shape: [4] });
    const a = layers.dense({ units: 4 }).apply(input);
    const b = layers.dense({ units: 4 }).apply(input);
    model = new Model({ inputs: input, outputs: layer.apply([a, b]) });
  } else {
    model = new Sequential([layers.input({ shape: inputShape }), layer]);
  }
  try {
    const x = zeros([2, ...(inputShape === 'merge' ? [4] : inputShape)]);
    const out = await model.predict(x);
    out.dispose();
    x.dispose();
  } finally {
    model.dispose();
  }
}

/** The model calls act on: dense, BN and dropout (its random state), compiled. */
let shared: Sequential | null = null;
export function sharedModel(): Sequential {
  if (!shared) {
    shared = new Sequential([
      layers.input({ shape: [3] }),
      layers.dense({ units: 4, activation: 'relu' }),
      layers.batchNormalization(),
      layers.dropout({ rate: 0.3 }),
      layers.dense({ units: 2, activation: 'softmax' }),
    ], { seed: 7 });
    shared.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    sharedInitial = shared.getWeights().map((w) => ({ name: w.name, values: w.values }));
  }
  return shared;
}

let sharedInitial: Array<{ name: string; values: Float32Array }> | null = null;
/**
 * Gives the shared model back its first weights, learning rate and trainable layers, so that
 * what an accepted case set (any finite weights, a huge learning rate) does not make every
 * later case fail for that reason instead of its own.
 */
export function restoreShared(): void {
  if (!shared) return;
  if (!sharedInitial) return;
  shared.setWeights(sharedInitial);
  shared.setLearningRate(0.001);
  shared.setTrainable('dense', true);
}

/** A hook that stops the shared model's training after `n` batches. */
function stopAfter(n: number): () => void {
  let batches = 0;
  return () => {
    if (++batches >= n) sharedModel().stopTraining = true;
  };
}

export const xRows = () => [[0, 1, 2], [1, 0, 1], [2, 2, 0], [0.5, 1, 1], [1, 1, 1], [0, 0, 2]];
export const yRows = () => [[1, 0], [0, 1], [1, 0], [0, 1], [1, 0], [0, 1]];

const optimizerNames = ['sgd', 'adam', 'adamw', 'rmsprop', 'adagrad', 'nadam', 'lion'] as const;
const lossMakers = [
  () => 'categoricalCrossentropy', () => losses.categoricalCrossentropy({ fromLogits: false, labelSmoothing: 0.1 }),
  () => losses.meanSquaredError(), () => losses.huber({ delta: 1 }), () => losses.binaryCrossentropy({ fromLogits: false }), () => 'mse',
];
const metricMakers = [
  () => 'accuracy', () => metrics.topKCategoricalAccuracy({ k: 1 }), () => metrics.auc({ numThresholds: 10, curve: 'ROC' }),
  () => metrics.precision({ threshold: 0.5 }), () => 'mae',
];
const scheduleMakers = [
  () => schedules.exponentialDecay({ initialLearningRate: 0.01, decaySteps: 10, decayRate: 0.9, staircase: false }),
  () => schedules.piecewiseConstantDecay({ boundaries: [2, 4], values: [0.1, 0.01, 0.001] }),
  () => schedules.cosineDecay({ initialLearningRate: 0.01, decaySteps: 10, alpha: 0, warmupTarget: 0.02, warmupSteps: 2 }),
  () => schedules.cosineDecayRestarts({ initialLearningRate: 0.01, firstDecaySteps: 4, tMul: 2, mMul: 1, alpha: 0 }),
  () => schedules.polynomialDecay({ initialLearningRate: 0.01, decaySteps: 10, endLearningRate: 0.001, power: 1, cycle: false }),
];

/** Drops the models the targets share (after one was broken), so later cases get new ones. */
export function resetModels(): void {
  shared = null;
  sharedInitial = null;
  compiled = null;
}

/** The model `compile` cases act on, compiled back to a valid config after each. */
let compiled: Sequential | null = null;
function compileModel(): Sequential {
  compiled ??= new Sequential([layers.input({ shape: [3] }), layers.dense({ units: 2, activation: 'softmax' })], { seed: 3 });
  return compiled;
}

function compileArgs(variant: number): unknown[] {
  const name = optimizerNames[variant % optimizerNames.length];
  // Every option the core resolves for this optimizer, as `compiledConfig` shows it.
  const probe = compileModel();
  probe.compile({ optimizer: name, loss: 'mse' });
  const config = { ...probe.compiledConfig.optimizer.config } as Record<string, unknown>;
  if (variant % 3 === 0) config.learningRate = scheduleMakers[variant % scheduleMakers.length]();
  return [{
    optimizer: { className: probe.compiledConfig.optimizer.className, config, clipNorm: 1, clipValue: 5 },
    loss: lossMakers[variant % lossMakers.length](),
    metrics: [metricMakers[variant % metricMakers.length](), metricMakers[(variant + 1) % metricMakers.length]()],
  }];
}

let savedFiles: { json: Record<string, unknown>; weights: Uint8Array } | null = null;
function saved(): { json: Record<string, unknown>; weights: Uint8Array } {
  if (!savedFiles) {
    const m = new Sequential([
      layers.input({ shape: [4, 4, 1] }),
      layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'relu' }),
      layers.batchNormalization(),
      layers.maxPooling2d(),
      layers.flatten(),
      layers.dense({ units: 3, activation: 'softmax' }),
    ], { seed: 5 });
    m.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const files = m.toFiles();
    savedFiles = { json: JSON.parse(files['model.json'] as string), weights: files['weights.safetensors'] as Uint8Array };
    m.dispose();
  }
  return { json: structuredClone(savedFiles.json), weights: savedFiles.weights.slice() };
}

const idxImages = () => idxFile([4, 2, 2], Uint8Array.from({ length: 16 }, (_, i) => i * 15));
const idxLabels = () => idxFile([4], Uint8Array.of(0, 1, 2, 1));

/** Changes bytes as a mutation says: a byte set, a cut, or bytes appended. */
export function mutateBytes(bytes: Uint8Array, m: Mutation): Uint8Array {
  const at = m.at % Math.max(bytes.length, 1);
  const made = m.value();
  const v = typeof made === 'number' && Number.isFinite(made) ? made : m.at >>> 8;
  if (m.kind === 'delete') return bytes.slice(0, at);
  if (m.kind === 'unknown-key') {
    const out = new Uint8Array(bytes.length + 1 + (at % 7));
    out.set(bytes);
    out.fill(v & 255, bytes.length);
    return out;
  }
  const out = bytes.slice();
  // Headers are where the checks are: most changes go to the first bytes.
  out[m.at % 3 === 0 ? at : at % Math.min(out.length, 24)] = v & 255;
  if (m.at % 5 === 0 && out.length > at + 1) out[at + 1] = (v >>> 8) & 255;
  return out;
}

/** The ops of `valueAndGrads`, each with its valid arguments (the first a parameter's shape). */
const opCases: Array<[string, number[], (x: ReturnType<typeof ops.constant>, ...a: unknown[]) => unknown, unknown[]]> = [
  ['sum', [2, 3], (x, axes) => ops.sum(ops.sum(x, axes as number[])), [[1]]],
  ['mean', [2, 3], (x, axes) => ops.sum(ops.mean(x, axes as number[])), [[0]]],
  ['softmax', [2, 3], (x, axis) => ops.sum(ops.softmax(x, axis as number)), [-1]],
  ['reshape', [2, 3], (x, shape) => ops.sum(ops.reshape(x, shape as number[])), [[3, 2]]],
  ['transpose', [2, 3], (x, perm) => ops.sum(ops.transpose(x, perm as number[])), [[1, 0]]],
  ['scale', [2, 3], (x, s) => ops.sum(ops.scale(x, s as number)), [2]],
  ['leakyRelu', [2, 3], (x, s) => ops.sum(ops.leakyRelu(x, s as number)), [0.2]],
  ['elu', [2, 3], (x, s) => ops.sum(ops.elu(x, s as number)), [1]],
  ['conv2d', [1, 4, 4, 1], (x, o) => ops.sum(ops.conv2d(x, ops.constant(tensor(new Float32Array(4).fill(1), [2, 2, 1, 1])), undefined, o as never)), [{ strides: 1, padding: 'same' }]],
  ['maxPool2d', [1, 4, 4, 1], (x, o) => ops.sum(ops.maxPool2d(x, o as never)), [{ poolSize: 2, strides: 2, padding: 'valid' }]],
  ['batchNorm', [4, 2], (x, o) => ops.sum(ops.batchNorm(x, ops.constant(tensor([1, 1])), ops.constant(tensor([0, 0])), o as never)), [{ axis: -1, epsilon: 1e-3 }]],
  ['gelu', [2, 3], (x, o) => ops.sum(ops.gelu(x, o as never)), [{ approximate: true }]],
];

const scratch = join(tmpdir(), `ballast-fuzz-${process.pid}`);
let savedDir: Promise<void> | null = null;
/** Writes the saved model into the scratch directory, once. */
function ensureSaved(): Promise<void> {
  savedDir ??= (async () => {
    const s = saved();
    await mkdir(join(scratch, 'model'), { recursive: true });
    await writeFile(join(scratch, 'model', 'model.json'), JSON.stringify(s.json));
    await writeFile(join(scratch, 'model', 'weights.safetensors'), s.weights);
  })();
  return savedDir;
}
/** Removes what the targets wrote. */
export const cleanUp = () => rm(scratch, { recursive: true, force: true });

export const targets: Target[] = [
  ...layerCases.map((c, i): Target => ({
    name: `layers.${c[0]}`,
    args: () => [layerOptions(i)],
    call: (args) => buildAndRun(i, args[0]),
  })),
  {
    name: 'layers.input',
    args: () => [{ shape: [2, 3], name: 'fz_input' }],
    call: (args) => new Sequential([layers.input(args[0] as never), layers.flatten()]).dispose(),
  },
  {
    name: 'Sequential',
    args: () => [[layers.input({ shape: [3] }), layers.dense({ units: 2 })], { seed: 3 }],
    call: (args) => new Sequential(args[0] as never, args[1] as never).dispose(),
  },
  {
    name: 'compile',
    args: compileArgs,
    call: (args) => {
      const m = compileModel();
      try {
        m.compile(args[0] as never);
      } finally {
        m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
      }
    },
    model: compileModel,
  },
  {
    name: 'compile+fit',
    args: compileArgs,
    call: async (args) => {
      const m = compileModel();
      try {
        m.compile(args[0] as never);
        await m.fit(xRows(), yRows(), { batchSize: 3, epochs: 1, verbose: 0 });
      } finally {
        m.compile({ optimizer: 'sgd', loss: 'categoricalCrossentropy' });
      }
    },
  },
  {
    name: 'fit',
    args: (v) => [xRows(), yRows(), {
      batchSize: 2, epochs: 1, initialEpoch: 0, shuffle: true, seed: 1, validationBatchSize: 2, stepsPerEpoch: 2, yieldEvery: 1, verbose: 0,
      ...(v % 2 ? { validationData: [xRows().slice(0, 2), yRows().slice(0, 2)] } : { validationSplit: 0.34 }),
      ...(v % 3 ? { sampleWeight: [1, 2, 1, 2, 1, 2] } : { classWeight: { 0: 1, 1: 2 } }),
      // Accepted huge epoch counts must still end: training stops after 40 batches.
      callbacks: [{ onBatchEnd: stopAfter(40), onEpochEnd: () => {} }],
    }],
    call: (args) => sharedModel().fit(args[0] as never, args[1] as never, args[2] as never),
    model: sharedModel,
  },
  {
    name: 'evaluate',
    args: (v) => [xRows(), yRows(), { batchSize: 2, steps: 2, returnDict: v % 2 === 0, sampleWeight: [1, 2, 1, 2, 1, 2] }],
    call: (args) => sharedModel().evaluate(args[0] as never, args[1] as never, args[2] as never),
    model: sharedModel,
  },
  {
    name: 'predict',
    args: (v) => [v % 2 ? xRows() : { values: new Float32Array(18), shape: [6, 3] }, { batchSize: 2, steps: 2 }],
    call: async (args) => (await sharedModel().predict(args[0] as never, args[1] as never)).dispose(),
    model: sharedModel,
  },
  {
    name: 'recalibrateBatchNorm',
    args: () => [{ values: xRows().flat(), shape: [6, 3] }, { batchSize: 2, batches: 2, seed: 1 }],
    call: (args) => {
      const a = args[0] as { values: number[]; shape: number[] };
      const x = a && typeof a === 'object' && Array.isArray(a.values) ? tensor(a.values, a.shape) : a;
      sharedModel().recalibrateBatchNorm(x as never, args[1] as never);
    },
  },
  {
    name: 'setWeights',
    args: (v) => [sharedModel().getWeights().map((w) => ({ name: w.name, values: v % 2 ? Array.from(w.values) : w.values }))],
    call: (args) => sharedModel().setWeights(args[0] as never),
    // A valid call sets the weights they already have: any change is a refused call's.
    model: sharedModel,
  },
  {
    name: 'setLearningRate/setTrainable',
    args: () => [0.001, 'dense', true],
    call: (args) => {
      const m = sharedModel();
      m.setTrainable(args[1] as never, args[2] as never);
      m.setLearningRate(args[0] as never);
    },
  },
  {
    name: 'tensor',
    args: (v) => (v % 2 ? [[[1, 2], [3, 4]], [2, 2]] : [new Float32Array(6), [2, 3]]),
    call: (args) => tensor(args[0] as never, args[1] as never).dispose(),
  },
  {
    name: 'byteTensor',
    args: (v) => [new Uint8Array(8), [2, 2, 2], v % 2 ? { scale: 1 / 255, offset: 0 } : { mean: [1, 2], std: [2, 3] }],
    call: (args) => byteTensor(args[0] as never, args[1] as never, args[2] as never).dispose(),
  },
  {
    name: 'oneHot',
    args: (v) => [v % 2 ? [0, 1, 2] : Uint32Array.of(0, 2), 3],
    call: (args) => oneHot(args[0] as never, args[1] as never).dispose(),
  },
  {
    name: 'matmul',
    args: () => [{ values: [1, 2, 3, 4, 5, 6], shape: [2, 3] }, { values: [1, 2, 3, 4, 5, 6], shape: [2, 3] }, { transposeA: false, transposeB: true }],
    call: (args) => {
      const made: Tensor[] = [];
      const t = (a: unknown) => {
        const s = a as { values: number[]; shape: number[] };
        if (!s || typeof s !== 'object' || !('values' in s)) return a;
        const r = tensor(s.values, s.shape);
        made.push(r);
        return r;
      };
      try {
        matmul(t(args[0]) as never, t(args[1]) as never, args[2] as never).dispose();
      } finally {
        made.forEach((m) => m.dispose());
      }
    },
  },
  {
    name: 'valueAndGrads/ops',
    args: (v) => [structuredClone(opCases[v % opCases.length][3])],
    call: (args, v) => {
      const [, shape, fn] = opCases[v % opCases.length];
      const p = tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 3 - 1), shape);
      try {
        // The op's arguments; one replaced whole by a bad value is passed as the one argument.
        const opArgs = Array.isArray(args[0]) ? args[0] : [args[0]];
        const r = valueAndGrads((x) => fn(x, ...opArgs) as never, [p]);
        r.grads.forEach((g) => g.dispose());
      } finally {
        p.dispose();
      }
    },
  },
  {
    name: 'modelFromFiles(model.json)',
    args: () => {
      const s = saved();
      return [s.json, s.weights];
    },
    call: (args) => {
      let text: string;
      try {
        text = JSON.stringify(args[0]) ?? 'null';
      } catch {
        text = '{"not": "json"';
      }
      modelFromFiles(text, args[1] as never, 'fuzz').dispose();
    },
  },
  {
    name: 'modelFromFiles(weights bytes)',
    bytes: true,
    args: () => [saved().weights],
    call: (args) => modelFromFiles(JSON.stringify(saved().json), args[0] as never, 'fuzz').dispose(),
  },
  {
    name: 'decodeSafetensors',
    bytes: true,
    args: () => [encodeSafetensors([{ name: 'a', shape: [2, 2], values: Float32Array.of(1, 2, 3, 4) }, { name: 'b', shape: [3], values: Float32Array.of(5, 6, 7) }])],
    call: (args) => decodeSafetensors(args[0] as never, 'fuzz.safetensors'),
  },
  {
    name: 'datasets.idx(bytes)',
    bytes: true,
    args: (v) => [v % 2 ? idxImages() : idxLabels()],
    call: async (args, v) => {
      const d = await datasets.idx(v % 2 ? { images: args[0] as never, labels: idxLabels() } : { images: idxImages(), labels: args[0] as never, limit: 3 });
      d.dispose();
    },
  },
  {
    name: 'datasets.idx(options)',
    args: () => [{ images: idxImages(), labels: idxLabels(), numClasses: 3, limit: 4, scaling: { scale: 1 / 255, offset: 0 } }],
    call: async (args) => (await datasets.idx(args[0] as never)).dispose(),
  },
  {
    name: 'loadModel',
    args: (v) => [join(scratch, v % 3 ? 'model' : 'model-missing')],
    call: async (args, v) => {
      await ensureSaved();
      try {
        (await loadModel(args[0] as never)).dispose();
      } catch (err) {
        // The missing directory's refusal is the valid case's answer.
        if (v % 3 || !(err instanceof DataError) || !/no such file/.test(err.message)) throw err;
      }
    },
  },
  {
    name: 'callbacks',
    args: (v) => [[
      { monitor: 'loss', minDelta: 0, patience: 1, mode: 'min', baseline: 10, restoreBestWeights: true, startFromEpoch: 0 },
      { monitor: 'loss', factor: 0.5, patience: 1, mode: 'auto', minDelta: 1e-4, cooldown: 0, minLr: 0 },
      { filepath: () => {}, monitor: 'loss', saveBestOnly: false, mode: 'auto', saveFreq: 'epoch' },
      { verbose: 2, stream: { write: () => true } },
    ][v % 4]],
    call: async (args, v) => {
      const make = [callbacks.earlyStopping, callbacks.reduceLROnPlateau, callbacks.modelCheckpoint, callbacks.progbarLogger][v % 4];
      // A checkpoint directory made of a bad value goes under the scratch directory, not the
      // current one ('' and names with NUL stay as they are: their refusal is the point).
      const o = args[0] as { filepath?: unknown } | null;
      if (o && typeof o === 'object' && typeof o.filepath === 'string' && o.filepath !== '' && !o.filepath.includes('\0')) {
        o.filepath = join(scratch, 'checkpoints', o.filepath.slice(0, 200));
      }
      const cb = make(args[0] as never);
      await sharedModel().fit(xRows(), yRows(), { epochs: 2, batchSize: 3, callbacks: cb, verbose: 0 });
    },
  },
];
