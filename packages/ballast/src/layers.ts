/**
 * Layers with Keras names, options and defaults. The options and their defaults are
 * declared once, in the core: a factory hands the user's options to the core, which checks
 * them and gives back the resolved config (`layer.config`). A layer is applied to symbolic
 * tensors to build a graph (`layers.add().apply([a, b])`), or listed in a `Sequential`;
 * once its model is built it knows its name and weights.
 */
import { ArgumentError, StateError, guard } from './errors.js';
import { wasm } from './runtime.js';
import { Tensor } from './tensor.js';

/**
 * Keras's activation names (what `layer.config` shows), and the spellings TF.js users write:
 * `swish` (= `silu`), `hardSigmoid` (= `hard_sigmoid`, Keras 3's `relu6(x + 3) / 6`, not
 * TF.js's `0.2x + 0.5`), `leakyRelu` (= `leaky_relu`, slope 0.2 as Keras's function; the
 * `leakyReLU` layer's default is 0.3). `gelu` is exact (erf), `gelu_new` its tanh form.
 */
export type ActivationName =
  | 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax' | 'leaky_relu' | 'elu' | 'selu' | 'gelu' | 'gelu_new'
  | 'silu' | 'softplus' | 'softsign' | 'hard_sigmoid' | 'relu6' | 'mish' | 'swish' | 'hardSigmoid' | 'leakyRelu';
export type InitializerName = 'zeros' | 'ones' | 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal';
export type Padding = 'valid' | 'same';
type Pair = number | [number, number];

