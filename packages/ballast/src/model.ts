/**
 * `Sequential`: a Keras-style model whose layers, weights and training step live in WASM.
 * `fit` feeds it row indices of tensors already in WASM memory, one batch per call.
 */
import type { Model as WasmModel } from '../wasm/threads/ballast_wasm.js';
import { ArgumentError, BallastError, DataError, ShapeError, StateError, guard } from './errors.js';
import { Layer, layerFromSpec, type LayerSpec } from './layers.js';
import type { OptimizerConfig } from './optimizers.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';
import { Tensor, tensor } from './tensor.js';
import { platform, wasm } from './runtime.js';

export type LossName = 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'meanSquaredError';

export interface CompileOptions {
  optimizer: OptimizerConfig;
  loss: LossName;
  metrics?: Array<'accuracy'>;
}

export interface Logs {
  loss: number;
  acc?: number;
  valLoss?: number;
  valAcc?: number;
}

export interface BatchInfo {
  epoch: number;
  batch: number;
  batches: number;
  /** Examples per second over this epoch so far. */
  examplesPerSecond: number;
  /** Seconds left in this epoch at the current pace. */
  etaSeconds: number;
}

/** Norms for one layer's trainable parameters in a training step. */
export interface LayerGradientHealth {
  name: string;
  /** L2 norm of the layer's gradient (before clipping). */
  gradNorm: number;
  /** L2 norm of the layer's weights after the update. */
  weightNorm: number;
  /** L2 norm of the update. */
  updateNorm: number;
}

export interface Callbacks {
  /** With `gradientHealth: true` in the fit options, `logs.gradients` holds per-layer norms. */
  onBatchEnd?: (batch: number, logs: Logs & BatchInfo & { gradients?: LayerGradientHealth[] }) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: Logs & { seconds: number }) => void | Promise<void>;
}

export interface FitOptions {
  batchSize?: number;
  epochs?: number;
  /** Shuffle the examples each epoch (seeded: the same seed gives the same batches). */
  shuffle?: boolean;
  seed?: number;
  validationData?: [Tensor, Tensor];
  callbacks?: Callbacks;
  /** Resolves between batches; lets a page pause training or a Worker handle messages. */
  yieldEvery?: number;
  /** Pass per-layer gradient, weight and update norms to `onBatchEnd` (cheap). */
  gradientHealth?: boolean;
}

export interface History {
  epoch: number[];
  history: { loss: number[]; acc: number[]; valLoss: number[]; valAcc: number[]; seconds: number[] };
}

export interface WeightInfo {
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface SummaryRow {
  name: string;
  type: string;
  outputShape: (number | null)[];
  params: number;
  trainable: number;
}

const MODEL_FORMAT = 'ballast-sequential';
const WEIGHTS_FILE = 'weights.safetensors';
const MODEL_FILE = 'model.json';

interface SavedModel {
  format: string;
  version: 1;
  seed: number;
  layers: LayerSpec[];
  compile?: CompileOptions;
}

/** Batches of `batchSize` rows; a last batch of one example joins the previous one, because
 * batch statistics (BatchNormalization) need at least two values. */
function batchesOf(order: Uint32Array, batchSize: number): Uint32Array[] {
  const n = order.length;
  const count = Math.ceil(n / batchSize);
  const merge = count > 1 && n - (count - 1) * batchSize === 1;
  const out: Uint32Array[] = [];
  for (let b = 0; b < (merge ? count - 1 : count); b++) {
    const start = b * batchSize;
    const end = merge && b === count - 2 ? n : Math.min(start + batchSize, n);
    out.push(order.subarray(start, end));
  }
  return out;
}

const nextTick = () => platform().yieldToEventLoop();

export class Sequential {
  readonly layers: Layer[];
  readonly inputShape: number[];
  readonly seed: number;
  #model: WasmModel | null;
  #compiled: CompileOptions | null = null;
  #outputShape: number[] = [];

