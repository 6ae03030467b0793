/**
 * `Model`: a Keras-style model whose graph of layers, weights and training step live in
 * WASM. Built from symbolic tensors (`new Model({ inputs, outputs })`) or, through
 * `Sequential`, from a list of layers. `fit` feeds it row indices of tensors already in WASM
 * memory, one batch per call.
 */
import type { Model as WasmModel } from '../wasm/threads/ballast_wasm.js';
import { ArgumentError, BallastError, DataError, ShapeError, StateError, guard, release, trapped } from './errors.js';
import { planGraph, type GraphPlan } from './functional.js';
import { Layer, SymbolicTensor } from './layers.js';
import { Callback, ProgbarLogger, verbosity, type CallbackHooks, type Logs, type TrainParams } from './callbacks.js';
import { checkOptions, describeValue } from './options.js';
import type { LossObject, LossSpec } from './losses.js';
import type { MetricObject, MetricSpec } from './metrics.js';
import type { OptimizerConfig } from './optimizers.js';
import { decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';
import { Tensor } from './tensor.js';
import { Inputs, tensor, type TensorLike } from './inputs.js';
import { RowBatch, fieldsOf } from './dataset.js';
import { platform, wasm } from './runtime.js';

export interface CompileOptions {
  /** `optimizers.adam({ ... })`, ..., or a name with its defaults (`'adam'`, `'sgd'`, `'rmsprop'`). */
  optimizer: OptimizerConfig | string;
  /** A name (`'categoricalCrossentropy'`, `'mse'`, ...) or a `losses.*()` object. */
  loss: LossSpec;
  /** Names (`'accuracy'`, `'mae'`, ...) or `metrics.*()` objects, logged under their names. */
  metrics?: MetricSpec[];
}

/** What a batch's logs hold besides the loss and metrics on that batch. */
export interface BatchInfo {
  epoch: number;
  batch: number;
  /** Examples in this batch. */
  size: number;
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

/** Callbacks: hook objects or `Callback`s (`callbacks.earlyStopping()`, ...), alone or in a list. */
export type Callbacks = CallbackHooks | Callback | Array<CallbackHooks | Callback>;

export interface FitOptions {
  /** Default 32. */
  batchSize?: number;
  /** The epoch to stop before (with `initialEpoch`, the number of the last). Default 1. */
  epochs?: number;
  /** Resume at this epoch (its shuffle and the history's epoch numbers follow). Default 0. */
  initialEpoch?: number;
  /** Shuffle the examples each epoch (seeded: the same seed gives the same batches). */
  shuffle?: boolean;
  seed?: number;
  /** Evaluated after each epoch; its results are logged with a `val_` prefix. */
  validationData?: [TensorLike, TensorLike];
  /** Hold out this last fraction of `x` and `y` (before shuffling, as Keras) for validation. */
  validationSplit?: number;
  /** Batch size of the validation; default the larger of `batchSize` and 256. */
  validationBatchSize?: number;
  /** Weights of the loss per class index (missing classes weigh 1). */
  classWeight?: Record<number, number> | number[];
  /** Weights of the loss per example of `x`. */
  sampleWeight?: Float32Array | number[];
  /** Batches per epoch (default: all of them). */
  stepsPerEpoch?: number;
  callbacks?: Callbacks;
  /** Resolves between batches; lets a page pause training or a Worker handle messages. */
  yieldEvery?: number;
  /**
   * Keras' progress: 1 the progress bar (redrawn in place on a terminal; elsewhere the finished
   * line of each epoch), 2 one line per epoch, 0 nothing. Default 1 when the output is a
   * terminal (Node's standard output is a TTY), else 0. A `ProgbarLogger` among the
   * callbacks takes its place.
   */
  verbose?: 0 | 1 | 2;
}

export interface FitDatasetOptions {
  /** The epoch to stop before (with `initialEpoch`, the number of the last). Default 1. */
  epochs?: number;
  /**
   * Batches per epoch (TF.js' name; Keras says `steps_per_epoch`). Given, one iterator runs
   * across epochs, each taking this many batches; if it runs out first, training stops with a
   * warning, as in TF.js. Omitted, each epoch iterates the dataset afresh to its end.
   */
  batchesPerEpoch?: number;
  /** Resume at this epoch (the history's epoch numbers follow). Default 0. */
  initialEpoch?: number;
  /** Evaluated after each epoch, logged with a `val_` prefix: a dataset of batches, or `[x, y]`. */
  validationData?: AsyncIterable<unknown> | Iterable<unknown> | [TensorLike, TensorLike];
  /** Batch size when `validationData` is `[x, y]`; default 256. */
  validationBatchSize?: number;
  /** Batches of a `validationData` dataset to evaluate (default: all). */
  validationBatches?: number;
  /** Weights of the loss per class index (missing classes weigh 1). */
  classWeight?: Record<number, number> | number[];
  callbacks?: Callbacks;
  /** Resolves between batches; lets a page pause training or a Worker handle messages. */
  yieldEvery?: number;
  /** As `fit`'s. */
  verbose?: 0 | 1 | 2;
}

export interface History {
  epoch: number[];
  /** Each epoch's logs by key: `loss`, the metrics, `val_` ones, `learning_rate`, `seconds`. */
  history: Record<string, number[]>;
}

export interface EvaluateOptions {
  /** Default 256. */
  batchSize?: number;
  /** Batches to evaluate (default: all). */
  steps?: number;
  sampleWeight?: Float32Array | number[];
  /** Return `{ loss, accuracy, ... }` instead of `[loss, ...metrics]`. */
  returnDict?: boolean;
}

export interface PredictOptions {
  /** Default 256. */
  batchSize?: number;
  /** Batches to predict (default: all). */
  steps?: number;
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
  /** The layers it takes its inputs from. */
  inputs: string[];
}

/** Where one layer spent its time in the last training step. */
export interface LayerTime {
  name: string;
  type: string;
  forwardMs: number;
  backwardMs: number;
}

/** One node of the core's graph, as it reports it. */
interface NodeRecord {
  name: string;
  className: string;
  config: Record<string, unknown>;
  inputs: string[];
  outputShape: number[];
  trainable: boolean;
  trainableParams: number;
  nonTrainableParams: number;
}

const WEIGHTS_FILE = 'weights.safetensors';
const MODEL_FILE = 'model.json';

/** What `model.json` holds besides the core's graph (which is its `format`, `version`, `nodes`, `inputs`, `outputs`). */
interface SavedExtras {
  /** `Sequential` or `Functional`, as Keras names them. */
  modelClass?: string;
  seed?: number;
  compile?: CompileOptions;
}

/** One batch for the training loop: rows of `x` and `y` for the core to gather. */
interface TrainBatch {
  x: Tensor;
  y: Tensor;
  rows: Uint32Array;
  weights: Float32Array;
  /** Runs the core's step, mapping its errors (fitDataset names the batch). */
  step?: <T>(run: () => T) => T;
  /** Frees what was made for this batch, after its step. */
  release?: () => void;
}

/** The batches of one epoch. */
interface EpochSource {
  /** Batches in the epoch, when known. */
  batches?: number;
  /** Examples in the epoch, when known. */
  examples?: number;
  /** The next batch, or null when the epoch is over. */
  next(epoch: number, batch: number): Promise<TrainBatch | null>;
  /** Called when the epoch ends, however it ends. */
  close(): Promise<void>;
  /** Whether the data ran out (training stops). */
  ranOut?(): boolean;
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
const single = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** How a model is made: from symbolic tensors, or (loading) from a handle the core built. */
type Source =
  | { inputs: SymbolicTensor | SymbolicTensor[]; outputs: SymbolicTensor | SymbolicTensor[] }
  | { plan: GraphPlan }
  | { handle: WasmModel };

export class Model {
  readonly seed: number;
  #model: WasmModel | null;
  #compiled: CompileOptions | null = null;
  #outputShape: number[] = [];
  #inputShape: number[] = [];
  #layers: readonly Layer[] = [];

  /**
   * A functional model from `layers.input()` to the output of the last layer applied:
   * `new Model({ inputs: inp, outputs: out })`. `seed` fixes the initial weights and the
   * dropout masks (with the same thread count, a run repeats exactly). Layers that already
   * belong to a built model (a base to fine-tune) keep their names and bring a copy of
   * their weights (Keras would share them): they stay that model's, and this model's
   * `layers` holds its own objects for them.
   */
  constructor(config: { inputs: SymbolicTensor | SymbolicTensor[]; outputs: SymbolicTensor | SymbolicTensor[]; seed?: number });
  /** @internal */
  constructor(config: Source & { seed?: number });
  constructor(config: Source & { seed?: number }) {
    if (config === null || typeof config !== 'object') throw new ArgumentError('new Model({ inputs, outputs }) needs its inputs and outputs');
    this.seed = config.seed ?? 1;
    if (!Number.isInteger(this.seed) || this.seed < 0 || this.seed > 0xffffffff) throw new ArgumentError(`seed must be an integer in [0, 2^32), got ${describeValue(config.seed)}`);
    if ('handle' in config) {
      this.#model = config.handle;
      this.#adopt(null);
      return;
    }
    const plan = 'plan' in config ? config.plan : planOf(config.inputs, config.outputs);
    const model = new (wasm().Model)(this.seed);
    try {
      guard(() => {
        // Names given by the user (or brought from another model) are taken first, so a default
        // name given earlier in graph order cannot claim one.
        model.reserveNames(plan.layers.flatMap((l) => (l.name ? [l.name] : [])));
        plan.layers.forEach((layer, i) => model.addLayer(layer.className, layer.options, Uint32Array.from(plan.inputs[i])));
        model.setOutputs(Uint32Array.from(plan.outputs));
      });
      // Weights of layers that come from another model (transfer learning), by name.
      const inherited = plan.layers.filter((l) => l.owner && l.name).flatMap((l) => l.owner!.getWeights().filter((w) => w.name.startsWith(`${l.name}/`)));
      if (inherited.length) setWeightsOn(model, inherited);
      // Statistics a layer adapted before it was in a model (Normalization) become its weights,
      // before the layers are adopted, so a refusal leaves them as they were.
      const names = (guard(() => model.nodes()) as NodeRecord[]).map((n) => n.name);
      const adapted = plan.layers.flatMap((l, i) => {
        const stats = l.owner ? undefined : l.adapted;
        return stats ? [{ name: `${names[i]}/mean`, values: stats.mean }, { name: `${names[i]}/variance`, values: stats.variance }] : [];
      });
      if (adapted.length) setWeightsOn(model, adapted);
    } catch (err) {
      release(model);
      throw err;
    }
    this.#model = model;
    // A layer of another model stays that model's; this one gets its own object for it.
    this.#adopt(plan.layers.map((l) => (l.owner ? null : l)));
  }

  /** Reads the graph back from the core: names, shapes, the layer list, symbolic outputs. */
  #adopt(layerObjects: Array<Layer | null> | null): void {
    const nodes = this.#nodes();
    const byName = new Map<string, Layer>();
    const list = nodes.map((node, i) => {
      const layer = layerObjects?.[i] ?? new Layer(node.className, { ...node.config, name: node.name, trainable: node.trainable });
      layer.builtName = node.name;
      layer.owner = this;
      // A layer built here from a list (Sequential) or a file gets its symbolic output, so
      // it can start a new graph (a new head on a trained base).
      layer.output ??= new SymbolicTensor(layer, node.inputs.map((n) => byName.get(n)!.output!), node.outputShape);
      byName.set(node.name, layer);
      return layer;
    });
    this.#layers = Object.freeze(list);
    this.#outputShape = Array.from(guard(() => this.#handle.outputShape()));
    this.#inputShape = [...nodes.find((n) => n.className === 'InputLayer')!.outputShape];
  }

  #nodes(): NodeRecord[] {
    return guard(() => this.#handle.nodes()) as NodeRecord[];
  }

  get #handle(): WasmModel {
    if (!this.#model) throw new StateError('model used after dispose()');
    return this.#model;
  }

  /** The model's input, a symbolic tensor: new layers applied to it start a new graph. */
  get inputs(): SymbolicTensor[] {
    return this.#layers.filter((l) => l.className === 'InputLayer').map((l) => l.output!);
  }

  /** The model's output, a symbolic tensor: a new head applied to it builds on this model. */
  get outputs(): SymbolicTensor[] {
    const read = new Set(this.#nodes().flatMap((n) => n.inputs));
    return this.#layers.filter((l) => !read.has(l.name!)).map((l) => l.output!);
  }

  /** Every layer, in graph order, input layers included (read-only). */
  get layers(): readonly Layer[] {
    return this.#layers;
  }

  /** One example's input shape, without the batch axis. */
  get inputShape(): number[] {
    return [...this.#inputShape];
  }

  get outputShape(): number[] {
    return [...this.#outputShape];
  }

  /** The layer named `name`. */
  getLayer(name: string): Layer {
    const layer = this.#layers.find((l) => l.name === name);
    if (!layer) throw new ArgumentError(`no layer named '${name}' (layers: ${this.#layers.map((l) => l.name).join(', ')})`);
    return layer;
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
    return guard(() => this.#handle.lastGradientHealth()) as LayerGradientHealth[];
  }

  /**
   * Where the last training step spent its time, in milliseconds per layer (forward and
   * backward), then the loss and bookkeeping (`other`), the optimizer and the total.
   */
  lastStepProfile(): LayerTime[] {
    const p = guard(() => this.#handle.lastStepProfile()) as {
      layers: Array<{ name: string; className: string; forwardMs: number; backwardMs: number }>; otherMs: number; optimizerMs: number; totalMs: number;
    };
    const row = (name: string, ms: number) => ({ name, type: name, forwardMs: ms, backwardMs: 0 });
    return [
      ...p.layers.map((l) => ({ name: l.name, type: l.className, forwardMs: l.forwardMs, backwardMs: l.backwardMs })),
      row('other', p.otherMs), row('optimizer', p.optimizerMs), row('total', p.totalMs),
    ];
  }

  /** Milliseconds per layer (graph order, as `layers`) of the last forward pass, whatever ran it. */
  lastForwardMs(): number[] {
    return Array.from(guard(() => this.#handle.lastForwardMs()));
  }

  /**
   * Sets the loss, the optimizer and the metrics; the core checks them all before the model
   * changes. Compiling again keeps the weights and starts the optimizer afresh.
   */
  compile(options: CompileOptions): void {
    checkOptions('compile', options, ['optimizer', 'loss', 'metrics']);
    const o = typeof options.optimizer === 'string' ? { className: options.optimizer, config: {} } : options.optimizer;
    if (o === null || typeof o !== 'object' || typeof o.className !== 'string') {
      throw new ArgumentError(`compile needs an optimizer: a name ('adam') or optimizers.adam({ ... }), got ${describeValue(o)}`);
    }
    guard(() => this.#handle.compile({
      loss: options.loss, optimizer: { className: o.className, config: o.config ?? {} }, metrics: options.metrics ?? [],
      ...(o.clipNorm !== undefined ? { clipNorm: o.clipNorm } : {}), ...(o.clipValue !== undefined ? { clipValue: o.clipValue } : {}),
    }));
    this.#compiled = { ...options };
    this.#metricNames = guard(() => this.#handle.metricNames());
  }

  /** The loss, optimizer and metrics as the core resolved them (`{ className, config }` each). */
  get compiledConfig(): { loss: LossObject; optimizer: OptimizerConfig; metrics: MetricObject[] } {
    this.#requireCompiled('compiledConfig');
    return guard(() => this.#handle.compiledConfig());
  }

  /** The names `fit`, `evaluate` and the logs report, in order: `loss`, then each metric. */
  get metricsNames(): string[] {
    this.#requireCompiled('metricsNames');
    return [...this.#metricNames];
  }

  /** The optimizer's current learning rate. */
  get learningRate(): number {
    this.#requireCompiled('learningRate');
    return guard(() => this.#handle.learningRate());
  }

  /**
   * Validation data checked as training data is, and its labels against the loss and metrics
   * by the core, on one example in inference mode, before anything trains (not after the first
   * epoch has changed the weights).
   */
  #checkValidationData(x: Tensor, y: Tensor, what: string): void {
    this.#checkData(x, y, what);
    guard(() => this.#handle.testStep(x.handle, y.handle, Uint32Array.of(0), NO_WEIGHTS));
    guard(() => this.#handle.resetMetrics());
  }

  #checkData(x: Tensor, y: Tensor | null, what: string): number {
    if (!(x instanceof Tensor)) throw new ArgumentError(`${what}: x must be a Tensor (make one with tensor(data, shape)), got ${describeValue(x)}`);
    if (y !== null && !(y instanceof Tensor)) throw new ArgumentError(`${what}: y must be a Tensor, got ${describeValue(y)}`);
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

  /**
   * Trains for `epochs` passes over `x`, `y`; returns the per-epoch history. Callbacks'
   * hooks are awaited; setting `model.stopTraining = true` in one ends training after the
   * current batch.
   */
  async fit(x: TensorLike, y: TensorLike, options?: FitOptions): Promise<History>;
  /**
   * Trains on an async-iterable dataset of `{ xs, ys }` batches, as Keras' `fit(dataset)`:
   * `fitDataset` with `stepsPerEpoch` as its `batchesPerEpoch`. Batch size, shuffling,
   * validationSplit and sampleWeight belong to the dataset, and are refused here.
   */
  async fit(dataset: AsyncIterable<unknown>, options?: FitOptions): Promise<History>;
  async fit(x: TensorLike | AsyncIterable<unknown>, y?: TensorLike | FitOptions, options: FitOptions = {}): Promise<History> {
    if (x !== null && typeof x === 'object' && !Array.isArray(x) && typeof (x as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function') {
      const o = (y ?? {}) as FitOptions;
      checkOptions('fit', o, ['epochs', 'initialEpoch', 'validationData', 'validationBatchSize', 'classWeight', 'stepsPerEpoch', 'callbacks', 'yieldEvery', 'verbose', 'batchSize', 'shuffle', 'seed', 'validationSplit', 'sampleWeight']);
      const misplaced = (['batchSize', 'shuffle', 'seed', 'validationSplit', 'sampleWeight'] as const).find((k) => o[k] !== undefined);
      if (misplaced) throw new ArgumentError(`fit: ${misplaced} does not apply to a dataset; shape the dataset instead (batch, shuffle, take)`);
      const { stepsPerEpoch, ...rest } = o;
      return this.fitDataset(x as AsyncIterable<unknown>, { ...rest, ...(stepsPerEpoch !== undefined ? { batchesPerEpoch: stepsPerEpoch } : {}) });
    }
    return this.#fitArrays(x as TensorLike, y as TensorLike, options);
  }

  async #fitArrays(x: TensorLike, y: TensorLike, options: FitOptions = {}): Promise<History> {
    checkOptions('fit', options, ['batchSize', 'epochs', 'initialEpoch', 'shuffle', 'seed', 'validationData', 'validationSplit', 'validationBatchSize', 'classWeight', 'sampleWeight', 'stepsPerEpoch', 'callbacks', 'yieldEvery', 'verbose']);
    this.#requireCompiled('fit');
    // Plain-JavaScript data becomes tensors for this call only.
    const inputs = new Inputs('fit');
    try {
      const tx = inputs.tensor(x, 'x', [this.inputShape]);
      const ty = inputs.tensor(y, 'y', this.#labelRows, tx.shape[0]);
      const v = options.validationData;
      if (v !== undefined && (!Array.isArray(v) || v.length !== 2)) throw new ArgumentError(`fit: validationData must be [x, y], got ${describeValue(v)}`);
      const vx = v && inputs.tensor(v[0], 'validationData[0]', [this.inputShape]);
      const validationData: [Tensor, Tensor] | undefined = v && [vx!, inputs.tensor(v[1], 'validationData[1]', this.#labelRows, vx!.shape[0])];
      return await this.#fit(tx, ty, { ...options, validationData });
    } finally {
      inputs.dispose();
    }
  }

  /** The rows a flat array of labels may have: the model's output, or one class index. */
  get #labelRows(): number[][] {
    return [this.outputShape, []];
  }

  async #fit(x: Tensor, y: Tensor, options: FitOptions & { validationData?: [Tensor, Tensor] }): Promise<History> {
    const total = this.#checkData(x, y, 'fit');
    const { batchSize = 32, epochs = 1, initialEpoch = 0, shuffle = true, seed = this.seed, validationData, validationSplit = 0, yieldEvery = 1 } = options;
    positiveInteger('fit', 'batchSize', batchSize);
    count('fit', 'epochs', epochs);
    count('fit', 'initialEpoch', initialEpoch);
    count('fit', 'yieldEvery', yieldEvery);
    if (typeof shuffle !== 'boolean') throw new ArgumentError(`fit: shuffle must be true or false, got ${describeValue(shuffle)}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentError(`fit: seed must be an integer in [0, 2^32), got ${describeValue(seed)}`);
    if (options.stepsPerEpoch !== undefined) positiveInteger('fit', 'stepsPerEpoch', options.stepsPerEpoch);
    if (typeof validationSplit !== 'number' || !(validationSplit >= 0 && validationSplit < 1)) {
      throw new ArgumentError(`fit: validationSplit must be a number in [0, 1), got ${describeValue(validationSplit)}`);
    }
    if (validationData && validationSplit > 0) throw new ArgumentError('fit: give validationData or validationSplit, not both');
    if (validationData !== undefined) {
      this.#checkValidationData(validationData[0], validationData[1], 'fit validationData');
    }
    // Keras holds out the last examples, before any shuffling.
    const held = Math.floor(total * validationSplit);
    const n = total - held;
    if (validationSplit > 0 && (held === 0 || n === 0)) {
      throw new ArgumentError(`fit: validationSplit ${validationSplit} of ${total} examples leaves ${held === 0 ? 'no validation' : 'no training'} examples`);
    }
    const sampleWeight = options.sampleWeight === undefined ? null : weightsFor('fit', options.sampleWeight, total);
    const verbose = options.verbose === undefined ? (platform().progressOutput().isTTY ? 1 : 0) : verbosity(options.verbose);
    const steps = Math.min(batchesOf(new Uint32Array(n), batchSize).length, options.stepsPerEpoch ?? Infinity);
    const validationBatchSize = options.validationBatchSize ?? Math.max(batchSize, 256);
    positiveInteger('fit', 'validationBatchSize', validationBatchSize);
    // Last: binding the callbacks to this model changes them, so every check comes first.
    const hooks = this.#callbackList(options.callbacks, verbose, { epochs, steps, verbose });
    const epochSource = (epoch: number): EpochSource => {
      const order = guard(() => wasm().batchOrder(n, shuffle, seed, epoch));
      let batches = batchesOf(order, batchSize);
      if (options.stepsPerEpoch !== undefined) batches = batches.slice(0, options.stepsPerEpoch);
      let b = 0;
      return {
        batches: batches.length,
        examples: batches.reduce((s, r) => s + r.length, 0),
        next: async () => {
          if (b >= batches.length) return null;
          const rows = batches[b++];
          return { x, y, rows, weights: gatherWeights(sampleWeight, rows) };
        },
        close: async () => {},
      };
    };
    const validate = validationData || held > 0
      ? () => {
        const [vx, vy, rows] = validationData ? [validationData[0], validationData[1], null] : [x, y, range(n, total)];
        return this.#evaluateRows(vx, vy, rows, validationBatchSize, Infinity, rows ? sampleWeight : null);
      }
      : null;
    return this.#trainLoop({ what: 'fit', epochs, initialEpoch, yieldEvery, hooks, classWeight: options.classWeight, epochSource, validate });
  }

  /**
   * Trains on batches streamed from `dataset` (TF.js' `fitDataset`): anything async-iterable
   * or iterable whose elements are `{ xs, ys }` (or `{ x, y }`) batches of tensors, typed
   * arrays shaped by the model, nested arrays or `{ values, shape }`, such as
   * `datasets.fromArrays(x, y).batch(32)`. Each batch is checked before it trains (its shape,
   * its values, a non-empty batch); a refused batch is an error naming it, with the model as
   * it was after the batch before. The next batch is requested while the current one trains.
   * Tensors made from plain batches are freed after their step. Callbacks, progress, history
   * and NumericError are as in `fit`.
   */
  async fitDataset(dataset: AsyncIterable<unknown> | Iterable<unknown>, options: FitDatasetOptions = {}): Promise<History> {
    checkOptions('fitDataset', options, ['epochs', 'batchesPerEpoch', 'initialEpoch', 'validationData', 'validationBatchSize', 'validationBatches', 'classWeight', 'callbacks', 'yieldEvery', 'verbose']);
    this.#requireCompiled('fitDataset');
    const open = iteratorOf(dataset, 'fitDataset', 'dataset');
    const { epochs = 1, initialEpoch = 0, yieldEvery = 1, batchesPerEpoch } = options;
    count('fitDataset', 'epochs', epochs);
    count('fitDataset', 'initialEpoch', initialEpoch);
    count('fitDataset', 'yieldEvery', yieldEvery);
    if (batchesPerEpoch !== undefined) positiveInteger('fitDataset', 'batchesPerEpoch', batchesPerEpoch);
    if (options.validationBatches !== undefined) positiveInteger('fitDataset', 'validationBatches', options.validationBatches);
    const validationBatchSize = options.validationBatchSize ?? 256;
    positiveInteger('fitDataset', 'validationBatchSize', validationBatchSize);
    const v = options.validationData;
    const inputs = new Inputs('fitDataset');
    try {
      let validate: (() => Promise<Record<string, number>>) | null = null;
      if (Array.isArray(v)) {
        if (v.length !== 2) throw new ArgumentError(`fitDataset: validationData must be a dataset or [x, y], got an array of ${v.length}`);
        const vx = inputs.tensor(v[0], 'validationData[0]', [this.inputShape]);
        const vy = inputs.tensor(v[1], 'validationData[1]', this.#labelRows, vx.shape[0]);
        if (options.validationBatches !== undefined) {
          throw new ArgumentError('fitDataset: validationBatches is for a validation dataset; with validationData [x, y], give validationBatchSize');
        }
        this.#checkValidationData(vx, vy, 'fitDataset validationData');
        validate = () => this.#evaluateRows(vx, vy, null, validationBatchSize, Infinity, null);
      } else if (v !== undefined) {
        if (options.validationBatchSize !== undefined) {
          throw new ArgumentError('fitDataset: validationBatchSize is for validationData [x, y]; a validation dataset brings its own batches (limit them with validationBatches)');
        }
        const openValidation = iteratorOf(v, 'fitDataset', 'validationData');
        validate = () => this.#evaluateStream(openValidation(), options.validationBatches ?? Infinity);
      }
      const verbose = options.verbose === undefined ? (platform().progressOutput().isTTY ? 1 : 0) : verbosity(options.verbose);
      const hooks = this.#callbackList(options.callbacks, verbose, { epochs, steps: batchesPerEpoch, verbose }, 'fitDataset');
      // With batchesPerEpoch, one iterator across epochs (TF.js); without, a new one each epoch.
      const stream = new BatchStream(open, 'fitDataset');
      const epochSource = (epoch: number): EpochSource => {
        if (batchesPerEpoch === undefined) stream.restart();
        let taken = 0;
        let ranOut = false;
        return {
          batches: batchesPerEpoch,
          next: async (e, b) => {
            if (batchesPerEpoch !== undefined && taken >= batchesPerEpoch) return null;
            const where = `fitDataset: epoch ${e} batch ${b}`;
            const value = await stream.next(where, batchesPerEpoch === undefined || taken + 1 < batchesPerEpoch || e + 1 < epochs);
            if (value === DONE) {
              if (batchesPerEpoch !== undefined) {
                ranOut = true;
                this.stopTraining = true;
                console.warn(`fitDataset: batchesPerEpoch is ${batchesPerEpoch}, but the dataset ran out after ${b} batches in epoch ${e}; training stops. ` +
                  `Make sure the dataset yields at least batchesPerEpoch * epochs batches (dataset.repeat()).`);
              } else if (b === 0) {
                throw new DataError(`fitDataset: the dataset yielded no batches in epoch ${e}` +
                  (e > initialEpoch ? ' (an iterator or generator object can be iterated once; use datasets.fromGenerator(fn) to start it again each epoch)' : ''));
              }
              return null;
            }
            taken++;
            return this.#streamBatch(value, where);
          },
          close: async () => {
            if (batchesPerEpoch === undefined || this.stopTraining || epoch + 1 >= epochs) await stream.close();
          },
          ranOut: () => ranOut,
        };
      };
      try {
        return await this.#trainLoop({ what: 'fitDataset', epochs, initialEpoch, yieldEvery, hooks, classWeight: options.classWeight, epochSource, validate });
      } finally {
        await stream.close();
      }
    } finally {
      inputs.dispose();
    }
  }

  /** A streamed batch checked against the model and made ready for the core; `where` names it. */
  #streamBatch(value: unknown, where: string): TrainBatch {
    const step = <T>(run: () => T): T => {
      try {
        return guard(run);
      } catch (err) {
        throw inBatch(err, where);
      }
    };
    if (value instanceof RowBatch) {
      if (value.rows.length === 0) throw new ShapeError(`${where}: an empty batch`);
      const x = value.x;
      const y = value.y;
      this.#checkData(x, y, where);
      return { x, y, rows: value.rows, weights: NO_WEIGHTS, step };
    }
    const f = fieldsOf(value);
    if (!f) throw new ArgumentError(`${where}: a batch must be { xs, ys } (or { x, y }), got ${describeValue(value)}`);
    const inputs = new Inputs(where);
    try {
      const x = inputs.tensor(f.xs, 'xs', [this.inputShape]);
      if (x.shape[0] === 0) throw new ShapeError(`${where}: an empty batch (xs has shape [${x.shape.join(', ')}])`);
      const y = inputs.tensor(f.ys, 'ys', this.#labelRows, x.shape[0]);
      this.#checkData(x, y, where);
      return { x, y, rows: guard(() => wasm().batchOrder(x.shape[0], false, 0, 0)), weights: NO_WEIGHTS, step, release: () => inputs.dispose() };
    } catch (err) {
      inputs.dispose();
      throw err;
    }
  }

  /** Loss and metrics over the batches of a validation dataset, by name. */
  async #evaluateStream(it: AsyncIterator<unknown>, most: number): Promise<Record<string, number>> {
    const stream = new BatchStream(() => it, 'fitDataset');
    guard(() => this.#handle.resetMetrics());
    let b = 0;
    try {
      for (; b < most; b++) {
        const where = `fitDataset: validationData batch ${b}`;
        const value = await stream.next(where, b + 1 < most);
        if (value === DONE) break;
        const batch = this.#streamBatch(value, where);
        try {
          batch.step!(() => this.#handle.testStep(batch.x.handle, batch.y.handle, batch.rows, batch.weights));
        } finally {
          batch.release?.();
        }
        await nextTick();
      }
    } finally {
      await stream.close();
    }
    if (b === 0) throw new DataError('fitDataset: validationData yielded no batches');
    return named(this.#metricNames, guard(() => this.#handle.metricResults()));
  }

  /**
   * The epoch and batch loop of `fit` and `fitDataset`: callbacks, metrics, `stopTraining`,
   * validation at each epoch's end and the history. Each epoch's batches come from
   * `epochSource`; a batch is trained by the core's gather of its rows.
   */
  async #trainLoop(o: {
    what: string; epochs: number; initialEpoch: number; yieldEvery: number; hooks: HookList;
    classWeight: FitOptions['classWeight']; epochSource: (epoch: number) => EpochSource;
    validate: (() => Promise<Record<string, number>>) | null;
  }): Promise<History> {
    const { epochs, initialEpoch, yieldEvery, hooks } = o;
    const [classes, classWeights] = o.classWeight === undefined ? [new Float64Array(0), new Float32Array(0)] : classWeightPairs(o.classWeight, o.what);
    guard(() => this.#handle.setClassWeight(classes, classWeights));
    const history: History = { epoch: [], history: {} };
    this.stopTraining = false;
    const names = this.#metricNames;
    try {
      await hooks.call('onTrainBegin', {});
      let last: Logs = {};
      for (let epoch = initialEpoch; epoch < epochs && !this.stopTraining; epoch++) {
        await hooks.call('onEpochBegin', epoch, {});
        const source = o.epochSource(epoch);
        const start = performance.now();
        let seen = 0;
        let trained = 0;
        guard(() => this.#handle.resetMetrics());
        try {
          for (let b = 0; !this.stopTraining; b++) {
            const batch = await source.next(epoch, b);
            if (batch === null) break;
            const { rows } = batch;
            try {
              await hooks.call('onBatchBegin', b, { batch: b, size: rows.length });
              const values = batch.step
                ? batch.step(() => this.#handle.trainStep(batch.x.handle, batch.y.handle, rows, batch.weights))
                : guard(() => this.#handle.trainStep(batch.x.handle, batch.y.handle, rows, batch.weights));
              seen += rows.length;
              trained += 1;
              if (hooks.wants('onBatchEnd')) {
                const seconds = (performance.now() - start) / 1000;
                const rate = seen / Math.max(seconds, 1e-9);
                const logs: Logs = { ...named(names, values), epoch, batch: b, size: rows.length };
                if (source.batches !== undefined) logs.batches = source.batches;
                logs.examplesPerSecond = rate;
                if (source.examples !== undefined) logs.etaSeconds = (source.examples - seen) / rate;
                else if (source.batches !== undefined) logs.etaSeconds = ((source.batches - trained) * seconds) / trained;
                await hooks.call('onBatchEnd', b, logs);
              }
            } finally {
              batch.release?.();
            }
            if (yieldEvery > 0 && (b + 1) % yieldEvery === 0) await nextTick();
          }
        } finally {
          await source.close();
        }
        // An iterator that ran out before this epoch's first batch ends training here.
        if (trained === 0 && source.ranOut?.()) break;
        const logs: Logs = named(names, guard(() => this.#handle.metricResults()));
        logs.seconds = (performance.now() - start) / 1000;
        if (o.validate) {
          const val = await o.validate();
          for (const [k, v] of Object.entries(val)) logs[`val_${k}`] = v;
        }
        logs.learning_rate = this.learningRate;
        await hooks.call('onEpochEnd', epoch, logs);
        // After the callbacks, as Keras' History: what they add to the logs is kept too.
        history.epoch.push(epoch);
        for (const [k, v] of Object.entries(logs)) (history.history[k] ??= []).push(v);
        last = logs;
      }
      // With useEma, the weights become their moving averages (Keras' finalize_variable_values).
      guard(() => this.#handle.finalizeOptimizer());
      await hooks.call('onTrainEnd', last);
    } finally {
      // Not after a trap: the StateError that cleanup would get must not replace its error.
      if (!trapped()) guard(() => this.#handle.setClassWeight(new Float64Array(0), new Float32Array(0)));
    }
    return history;
  }

  /** Set it in a callback to end `fit` after the current batch; `fit` clears it when it starts. */
  stopTraining = false;

  #metricNames: string[] = [];

  /** The callbacks of a fit, normalized to a list, each bound to this model. */
  #callbackList(given: Callbacks | undefined, verbose: 0 | 1 | 2, params: TrainParams, what = 'fit'): HookList {
    const list = given === undefined ? [] : Array.isArray(given) ? [...given] : [given];
    list.forEach((c, i) => {
      if (c === null || typeof c !== 'object') throw new ArgumentError(`${what}: callback ${i} must be an object of hooks or a Callback, got ${describeValue(c)}`);
      if (c instanceof Callback) {
        c.setModel(this);
        c.setParams(params);
        return;
      }
      const unknown = Object.keys(c).find((k) => !(HOOKS as readonly string[]).includes(k));
      if (unknown !== undefined) throw new ArgumentError(`${what}: unknown callback hook '${unknown}' (hooks: ${HOOKS.join(', ')})`);
      for (const k of HOOKS) {
        const hook = (c as Record<string, unknown>)[k];
        if (hook !== undefined && typeof hook !== 'function') throw new ArgumentError(`${what}: callback hook '${k}' must be a function`);
      }
    });
    // The progress line comes first, so what other callbacks print at an epoch's end follows it.
    if (verbose > 0 && !list.some((c) => c instanceof ProgbarLogger)) {
      const progress = new ProgbarLogger({ verbose: verbose as 1 | 2 });
      progress.setModel(this);
      progress.setParams(params);
      list.unshift(progress);
    }
    return new HookList(list as CallbackHooks[]);
  }

  /**
   * The loss and metrics in inference mode: `[loss, ...metrics]` in `metricsNames` order, or
   * with `returnDict` an object by name.
   */
  async evaluate(x: TensorLike, y: TensorLike, options: EvaluateOptions & { returnDict: true }): Promise<Record<string, number>>;
  async evaluate(x: TensorLike, y: TensorLike, options?: EvaluateOptions): Promise<number[]>;
  async evaluate(x: TensorLike, y: TensorLike, options: EvaluateOptions = {}): Promise<number[] | Record<string, number>> {
    checkOptions('evaluate', options, ['batchSize', 'steps', 'sampleWeight', 'returnDict']);
    this.#requireCompiled('evaluate');
    const inputs = new Inputs('evaluate');
    try {
      const tx = inputs.tensor(x, 'x', [this.inputShape]);
      return await this.#evaluate(tx, inputs.tensor(y, 'y', this.#labelRows, tx.shape[0]), options);
    } finally {
      inputs.dispose();
    }
  }

  async #evaluate(x: Tensor, y: Tensor, options: EvaluateOptions): Promise<number[] | Record<string, number>> {
    const n = this.#checkData(x, y, 'evaluate');
    const { batchSize = 256, steps = Infinity, returnDict = false } = options;
    positiveInteger('evaluate', 'batchSize', batchSize);
    if (steps !== Infinity) positiveInteger('evaluate', 'steps', steps);
    const weights = options.sampleWeight === undefined ? null : weightsFor('evaluate', options.sampleWeight, n);
    const results = await this.#evaluateRows(x, y, null, batchSize, steps, weights);
    return returnDict ? results : Object.values(results);
  }

  /** Loss and metrics over `rows` of `x`, `y` (all rows when null), by name. */
  async #evaluateRows(x: Tensor, y: Tensor, rows: Uint32Array | null, batchSize: number, steps: number, weights: Float32Array | null): Promise<Record<string, number>> {
    const order = rows ?? guard(() => wasm().batchOrder(x.shape[0], false, 0, 0));
    guard(() => this.#handle.resetMetrics());
    const batches = batchesOf(order, batchSize);
    for (let b = 0; b < Math.min(batches.length, steps); b++) {
      guard(() => this.#handle.testStep(x.handle, y.handle, batches[b], gatherWeights(weights, batches[b])));
      await nextTick();
    }
    return named(this.#metricNames, guard(() => this.#handle.metricResults()));
  }

  /** Outputs for every row of `x` (or the first `steps` batches), in inference mode. */
  async predict(x: TensorLike, options: PredictOptions = {}): Promise<Tensor> {
    checkOptions('predict', options, ['batchSize', 'steps']);
    const inputs = new Inputs('predict');
    try {
      return await this.#predict(inputs.tensor(x, 'x', [this.inputShape]), options);
    } finally {
      inputs.dispose();
    }
  }

  async #predict(x: Tensor, options: PredictOptions): Promise<Tensor> {
    const total = this.#checkData(x, null, 'predict');
    const { batchSize = 256, steps } = options;
    positiveInteger('predict', 'batchSize', batchSize);
    if (steps !== undefined) positiveInteger('predict', 'steps', steps);
    const n = steps === undefined ? total : Math.min(total, steps * batchSize);
    const perRow = this.#outputShape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n * perRow);
    const order = guard(() => wasm().batchOrder(total, false, 0, 0));
    for (let i = 0; i < n; i += batchSize) {
      const rows = order.subarray(i, Math.min(i + batchSize, n));
      const part = guard(() => this.#handle.predict(x.handle, rows));
      out.set(part.data(), i * perRow);
      release(part);
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
    setWeightsOn(this.#handle, weights);
  }

  /** @internal Runs one layer alone; see `Layer.apply`. */
  applyLayer(name: string, inputs: Tensor[], training: boolean): Tensor {
    const list = new (wasm().TensorList)();
    try {
      inputs.forEach((t) => list.push(t.handle));
      return new Tensor(guard(() => this.#handle.applyLayer(name, list, training)));
    } finally {
      release(list);
    }
  }

  /** Freezes (false) or unfreezes a layer; a frozen BatchNormalization runs in inference mode. */
  setTrainable(layer: Layer | string, trainable: boolean): void {
    const name = typeof layer === 'string' ? layer : layer instanceof Layer ? layer.name : undefined;
    if (name === undefined) throw new ArgumentError(`setTrainable needs a layer of this model or its name, got ${describeValue(layer)}`);
    if (typeof trainable !== 'boolean') throw new ArgumentError(`setTrainable: trainable must be true or false, got ${describeValue(trainable)}`);
    guard(() => this.#handle.setTrainable(name, trainable));
    this.#layers.find((l) => l.name === name)?.markTrainable(trainable);
  }

  setLearningRate(learningRate: number): void {
    if (typeof learningRate !== 'number') throw new ArgumentError(`setLearningRate: the learning rate must be a number, got ${describeValue(learningRate)}`);
    guard(() => this.#handle.setLearningRate(learningRate));
  }

  /**
   * Precise BN (Wu & Johnson, 2021): recomputes each BatchNormalization's moving statistics
   * as population statistics over `batches` batches of `x`, in training mode, without
   * changing any weight. Returns the number of batches used.
   */
  recalibrateBatchNorm(x: Tensor, options: { batchSize?: number; batches?: number; seed?: number } = {}): number {
    this.#requireCompiled('recalibrateBatchNorm');
    checkOptions('recalibrateBatchNorm', options, ['batchSize', 'batches', 'seed']);
    const n = this.#checkData(x, null, 'recalibrateBatchNorm');
    const { batchSize = 128, batches = 100, seed = this.seed } = options;
    positiveInteger('recalibrateBatchNorm', 'batchSize', batchSize);
    positiveInteger('recalibrateBatchNorm', 'batches', batches);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new ArgumentError(`recalibrateBatchNorm: seed must be an integer in [0, 2^32), got ${describeValue(seed)}`);
    const count = Math.min(batches, Math.ceil(n / batchSize));
    const order = guard(() => wasm().batchOrder(n, true, seed, 0)).subarray(0, count * batchSize);
    return guard(() => this.#handle.recalibrateBatchNorm(x.handle, order, batchSize));
  }

  /**
   * Folds each BatchNormalization fed only by a Conv2D/Dense without activation into it, for
   * inference; the folded layers leave the model (`layers`, `summary`, `save`). Returns
   * their names. Compile again to train.
   */
  foldBatchNorm(): string[] {
    const folded = guard(() => this.#handle.foldBatchNorm());
    if (folded.length === 0) return folded;
    // The rewrite changed configs (a bias added) and connections: the model's layer objects
    // are made anew from it, and the old ones leave it.
    for (const l of this.#layers) l.owner = undefined;
    this.#adopt(null);
    this.#compiled = null;
    return folded;
  }

  summaryRows(): SummaryRow[] {
    return this.#nodes().map((n) => ({
      name: n.name,
      type: n.className,
      outputShape: [null, ...n.outputShape],
      params: n.trainableParams + n.nonTrainableParams,
      trainable: n.trainableParams,
      inputs: n.inputs,
    }));
  }

  /** Prints a Keras-style summary table (with a "Connected to" column when the graph branches). */
  summary(print: (line: string) => void = console.log): void {
    const rows = this.summaryRows();
    const chain = rows.every((r, i) => (i === 0 ? r.inputs.length <= 1 : r.inputs.length === 1 && r.inputs[0] === rows[i - 1].name));
    const cells = rows.map((r) => [`${r.name} (${r.type})`, `(${r.outputShape.map((d) => d ?? 'None').join(', ')})`, String(r.params), ...(chain ? [] : [r.inputs.join(', ') || '-'])]);
    const head = ['Layer (type)', 'Output Shape', 'Param #', ...(chain ? [] : ['Connected to'])];
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

  /** @internal Keras' class name of this kind of model, saved in `model.json`. */
  protected get modelClass(): string {
    return 'Functional';
  }

  /** The architecture (`model.json`: the core's graph, format 2) and the weights (safetensors) as files. */
  toFiles(): Record<string, Uint8Array | string> {
    const saved = {
      ...(guard(() => this.#handle.spec()) as Record<string, unknown>),
      modelClass: this.modelClass,
      seed: this.seed,
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
    release(this.#model);
    this.#model = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

function setWeightsOn(m: WasmModel, weights: Array<{ name: string; values: Float32Array | number[] }>): void {
  if (!Array.isArray(weights)) throw new ArgumentError(`setWeights takes a list of { name, values }, got ${describeValue(weights)}`);
  // A loop over indices, not forEach: holes in the list are entries too.
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    if (w === null || typeof w !== 'object' || typeof w.name !== 'string') throw new ArgumentError(`setWeights: entry ${i} needs a string 'name', got ${describeValue(w)}`);
    if (!(w.values instanceof Float32Array || Array.isArray(w.values))) throw new ArgumentError(`setWeights: weight '${w.name}' needs 'values' as a Float32Array or an array of numbers`);
    if (Array.isArray(w.values)) {
      const bad = Array.from(w.values, (v) => typeof v).findIndex((t) => t !== 'number');
      if (bad >= 0) throw new ArgumentError(`setWeights: weight '${w.name}' values[${bad}] must be a number, got ${describeValue(w.values[bad])}`);
    }
  }
  const all = new Float32Array(weights.reduce((s, w) => s + w.values.length, 0));
  let at = 0;
  for (const w of weights) {
    all.set(w.values, at);
    at += w.values.length;
  }
  guard(() => m.setWeights(weights.map((w) => w.name), Uint32Array.from(weights, (w) => w.values.length), all));
}

/** The plan of a functional model, which has one input and one output for now. */
function planOf(inputs: SymbolicTensor | SymbolicTensor[], outputs: SymbolicTensor | SymbolicTensor[]): GraphPlan {
  const [ins, outs] = [single(inputs), single(outputs)];
  if (ins.length !== 1 || outs.length !== 1) {
    throw new ArgumentError(`a model has one input and one output for now (got ${ins.length} inputs and ${outs.length} outputs)`);
  }
  return planGraph(ins, outs);
}

/** Keras class names of the models `model.json` may hold, and how to make each from a loaded handle. */
const modelClasses = new Map<string, (handle: WasmModel, seed: number) => Model>([
  ['Functional', (handle, seed) => new Model({ handle, seed })],
]);

/** @internal Lets `Sequential` register itself for loading without a circular import. */
export function registerModelClass(name: string, make: (handle: WasmModel, seed: number) => Model): void {
  modelClasses.set(name, make);
}

/**
 * Rebuilds a model from the files `toFiles()` wrote (or a version 1 `ballast-sequential`
 * model); nothing is created if any check fails.
 */
export function modelFromFiles(modelJson: string, weights: Uint8Array, source = 'model'): Model {
  if (typeof source !== 'string') throw new ArgumentError(`modelFromFiles: source must be a string naming the model, got ${describeValue(source)}`);
  if (typeof modelJson !== 'string') throw new ArgumentError(`modelFromFiles: model.json must be given as a string, got ${describeValue(modelJson)}`);
  if (!(weights instanceof Uint8Array)) throw new ArgumentError(`modelFromFiles: the weights must be a Uint8Array, got ${describeValue(weights)}`);
  let saved: Record<string, unknown> & SavedExtras;
  try {
    saved = JSON.parse(modelJson);
  } catch (e) {
    throw new DataError(`${source}/${MODEL_FILE}: not JSON (${(e as Error).message})`);
  }
  if (saved === null || typeof saved !== 'object' || Array.isArray(saved)) throw new DataError(`${source}/${MODEL_FILE}: not a Ballast model (not an object)`);
  const { modelClass, seed = 1, compile, ...spec } = saved;
  // Version 1 files held only Sequential models.
  const className = modelClass ?? (spec.format === 'ballast-sequential' ? 'Sequential' : 'Functional');
  const make = modelClasses.get(className);
  if (!make) throw new DataError(`${source}/${MODEL_FILE}: unknown model class '${className}' (${[...modelClasses.keys()].join(', ')})`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new DataError(`${source}/${MODEL_FILE}: seed must be an integer in [0, 2^32), got ${JSON.stringify(seed)}`);
  const tensors = decodeSafetensors(weights, `${source}/${WEIGHTS_FILE}`);
  let model: Model | null = null;
  let handle: WasmModel | null = null;
  try {
    handle = guard(() => wasm().Model.fromSpec(spec, seed));
    model = make(handle, seed);
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
    if (compile) model.compile(upgradeCompile(compile));
    return model;
  } catch (err) {
    if (model) model.dispose();
    else release(handle);
    if (err instanceof DataError) throw new DataError(err.message.startsWith(source) ? err.message : `${source}/${MODEL_FILE}: ${err.message}`);
    if (err instanceof BallastError) throw new DataError(`${source}/${MODEL_FILE}: ${err.message}`);
    throw new DataError(`${source}: ${(err as Error).message}`);
  }
}

/** Loads a model saved with `model.save(dir)`. */
export async function loadModel(dir: string): Promise<Model> {
  if (typeof dir !== 'string' || dir === '') throw new ArgumentError(`loadModel needs a directory (a path), got ${describeValue(dir)}`);
  const p = platform();
  const [json, weights] = await Promise.all([p.readFile(`${dir}/${MODEL_FILE}`), p.readFile(`${dir}/${WEIGHTS_FILE}`)]);
  return modelFromFiles(new TextDecoder().decode(json), weights, dir);
}

const HOOKS = ['onTrainBegin', 'onTrainEnd', 'onEpochBegin', 'onEpochEnd', 'onBatchBegin', 'onBatchEnd'] as const;
type HookName = (typeof HOOKS)[number];

/** The callbacks of one fit, each hook awaited in the order the callbacks were given. */
class HookList {
  constructor(private readonly list: CallbackHooks[]) {}
  wants(hook: HookName): boolean {
    return this.list.some((c) => typeof c[hook] === 'function');
  }
  async call(hook: HookName, ...args: unknown[]): Promise<void> {
    for (const c of this.list) {
      const f = c[hook] as ((...a: unknown[]) => void | Promise<void>) | undefined;
      if (typeof f === 'function') await f.apply(c, args);
    }
  }
}

function positiveInteger(what: string, key: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${what}: ${key} must be a positive integer, got ${describeValue(v)}`);
}

function count(what: string, key: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new ArgumentError(`${what}: ${key} must be a non-negative integer, got ${describeValue(v)}`);
}

/**
 * Keras' class weights (`{ classIndex: weight }` or a list) as two arrays for the core, which
 * owns the rules (the classes of the model, missing ones weighing 1, the ranges).
 */
function classWeightPairs(given: Record<number, number> | number[], what: string): [Float64Array, Float32Array] {
  if (given === null || typeof given !== 'object') throw new ArgumentError(`${what}: classWeight must map class indices to weights, got ${describeValue(given)}`);
  const entries = Object.entries(given);
  for (const [key, value] of entries) {
    if (typeof value !== 'number') throw new ArgumentError(`${what}: classWeight for class ${key} must be a non-negative number, got ${describeValue(value)}`);
  }
  // Object keys are strings: a key that is not a number reaches the core as NaN, which it refuses.
  return [Float64Array.from(entries, ([key]) => (key.trim() === '' ? NaN : Number(key))), Float32Array.from(entries, ([, v]) => v)];
}

/** Per-example weights, checked against the number of examples. */
function weightsFor(what: string, w: Float32Array | number[], n: number): Float32Array {
  if (!(w instanceof Float32Array) && !Array.isArray(w)) throw new ArgumentError(`${what}: sampleWeight must be a Float32Array or an array of numbers, got ${describeValue(w)}`);
  if (w.length !== n) throw new ShapeError(`${what}: sampleWeight has ${w.length} weights for ${n} examples`);
  const notNumber = Array.isArray(w) ? Array.from(w, (v) => typeof v).findIndex((t) => t !== 'number') : -1;
  if (notNumber >= 0) throw new ArgumentError(`${what}: sampleWeight[${notNumber}] must be a number, got ${describeValue(w[notNumber])}`);
  const out = Float32Array.from(w);
  const bad = out.findIndex((v) => !(v >= 0) || !Number.isFinite(v));
  if (bad >= 0) throw new ArgumentError(`${what}: sampleWeight ${describeValue(w[bad])} at index ${bad} is not a non-negative number`);
  return out;
}

const NO_WEIGHTS = new Float32Array(0);

const DONE: unique symbol = Symbol('done');

/** `source` as a way to start an iteration; anything else is refused. */
function iteratorOf(source: unknown, what: string, name: string): () => AsyncIterator<unknown> {
  const s = source as Partial<AsyncIterable<unknown> & Iterable<unknown>> | null;
  if (s !== null && typeof s === 'object' && !(s instanceof Tensor) && !ArrayBuffer.isView(s)) {
    if (typeof s[Symbol.asyncIterator] === 'function') return () => s[Symbol.asyncIterator]!();
    if (typeof s[Symbol.iterator] === 'function') {
      return () => {
        const it = s[Symbol.iterator]!();
        return { next: async () => it.next(), return: async () => it.return?.() ?? { done: true, value: undefined } };
      };
    }
  }
  throw new ArgumentError(`${what}: ${name} must be a dataset (async-iterable or iterable batches { xs, ys }), got ${describeValue(source)}`);
}

/**
 * Batches pulled from an iterator one ahead: the next is requested as soon as the current one
 * is handed out, so an iterator that waits (files, the network) does so while a step runs.
 * What the iterator throws becomes a DataError naming the batch, with the error as its cause.
 */
class BatchStream {
  #it: AsyncIterator<unknown> | null = null;
  #pending: Promise<IteratorResult<unknown>> | null = null;
  constructor(
    private readonly open: () => AsyncIterator<unknown>,
    private readonly what: string,
  ) {}
  restart(): void {
    if (this.#it) throw new StateError(`${this.what}: internal: restart before close`);
  }
  #request(): Promise<IteratorResult<unknown>> {
    const it = (this.#it ??= this.open());
    const p = (async () => it.next())();
    p.catch(() => {}); // awaited when its turn comes; not unhandled meanwhile
    return p;
  }
  /** The next value, or DONE; `more` says whether another will be wanted after it. */
  async next(where: string, more: boolean): Promise<unknown> {
    const p = this.#pending ?? this.#request();
    this.#pending = null;
    let r: IteratorResult<unknown>;
    try {
      r = await p;
    } catch (err) {
      await this.close();
      throw new DataError(`${where}: the dataset threw while producing it: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (r.done) {
      this.#it = null;
      return DONE;
    }
    if (more) this.#pending = this.#request();
    return r.value;
  }
  /** Ends the iteration (its `return()`), dropping a batch requested ahead. */
  async close(): Promise<void> {
    const it = this.#it;
    this.#it = null;
    this.#pending = null;
    if (it && typeof it.return === 'function') {
      try {
        await it.return();
      } catch {
        // An iterator that fails to end changes nothing for the model.
      }
    }
  }
}

/** A core error of a streamed batch, of the same class, naming the batch. */
function inBatch(err: unknown, where: string): unknown {
  if (err instanceof BallastError) {
    const Kind = err.constructor as new (message: string, options?: ErrorOptions) => BallastError;
    return new Kind(`${where}: ${err.message}`, { cause: err });
  }
  return err;
}


function gatherWeights(w: Float32Array | null, rows: Uint32Array): Float32Array {
  if (!w) return NO_WEIGHTS;
  return Float32Array.from(rows, (r) => w[r]);
}

function range(start: number, end: number): Uint32Array {
  return Uint32Array.from({ length: end - start }, (_, i) => start + i);
}

/** Step results (in `metricsNames` order) by name. */
function named(names: string[], values: ArrayLike<number>): Logs {
  const logs: Logs = {};
  names.forEach((name, i) => (logs[name] = values[i]));
  return logs;
}

/** Compile options as saved before optimizers were `{ className, config }` (`{ type: 'adam', ... }`). */
function upgradeCompile(saved: CompileOptions): CompileOptions {
  const o = saved.optimizer as unknown as Record<string, unknown>;
  if (o === null || typeof o !== 'object' || !('type' in o)) return saved;
  const { type, clipNorm, clipValue, ...config } = o;
  const className = type === 'adam' ? 'Adam' : type === 'sgd' ? 'SGD' : String(type);
  return { ...saved, optimizer: { className, config, ...(clipNorm !== undefined ? { clipNorm: clipNorm as number } : {}), ...(clipValue !== undefined ? { clipValue: clipValue as number } : {}) } };
}