/** Options every layer takes. */
export interface CommonConfig {
  /** Unique in a model: letters, digits, `_`, `-`, `.`. Default: Keras' (`conv2d`, `conv2d_1`). */
  name?: string;
  /** When false the optimizer leaves the weights alone (and BN runs in inference mode). */
  trainable?: boolean;
}
export interface InputConfig { shape: number[]; name?: string }
export interface DenseConfig extends CommonConfig {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}
export interface Conv2dConfig extends CommonConfig {
  filters: number;
  kernelSize: Pair;
  strides?: Pair;
  padding?: Padding;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
}
export interface Pooling2dConfig extends CommonConfig {
  /** Default 2. */
  poolSize?: Pair;
  /** Default: the pool size. */
  strides?: Pair;
  padding?: Padding;
}
export type MaxPooling2dConfig = Pooling2dConfig;
/** With `padding: 'same'`, windows over the border average only the real values, as Keras does. */
export type AveragePooling2dConfig = Pooling2dConfig;
export interface GlobalAveragePooling2dConfig extends CommonConfig {
  /** Keep the spatial axes as 1 × 1: `[batch, 1, 1, channels]` instead of `[batch, channels]`. */
  keepdims?: boolean;
}
export interface DropoutConfig extends CommonConfig { rate: number }
export interface ActivationConfig extends CommonConfig { activation: ActivationName }
/** Keras `LeakyReLU`: `x` for x ≥ 0, `negativeSlope · x` below. */
export interface LeakyReLUConfig extends CommonConfig {
  /** Keras 3's name; default 0.3, at least 0. */
  negativeSlope?: number;
  /** TF.js's name for `negativeSlope` (give one of the two); `config` shows `negativeSlope`. */
  alpha?: number;
}
/** Keras `ELU`: `x` for x > 0, `alpha · (eˣ − 1)` below. */
export interface ELUConfig extends CommonConfig { alpha?: number }
/** Keras `ReLU`: `min(x, maxValue)` above `threshold`, `negativeSlope · (x − threshold)` below. */
export interface ReLUConfig extends CommonConfig {
  /** The largest output, at least 0; `null` (default) for none. */
  maxValue?: number | null;
  /** Default 0, at least 0. */
  negativeSlope?: number;
  /** Default 0, at least 0. */
  threshold?: number;
}
/** Keras `Softmax` over one axis. Only a last-axis softmax ending a model is fused into the loss. */
export interface SoftmaxConfig extends CommonConfig {
  /** Batch axis included (not 0); default -1, the last (TF.js's default is 1). */
  axis?: number;
}
/** Keras `PReLU`: `x` for x > 0, `alpha · x` below, with `alpha` learned. */
export interface PReLUConfig extends CommonConfig {
  /** Default `zeros`, as Keras. */
  alphaInitializer?: InitializerName;
  /** Axes (batch axis = 0) sharing one alpha: `[1, 2]` for one per channel of NHWC. */
  sharedAxes?: number | number[] | null;
}
export type FlattenConfig = CommonConfig;
/** Element-wise sum of two or more inputs of one shape (the residual connection). */
export type AddConfig = CommonConfig;
export interface ConcatenateConfig extends CommonConfig {
  /** The axis to join along, batch axis included (not 0); default -1, the last. */
  axis?: number;
}
export interface BatchNormalizationConfig extends CommonConfig {
  /** The normalized axis, batch axis included; -1 (default) is the channels of NHWC. */
  axis?: number;
  /** Keras' exponential moving average factor (0.99); `null` for a cumulative average. */
  momentum?: number | null;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerName;
  gammaInitializer?: InitializerName;
  movingMeanInitializer?: InitializerName;
  movingVarianceInitializer?: InitializerName;
  /**
   * Batch Renormalization (Ioffe, 2017), as Keras' `renorm`: in training the batch statistics
   * are corrected towards separate renorm moving statistics by r (clipped to [1/rmax, rmax])
   * and d (clipped to [-dmax, dmax]), constants in backprop. Inference is unchanged. Adds the
   * weights `moving_stddev`, `renorm_mean` and `renorm_stddev`, as Keras does.
   */
  renorm?: boolean;
  /**
   * Clipping of the renorm correction; a missing or `null` bound is unbounded (Keras' default).
   * Unlike Keras there is no separate `rmin`: r is clipped to [1/rmax, rmax] as in the paper.
   * The paper warms up from `{ rmax: 1, dmax: 0 }` (exactly plain BN) to `{ rmax: 3, dmax: 5 }`;
   * here the values are fixed per layer (to raise them, build a new model and copy the weights).
   */
  renormClipping?: RenormClipping;
  /** Moving-average factor of the renorm statistics (Keras' default 0.99). */
  renormMomentum?: number;
}
/** `null` (or a missing bound) means unbounded; saved as `null` since JSON has no Infinity. */
export interface RenormClipping { rmax?: number | null; dmax?: number | null }
/** Keras `LayerNormalization` over one axis (default -1: the last, e.g. the features or channels). */
export interface LayerNormalizationConfig extends CommonConfig {
  /** The normalized axis, batch axis included (not 0); negative counts from the end. */
  axis?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerName;
  gammaInitializer?: InitializerName;
}
/** Keras `GroupNormalization`: per example over groups of `channels / groups` channels. */
export interface GroupNormalizationConfig extends CommonConfig {
  /** Must divide the number of channels (Keras' default 32); `channels` is instance norm. */
  groups?: number;
  /** The channel axis, batch axis included (not 0); -1 (default) is the channels of NHWC. */
  axis?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerName;
  gammaInitializer?: InitializerName;
}

/** What a built layer needs from its model to run on its own. */
export interface LayerOwner {
  applyLayer(name: string, inputs: Tensor[], training: boolean): Tensor;
  getWeights(): Array<{ name: string; shape: number[]; values: Float32Array }>;
  setTrainable(layer: string, trainable: boolean): void;
}

/**
 * The output of a layer in a graph being described: it has a shape (`null` for the batch
 * axis) but no values. Pass it to another layer's `apply`, or to `new Model({ inputs, outputs })`.
 */
export class SymbolicTensor {
  /** @internal */
  constructor(
    /** @internal */ readonly layer: Layer,
    /** @internal */ readonly parents: readonly SymbolicTensor[],
    /** One example's shape, without the batch axis. */
    readonly exampleShape: readonly number[],
  ) {}