  /**
   * The first layer must be `layers.input({ shape })`. `seed` fixes the initial weights and
   * the dropout masks (with the same thread count, a run repeats exactly).
   */
  constructor(layerList: Layer[], options: { seed?: number } = {}) {
    const [input, ...rest] = layerList;
    if (!input || input.spec.type !== 'input') {
      throw new ArgumentError('the first layer of a Sequential model must be layers.input({ shape })');
    }
    if (rest.some((l) => l.spec.type === 'input')) throw new ArgumentError('only the first layer may be an input layer');
    this.layers = rest;
    this.inputShape = [...input.spec.config.shape];
    this.seed = options.seed ?? 1;
    const glue = wasm();
    const model = new glue.Model(this.seed);
    try {
      guard(() => {
        for (const layer of rest) addLayer(model, layer.spec);
        this.#outputShape = Array.from(model.build(Uint32Array.from(this.inputShape)));
      });
    } catch (err) {
      model.free();
      throw err;
    }
    const names = model.summary().map((row) => row.split('|')[0]);
    rest.forEach((layer, i) => {
      layer.builtName = names[i];
      layer.owner = this;
    });
    this.#model = model;
  }

  get #handle(): WasmModel {
    if (!this.#model) throw new StateError('model used after dispose()');
    return this.#model;
  }

  /** @internal The WASM handle, for benchmarks that time single steps. */
  _handleForBenchmarks(): WasmModel {
    return this.#handle;
  }

  /** Per-layer norms are computed every step unless turned off here (to measure their cost). */
  setGradientHealthTracking(on: boolean): void {
    guard(() => this.#handle.setGradientHealthTracking(on));
  }

  /** Per-layer gradient, weight and update norms of the last training step. */
  lastGradientHealth(): LayerGradientHealth[] {
    return guard(() => this.#handle.lastGradientHealth()).map((line) => {
      const [name, g, w, u] = line.split('|');
      return { name, gradNorm: Number(g), weightNorm: Number(w), updateNorm: Number(u) };
    });
  }

  /**
   * Where the last training step spent its time, in milliseconds per layer (forward and
   * backward), plus the loss and bookkeeping (`other`) and the optimizer.
   */
  lastStepProfile(): Array<{ name: string; type: string; forwardMs: number; backwardMs: number }> {
    return guard(() => this.#handle.lastStepProfile()).map((line) => {
      const [name, type, f, b] = line.split('|');
      return { name, type, forwardMs: Number(f), backwardMs: Number(b) };
    });
  }