  /** The shape, `null` for the batch axis (Keras' `(None, 28, 28, 1)`). */
  get shape(): (number | null)[] {
    return [null, ...this.exampleShape];
  }
}

const isSymbolic = (v: unknown): v is SymbolicTensor => v instanceof SymbolicTensor;

/** A layer of a model. Its options are checked, and its defaults filled in, by the core. */
export class Layer {
  /** Keras' class name: `Conv2D`, `BatchNormalization`, `Add`, ... */
  readonly className: string;
  /** Every option with its resolved value (the core's defaults filled in). */
  readonly config: Readonly<Record<string, unknown>>;
  /** The name of the layer's kind in Keras' default names (`conv2d`, `add`). */
  readonly defaultName: string;
  #name: string | undefined;
  #trainable: boolean;
  /** @internal The output once applied in a graph (a layer is applied once). */
  output?: SymbolicTensor;
  /** @internal */ owner?: LayerOwner;

  /** @internal */
  constructor(className: string, options: CommonConfig & Record<string, unknown>) {
    const resolved = guard(() => wasm().layerConfig(className, options)) as {
      className: string; defaultName: string; config: Record<string, unknown>; name?: string; trainable: boolean;
    };
    this.className = resolved.className;
    this.defaultName = resolved.defaultName;
    this.config = Object.freeze(resolved.config);
    this.#name = resolved.name;
    this.#trainable = resolved.trainable;
  }

  /** The layer's name: the one it was given, or once in a model, the one Keras' rules gave it. */
  get name(): string | undefined {
    return this.#name;
  }
  /** @internal Set by the model that builds it. */
  set builtName(name: string) {
    this.#name = name;
  }