  get outputShape(): number[] {
    return [...this.#outputShape];
  }

  compile(options: CompileOptions): void {
    const o = options.optimizer;
    if (!o || (o.type !== 'adam' && o.type !== 'sgd')) throw new ArgumentError('compile needs an optimizer from optimizers.adam() or optimizers.sgd()');
    guard(() =>
      o.type === 'adam'
        ? this.#handle.compile(options.loss, 'adam', o.learningRate, o.beta1, o.beta2, o.epsilon, 0, false)
        : this.#handle.compile(options.loss, 'sgd', o.learningRate, 0.9, 0.999, 1e-7, o.momentum, o.nesterov),
    );
    guard(() => this.#handle.setClipping(o.clipNorm ?? NaN, o.clipValue ?? NaN));
    this.#compiled = { ...options };
  }

  #checkData(x: Tensor, y: Tensor | null, what: string): number {
    const xs = x.shape;
    const want = [xs[0], ...this.inputShape];
    if (xs.length !== want.length || xs.some((d, i) => i > 0 && d !== want[i])) {
      throw new ShapeError(`${what}: x has shape [${xs.join(', ')}], the model expects [n, ${this.inputShape.join(', ')}]`);
    }
    if (y && y.shape[0] !== xs[0]) {
      throw new ShapeError(`${what}: x has ${xs[0]} examples but y has ${y.shape[0]} (shape [${y.shape.join(', ')}])`);
    }
    if (xs[0] === 0) throw new ShapeError(`${what}: no examples`);
    return xs[0];
  }

  #requireCompiled(what: string): CompileOptions {
    if (!this.#compiled) throw new StateError(`${what} needs a compiled model: call model.compile() first`);
    return this.#compiled;
  }

  /** Trains for `epochs` passes over `x`, `y`; returns the per-epoch history. */
  async fit(x: Tensor, y: Tensor, options: FitOptions = {}): Promise<History> {
    this.#requireCompiled('fit');
    const n = this.#checkData(x, y, 'fit');
    const { batchSize = 32, epochs = 1, shuffle = true, seed = this.seed, validationData, callbacks = {}, yieldEvery = 1, gradientHealth = false } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ArgumentError(`batchSize must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(epochs) || epochs < 0) throw new ArgumentError(`epochs must be a non-negative integer, got ${epochs}`);
    if (validationData) this.#checkData(validationData[0], validationData[1], 'fit validationData');
    const history: History = { epoch: [], history: { loss: [], acc: [], valLoss: [], valAcc: [], seconds: [] } };
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = wasm().batchOrder(n, shuffle, seed, epoch);
      const batches = batchesOf(order, batchSize);
      const start = performance.now();
      let seen = 0, lossSum = 0, accSum = 0;
      for (let b = 0; b < batches.length; b++) {
        const rows = batches[b];
        const [loss, acc] = guard(() => this.#handle.trainStep(x.handle, y.handle, rows));
        seen += rows.length;
        lossSum += loss * rows.length;
        accSum += acc * rows.length;
        if (callbacks.onBatchEnd) {
          const seconds = (performance.now() - start) / 1000;
          const rate = seen / Math.max(seconds, 1e-9);
          await callbacks.onBatchEnd(b, {
            loss, acc, epoch, batch: b, batches: batches.length,
            examplesPerSecond: rate, etaSeconds: (n - seen) / rate,
            ...(gradientHealth ? { gradients: this.lastGradientHealth() } : {}),
          });
        }
        if (yieldEvery > 0 && (b + 1) % yieldEvery === 0) await nextTick();
      }
      const logs: Logs & { seconds: number } = { loss: lossSum / seen, acc: accSum / seen, seconds: (performance.now() - start) / 1000 };
      if (validationData) {
        const [valLoss, valAcc] = await this.evaluate(validationData[0], validationData[1], { batchSize: Math.max(batchSize, 256) });
        logs.valLoss = valLoss;
        logs.valAcc = valAcc;
      }
      history.epoch.push(epoch);
      history.history.loss.push(logs.loss);
      history.history.acc.push(logs.acc!);
      history.history.valLoss.push(logs.valLoss ?? NaN);
      history.history.valAcc.push(logs.valAcc ?? NaN);
      history.history.seconds.push(logs.seconds);
      await callbacks.onEpochEnd?.(epoch, logs);
    }
    return history;
  }

  /** `[loss, accuracy]` in inference mode. */
  async evaluate(x: Tensor, y: Tensor, options: { batchSize?: number } = {}): Promise<[number, number]> {
    this.#requireCompiled('evaluate');
    const n = this.#checkData(x, y, 'evaluate');
    const order = wasm().batchOrder(n, false, 0, 0);
    let lossSum = 0, accSum = 0;
    for (const rows of batchesOf(order, options.batchSize ?? 256)) {
      const [loss, acc] = guard(() => this.#handle.testStep(x.handle, y.handle, rows));
      lossSum += loss * rows.length;
      accSum += acc * rows.length;
      await nextTick();
    }
    return [lossSum / n, accSum / n];
  }

  /** Outputs for every row of `x` (probabilities for a softmax model), in inference mode. */
  async predict(x: Tensor, options: { batchSize?: number } = {}): Promise<Tensor> {
    const n = this.#checkData(x, null, 'predict');
    const perRow = this.#outputShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n * perRow);
    const order = wasm().batchOrder(n, false, 0, 0);
    const batchSize = options.batchSize ?? 256;
    for (let i = 0; i < n; i += batchSize) {
      const rows = order.subarray(i, i + batchSize);
      const part = guard(() => this.#handle.predict(x.handle, rows));
      out.set(part.data(), i * perRow);
      part.free();
    }
    return tensor(out, [n, ...this.#outputShape]);
  }

  /** Every weight by name (`layer/kernel`, `batch_normalization/moving_mean`, ...), copied. */
  getWeights(): WeightInfo[] {
    const m = this.#handle;
    return m.weightNames().map((name) => ({ name, shape: Array.from(m.weightShape(name)), values: m.getWeight(name) }));
  }

  /** Replaces weights by name; all are checked before any changes, so a mismatch changes nothing. */
  setWeights(weights: Array<{ name: string; values: Float32Array | number[] }>): void {
    const m = this.#handle;
    for (const w of weights) {
      const shape = guard(() => Array.from(m.weightShape(w.name)));
      const size = shape.reduce((a, b) => a * b, 1);
      if (w.values.length !== size) {
        throw new ShapeError(`weight '${w.name}' has shape [${shape.join(', ')}] (${size} values), got ${w.values.length} values`);
      }
    }
    const all = new Float32Array(weights.reduce((s, w) => s + w.values.length, 0));
    let at = 0;
    for (const w of weights) {
      all.set(w.values, at);
      at += w.values.length;
    }
    guard(() => m.setWeights(weights.map((w) => w.name), all));
  }

  /** @internal Runs one layer alone; see `Layer.apply`. */
  applyLayer(name: string, x: Tensor, training: boolean): Tensor {
    return new Tensor(guard(() => this.#handle.applyLayer(name, x.handle, training)));
  }

  /** Freezes (false) or unfreezes a layer; a frozen BatchNormalization runs in inference mode. */
  setTrainable(layer: Layer | string, trainable: boolean): void {
    const name = typeof layer === 'string' ? layer : layer.name!;
    guard(() => this.#handle.setTrainable(name, trainable));
  }

  setLearningRate(learningRate: number): void {
    guard(() => this.#handle.setLearningRate(learningRate));
  }

  /**
   * Precise BN (Wu & Johnson, 2021): recomputes each BatchNormalization's moving statistics
   * as population statistics over `batches` batches of `x`, in training mode, without
   * changing any weight. Returns the number of batches used.
   */
  recalibrateBatchNorm(x: Tensor, options: { batchSize?: number; batches?: number; seed?: number } = {}): number {
    this.#requireCompiled('recalibrateBatchNorm');
    const n = this.#checkData(x, null, 'recalibrateBatchNorm');
    const batchSize = options.batchSize ?? 128;
    const count = Math.min(options.batches ?? 100, Math.ceil(n / batchSize));
    const order = wasm().batchOrder(n, true, options.seed ?? this.seed, 0).subarray(0, count * batchSize);
    return guard(() => this.#handle.recalibrateBatchNorm(x.handle, order, batchSize));
  }

  /** Folds each BatchNormalization that follows a Conv2D/Dense without activation into it. */
  foldBatchNorm(): void {
    guard(() => this.#handle.foldBatchNorm());
    this.#compiled = null;
  }

  summaryRows(): SummaryRow[] {
    return this.#handle.summary().map((line) => {
      const [name, type, shape, trainable, frozen] = line.split('|');
      return {
        name,
        type,
        outputShape: [null, ...shape.split(',').filter(Boolean).map(Number)],
        params: Number(trainable) + Number(frozen),
        trainable: Number(trainable),
      };
    });
  }

  /** Prints a Keras-style summary table. */
  summary(print: (line: string) => void = console.log): void {
    const rows = this.summaryRows();
    const cells = rows.map((r) => [`${r.name} (${r.type})`, `(${r.outputShape.map((d) => d ?? 'None').join(', ')})`, String(r.params)]);
    const head = ['Layer (type)', 'Output Shape', 'Param #'];
    const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)) + 2);
    const line = (c: string[]) => c.map((v, i) => v.padEnd(widths[i])).join('');
    const rule = '─'.repeat(widths.reduce((a, b) => a + b, 0));
    print(rule);
    print(line(head));
    print(rule);
    cells.forEach((c) => print(line(c)));
    print(rule);
    const total = rows.reduce((s, r) => s + r.params, 0);
    const trainable = rows.reduce((s, r) => s + r.trainable, 0);
    print(`Total params: ${total.toLocaleString('en-US')}`);
    print(`Trainable params: ${trainable.toLocaleString('en-US')}`);
    print(`Non-trainable params: ${(total - trainable).toLocaleString('en-US')}`);
  }

  /** The architecture (JSON) and the weights (safetensors) as files. */
  toFiles(): Record<string, Uint8Array | string> {
    const saved: SavedModel = {
      format: MODEL_FORMAT,
      version: 1,
      seed: this.seed,
      layers: [{ type: 'input', config: { shape: this.inputShape } }, ...this.layers.map((l) => withName(l))],
      ...(this.#compiled ? { compile: this.#compiled } : {}),
    };
    const tensors: NamedTensor[] = this.getWeights();
    return {
      [MODEL_FILE]: JSON.stringify(saved, null, 2),
      [WEIGHTS_FILE]: encodeSafetensors(tensors, { format: 'pt', producer: 'ballast' }),
    };
  }

  /** Saves `model.json` and `weights.safetensors` into a directory (Node). */
  async save(dir: string): Promise<void> {
    await platform().writeFiles(dir, this.toFiles());
  }

  dispose(): void {
    this.#model?.free();
    this.#model = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function withName(layer: Layer): LayerSpec {
  return { ...layer.spec, config: { ...layer.spec.config, name: layer.name } } as LayerSpec;
}

function addLayer(m: WasmModel, spec: LayerSpec): void {
  const name = (spec.config as { name?: string }).name ?? '';
  switch (spec.type) {
    case 'dense': {
      const c = spec.config;
      return m.addDense(name, c.units, c.activation, c.useBias, c.kernelInitializer, c.biasInitializer);
    }
    case 'conv2d': {
      const c = spec.config;
      return m.addConv2d(name, c.filters, Uint32Array.from(c.kernelSize as number[]), Uint32Array.from(c.strides as number[]), c.padding, c.activation, c.useBias, c.kernelInitializer, c.biasInitializer);
    }
    case 'maxPooling2d': {
      const c = spec.config;
      return m.addMaxPooling2d(name, Uint32Array.from(c.poolSize as number[]), Uint32Array.from(c.strides as number[]), c.padding);
    }
    case 'flatten':
      return m.addFlatten(name);
    case 'dropout':
      return m.addDropout(name, spec.config.rate);
    case 'activation':
      return m.addActivation(name, spec.config.activation);
    case 'batchNormalization': {
      const c = spec.config;
      const inits = [c.betaInitializer, c.gammaInitializer, c.movingMeanInitializer, c.movingVarianceInitializer];
      const clip = c.renormClipping;
      return m.addBatchNormalization(name, c.axis, c.momentum ?? NaN, c.epsilon, c.center, c.scale, inits, c.renorm, clip.rmax ?? Infinity, clip.dmax ?? Infinity, c.renormMomentum);
    }
    case 'layerNormalization': {
      const c = spec.config;
      return m.addLayerNormalization(name, c.axis, c.epsilon, c.center, c.scale, [c.betaInitializer, c.gammaInitializer]);
    }
    case 'groupNormalization': {
      const c = spec.config;
      return m.addGroupNormalization(name, c.groups, c.axis, c.epsilon, c.center, c.scale, [c.betaInitializer, c.gammaInitializer]);
    }
    case 'input':
      throw new ArgumentError('only the first layer may be an input layer');
  }
}

/** Rebuilds a model from the files `toFiles()` wrote; nothing is created if any check fails. */
export function modelFromFiles(modelJson: string, weights: Uint8Array, source = 'model'): Sequential {
  let saved: SavedModel;
  try {
    saved = JSON.parse(modelJson);
  } catch (e) {
    throw new DataError(`${source}/${MODEL_FILE}: not JSON (${(e as Error).message})`);
  }
  if (saved?.format !== MODEL_FORMAT || saved.version !== 1 || !Array.isArray(saved.layers)) {
    throw new DataError(`${source}/${MODEL_FILE}: not a Ballast model (format '${saved?.format}', version ${saved?.version})`);
  }
  const tensors = decodeSafetensors(weights, `${source}/${WEIGHTS_FILE}`);
  let model: Sequential | null = null;
  try {
    model = new Sequential(saved.layers.map(layerFromSpec), { seed: saved.seed });
    const expected = model.getWeights();
    const byName = new Map(tensors.map((t) => [t.name, t]));
    for (const w of expected) {
      const t = byName.get(w.name);
      if (!t) throw new DataError(`${source}/${WEIGHTS_FILE}: weight '${w.name}' is missing`);
      if (t.shape.join() !== w.shape.join()) {
        throw new DataError(`${source}/${WEIGHTS_FILE}: weight '${w.name}' has shape [${t.shape}], the model needs [${w.shape}]`);
      }
    }
    const extra = tensors.filter((t) => !expected.some((w) => w.name === t.name));
    if (extra.length) throw new DataError(`${source}/${WEIGHTS_FILE}: unexpected weights ${extra.map((t) => `'${t.name}'`).join(', ')}`);
    model.setWeights(tensors);
    if (saved.compile) model.compile(saved.compile);
    return model;
  } catch (err) {
    model?.dispose();
    if (err instanceof BallastError) throw err;
    throw new DataError(`${source}: ${(err as Error).message}`);
  }
}

/** Loads a model saved with `model.save(dir)`. */
export async function loadModel(dir: string): Promise<Sequential> {
  const p = platform();
  const [json, weights] = await Promise.all([p.readFile(`${dir}/${MODEL_FILE}`), p.readFile(`${dir}/${WEIGHTS_FILE}`)]);
  return modelFromFiles(new TextDecoder().decode(json), weights, dir);
}