  /** Keras' `trainable`; set it to freeze (false) or unfreeze the layer in its model. */
  get trainable(): boolean {
    return this.#trainable;
  }
  set trainable(value: boolean) {
    if (typeof value !== 'boolean') throw new ArgumentError(`trainable must be true or false, got ${String(value)}`);
    if (this.owner && this.#name) this.owner.setTrainable(this.#name, value);
    this.#trainable = value;
  }

  /** @internal Records what the owning model was told, without telling it again. */
  markTrainable(value: boolean): void {
    this.#trainable = value;
  }

  /** @internal What the core is given to make this layer in a model. */
  get options(): Record<string, unknown> {
    return { ...this.config, ...(this.#name ? { name: this.#name } : {}), trainable: this.#trainable };
  }

  /** Keras' `get_config()`: the name, `trainable` and every option. */
  getConfig(): Record<string, unknown> {
    return { name: this.#name, trainable: this.#trainable, ...this.config };
  }

  /**
   * Applied to symbolic tensors (`layers.input(...)` or other layers' outputs), adds this
   * layer to the graph being described and returns its symbolic output, with its shape
   * inferred by the core. Applied to tensors, runs this layer alone on them (it must belong
   * to a built model): with `training`, dropout is active and BatchNormalization uses and
   * updates batch statistics.
   */
  apply(inputs: SymbolicTensor | SymbolicTensor[]): SymbolicTensor;
  apply(inputs: Tensor | Tensor[], options?: { training?: boolean }): Tensor;
  apply(inputs: SymbolicTensor | SymbolicTensor[] | Tensor | Tensor[], options: { training?: boolean } = {}): SymbolicTensor | Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    if (list.length > 0 && list.every(isSymbolic)) return this.#applySymbolic(list as SymbolicTensor[]);
    if (list.length > 0 && list.every((t) => t instanceof Tensor)) {
      if (!this.owner || !this.#name) throw new StateError('apply() on tensors needs a layer that belongs to a built model');
      return this.owner.applyLayer(this.#name, list as Tensor[], options.training ?? false);
    }
    throw new ArgumentError(`${this.#describe()}: apply() takes symbolic tensors (to build a graph) or tensors (to run the layer), not ${describeInputs(list)}`);
  }

  #applySymbolic(parents: SymbolicTensor[]): SymbolicTensor {
    if (this.className === 'InputLayer') throw new ArgumentError('an input layer takes no inputs');
    if (this.output) {
      throw new ArgumentError(`${this.#describe()} is already applied in a graph; a layer is applied once (shared layers are not supported)`);
    }
    const shapes = parents.map((p) => Uint32Array.from(p.exampleShape));
    const names = parents.map((p) => p.layer.name ?? p.layer.className);
    const shape = guard(() => wasm().layerOutputShape(this.className, this.options, shapes, names));
    this.output = new SymbolicTensor(this, parents, Array.from(shape));
    return this.output;
  }

  /** This layer's weights by short name (`kernel`, `gamma`, `moving_mean`, ...). */
  weights(): Record<string, { shape: number[]; values: Float32Array }> {
    if (!this.owner || !this.#name) throw new StateError('weights() needs a layer that belongs to a built model');
    const prefix = `${this.#name}/`;
    const out: Record<string, { shape: number[]; values: Float32Array }> = {};
    for (const w of this.owner.getWeights()) {
      if (w.name.startsWith(prefix)) out[w.name.slice(prefix.length)] = { shape: w.shape, values: w.values };
    }
    return out;
  }

  #describe(): string {
    return this.#name ? `layer '${this.#name}' (${this.className})` : `a ${this.className} layer`;
  }
}

function describeInputs(list: unknown[]): string {
  if (list.length === 0) return 'an empty list';
  return list.map((v) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : typeof v)).join(', ');
}

/** The options object of a factory call: `{}` when omitted, refused when not an object. */
function opts<T>(className: string, config: T | undefined): T & Record<string, unknown> {
  if (config === undefined) return {} as T & Record<string, unknown>;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ArgumentError(`${className}: options must be an object, got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config}`);
  }
  return config as T & Record<string, unknown>;
}

const make = (className: string) => <T>(config?: T) => new Layer(className, opts(className, config));

export const layers = {
  /**
   * A model's input, with one example's shape (`[28, 28, 1]` for MNIST): a symbolic tensor
   * to apply layers to, or the first entry of a `Sequential` list.
   */
  input(config: InputConfig): SymbolicTensor {
    const c = opts('InputLayer', config);
    const layer = new Layer('InputLayer', c);
    layer.output = new SymbolicTensor(layer, [], (layer.config as { shape: number[] }).shape);
    return layer.output;
  },
  dense: make('Dense') as (config: DenseConfig) => Layer,
  conv2d: make('Conv2D') as (config: Conv2dConfig) => Layer,
  maxPooling2d: make('MaxPooling2D') as (config?: MaxPooling2dConfig) => Layer,
  averagePooling2d: make('AveragePooling2D') as (config?: AveragePooling2dConfig) => Layer,
  globalAveragePooling2d: make('GlobalAveragePooling2D') as (config?: GlobalAveragePooling2dConfig) => Layer,
  flatten: make('Flatten') as (config?: FlattenConfig) => Layer,
  dropout: make('Dropout') as (config: DropoutConfig) => Layer,
  activation: make('Activation') as (config: ActivationConfig) => Layer,
  leakyReLU: make('LeakyReLU') as (config?: LeakyReLUConfig) => Layer,
  elu: make('ELU') as (config?: ELUConfig) => Layer,
  reLU: make('ReLU') as (config?: ReLUConfig) => Layer,
  softmax: make('Softmax') as (config?: SoftmaxConfig) => Layer,
  prelu: make('PReLU') as (config?: PReLUConfig) => Layer,
  add: make('Add') as (config?: AddConfig) => Layer,
  concatenate: make('Concatenate') as (config?: ConcatenateConfig) => Layer,
  batchNormalization: make('BatchNormalization') as (config?: BatchNormalizationConfig) => Layer,
  layerNormalization: make('LayerNormalization') as (config?: LayerNormalizationConfig) => Layer,
  groupNormalization: make('GroupNormalization') as (config?: GroupNormalizationConfig) => Layer,
};
