/**
 * Layers with Keras names, options and defaults. The options and their defaults are
 * declared once, in the core: a factory hands the user's options to the core, which checks
 * them and gives back the resolved config (`layer.config`). A layer is applied to symbolic
 * tensors to build a graph (`layers.add().apply([a, b])`), or listed in a `Sequential`;
 * once its model is built it knows its name and weights.
 */
import { describeValue, optionsObject } from './options.js';
import { ArgumentError, DataError, StateError, guard, release } from './errors.js';
import { fieldsOf } from './dataset.js';
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
export type InitializerName =
  | 'zeros' | 'ones' | 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal'
  /** U(-0.05, 0.05), Keras' `uniform` (also accepted, written back as `randomUniform`). */
  | 'randomUniform';
export type Padding = 'valid' | 'same';
type Pair = number | [number, number];
/**
 * Rows and columns on each side of an image: one number for every side, `[height, width]`
 * (that many rows on the top and the bottom, columns on the left and the right), or
 * `[[top, bottom], [left, right]]`. The resolved config holds the last form.
 */
export type Sides = number | [number, number] | [[number, number], [number, number]];

/** Options every layer takes. */
/**
 * A weight penalty added to the loss: `'l1'`, `'l2'`, `'l1l2'` (factors 0.01), or Keras'
 * `{ className: 'L1' | 'L2' | 'L1L2', config: { l1?, l2? } }`.
 */
export type RegularizerSpec = 'l1' | 'l2' | 'l1l2' | 'l1_l2' | { className: 'L1' | 'L2' | 'L1L2'; config?: { l1?: number; l2?: number } };

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
  kernelRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
}
export interface Conv2dConfig extends CommonConfig {
  filters: number;
  kernelSize: Pair;
  /** Default 1. */
  strides?: Pair;
  /** Default 'valid'. 'same' pads as TensorFlow does (the extra cell bottom/right). */
  padding?: Padding;
  /**
   * Distance between the kernel's taps (Keras' `dilation_rate`, default 1): a kernel k spans
   * `(k - 1) * dilationRate + 1` input cells. Above 1 only with strides 1, as in Keras.
   */
  dilationRate?: Pair;
  /**
   * Channel groups (default 1): `filters` and the input channels must be divisible by it;
   * group i of the filters sees only group i of the input channels. Kernel
   * `[kh, kw, inputChannels / groups, filters]`.
   */
  groups?: number;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** Default true. */
  useBias?: boolean;
  /** Default 'glorotUniform'. */
  kernelInitializer?: InitializerName;
  /** Default 'zeros'. */
  biasInitializer?: InitializerName;
  kernelRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
}
/**
 * Keras `Conv2DTranspose` (TF.js `conv2dTranspose`): the transposed convolution, which maps
 * each input pixel onto a `strides`-spaced window of the output (the input gradient of a
 * `conv2d`), e.g. to upsample in a decoder. Weights `kernel` `[kh, kw, filters,
 * inputChannels]` (Keras' layout: the output channels third) and `bias` `[filters]`.
 */
export interface Conv2dTransposeConfig extends CommonConfig {
  filters: number;
  kernelSize: Pair;
  /** Default 1. */
  strides?: Pair;
  /**
   * Default 'valid': output `(in - 1) * strides + kernelSize` per axis (`in * strides` when
   * the kernel is smaller than the stride). 'same': exactly `in * strides` (TensorFlow's
   * crop of the full output, the extra cell cut at the bottom/right).
   */
  padding?: Padding;
  /** Default 1; above 1 only with strides 1, as in Keras. */
  dilationRate?: Pair;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** Default true. */
  useBias?: boolean;
  /** Default 'glorotUniform'. */
  kernelInitializer?: InitializerName;
  /** Default 'zeros'. */
  biasInitializer?: InitializerName;
  kernelRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
}
/**
 * Keras `DepthwiseConv2D`: each input channel convolved on its own with `depthMultiplier`
 * filters; output channel `c * depthMultiplier + m`. Weights `depthwise_kernel`
 * `[kh, kw, inputChannels, depthMultiplier]` and `bias` `[inputChannels * depthMultiplier]`.
 */
export interface DepthwiseConv2dConfig extends CommonConfig {
  kernelSize: Pair;
  /** Default 1. */
  strides?: Pair;
  /** Default 'valid'. */
  padding?: Padding;
  /** Filters per input channel (default 1). */
  depthMultiplier?: number;
  /** Default 1; above 1 only with strides 1. */
  dilationRate?: Pair;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** Default true. */
  useBias?: boolean;
  /** Default 'glorotUniform' (fans of the kernel shape, as Keras computes them). */
  depthwiseInitializer?: InitializerName;
  /** Default 'zeros'. */
  biasInitializer?: InitializerName;
  depthwiseRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
}
/**
 * Keras `SeparableConv2D`: a depthwise convolution (no bias), then a pointwise 1×1
 * convolution to `filters` channels, then the bias. Weights `depthwise_kernel`
 * `[kh, kw, inputChannels, depthMultiplier]`, `pointwise_kernel`
 * `[1, 1, inputChannels * depthMultiplier, filters]`, `bias` `[filters]`.
 */
export interface SeparableConv2dConfig extends CommonConfig {
  filters: number;
  kernelSize: Pair;
  /** Default 1 (the depthwise step's). */
  strides?: Pair;
  /** Default 'valid'. */
  padding?: Padding;
  /** Default 1; above 1 only with strides 1. */
  dilationRate?: Pair;
  /** Default 1. */
  depthMultiplier?: number;
  /** Default 'linear'. */
  activation?: ActivationName;
  /** Default true. */
  useBias?: boolean;
  /** Default 'glorotUniform'. */
  depthwiseInitializer?: InitializerName;
  /** Default 'glorotUniform'. */
  pointwiseInitializer?: InitializerName;
  /** Default 'zeros'. */
  biasInitializer?: InitializerName;
  depthwiseRegularizer?: RegularizerSpec | null;
  pointwiseRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
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
  /** Off unless asked, as in Keras. */
  gammaRegularizer?: RegularizerSpec | null;
  betaRegularizer?: RegularizerSpec | null;
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

/** Keras `ZeroPadding2D`: rows and columns of zeros around each image (NHWC). */
export interface ZeroPadding2dConfig extends CommonConfig {
  /** Default 1 on every side. */
  padding?: Sides;
}
/** Keras `Cropping2D`: rows and columns cut off each image's sides; one of each must remain. */
export interface Cropping2dConfig extends CommonConfig {
  /** Default 0 on every side. */
  cropping?: Sides;
}
/** Keras `UpSampling2D`: each image enlarged by whole factors. */
export interface UpSampling2dConfig extends CommonConfig {
  /** Factors for rows and columns; default 2. */
  size?: Pair;
  /**
   * `'nearest'` (default) repeats rows and columns; `'bilinear'` interpolates with half-pixel
   * centers, as Keras 3 does through TensorFlow's `resize` (PyTorch's `align_corners: false`).
   */
  interpolation?: 'nearest' | 'bilinear';
}
/** Keras `Reshape`: one example's values in another shape (row-major order kept). */
export interface ReshapeConfig extends CommonConfig {
  /** The new shape without the batch axis; one entry may be -1 for the size that fits. */
  targetShape: number[];
}
/** Keras `Permute`: the axes of each example reordered; the batch axis stays first. */
export interface PermuteConfig extends CommonConfig {
  /** A permutation of 1..rank, axes numbered from 1 as in Keras: `[2, 1]` swaps two axes. */
  dims: number[];
}
/**
 * Keras `SpatialDropout2D`: in training, each channel of each example is zeroed whole with
 * probability `rate`, or kept and scaled by 1 / (1 - rate); inference is the identity. Masks
 * come from the model's seed, as for `dropout`.
 */
export interface SpatialDropout2dConfig extends CommonConfig {
  /** In [0, 1). */
  rate: number;
}
/** Element-wise product of two or more inputs of one shape. */
export type MultiplyConfig = CommonConfig;
/** The first of exactly two inputs of one shape minus the second. */
export type SubtractConfig = CommonConfig;
/** Element-wise maximum of two or more inputs of one shape (a tie's gradient goes to the earlier input). */
export type MaximumConfig = CommonConfig;
/** Element-wise mean of two or more inputs of one shape. */
export type AverageConfig = CommonConfig;
/**
 * Keras `Embedding`: class indices `[batch, ...]` to vectors `[batch, ..., outputDim]`, the
 * weight `embeddings` `[inputDim, outputDim]`. The input holds whole numbers in
 * `[0, inputDim)` (any other value is an `ArgumentError` naming it and where it is).
 */
export interface EmbeddingConfig extends CommonConfig {
  /** The number of classes. */
  inputDim: number;
  /** The length of each class's vector. */
  outputDim: number;
  /** Default `'randomUniform'`, U(-0.05, 0.05) as in Keras. */
  embeddingsInitializer?: InitializerName;
  embeddingsRegularizer?: RegularizerSpec | null;
}

/**
 * A range to draw from: one number `f` is `[-|f|, |f|]`, a pair is `[lower, upper]` (sorted,
 * as Keras sorts it).
 */
export type FactorRange = number | [number, number];
/** How points outside the image are filled (Keras' `fill_mode`; `'reflect'` by default). */
export type FillMode = 'reflect' | 'wrap' | 'constant' | 'nearest';
/** The options the geometric augmentations share. */
export interface AffineAugmentationConfig extends CommonConfig {
  /** Default `'reflect'`: `abcd` continues as `dcba|abcd|dcba`. */
  fillMode?: FillMode;
  /** Default `'bilinear'`. */
  interpolation?: 'bilinear' | 'nearest';
  /** The value outside the image when `fillMode` is `'constant'`; default 0. */
  fillValue?: number;
  /**
   * The layer's own random generator's seed (Keras' `seed`); without one it draws from the
   * model's generator, which the model's seed fixes. Either way a seed fixes the result
   * whatever the number of threads.
   */
  seed?: number;
}
/** Keras `Rescaling`: `x * scale + offset` (`scale: 1 / 255` maps bytes to [0, 1]). */
export interface RescalingConfig extends CommonConfig {
  scale: number;
  /** Default 0. */
  offset?: number;
}
/**
 * Keras `Resizing`: every image to `height` × `width`, in training and inference alike, with
 * half-pixel centres and the border clamped (TensorFlow's `resize` without antialiasing).
 */
export interface ResizingConfig extends CommonConfig {
  height: number;
  width: number;
  /** Default `'bilinear'`. */
  interpolation?: 'bilinear' | 'nearest';
  /** Cut out the largest centred window of the output's aspect ratio first, so nothing is stretched; default false. */
  cropToAspectRatio?: boolean;
  /** Pad the short side evenly with `fillValue` to the output's aspect ratio first, so nothing is stretched or cut off; default false (at most one of the two, as Keras). */
  padToAspectRatio?: boolean;
  /** How the padding is filled: `'constant'` only (the default), as in Keras. */
  fillMode?: 'constant';
  /** What `padToAspectRatio` pads with; default 0. */
  fillValue?: number;
}
/**
 * Keras `RandomCrop`: in training, a `height` × `width` window at a random place, the same for
 * the whole batch (as in Keras); in inference, and in training on an image smaller than the
 * window, the image resized to the window's size without stretching (`Resizing` with
 * `cropToAspectRatio`).
 */
export interface RandomCropConfig extends CommonConfig {
  height: number;
  width: number;
  seed?: number;
}
/**
 * Keras `RandomFlip`, in training only (inference passes the input through): each image
 * flipped left-right and/or up-down with probability 1/2. With `'horizontal_and_vertical'`
 * each axis is decided on its own (Keras 3 flips both or neither).
 */
export interface RandomFlipConfig extends CommonConfig {
  /** Default `'horizontal_and_vertical'`. */
  mode?: 'horizontal' | 'vertical' | 'horizontal_and_vertical';
  seed?: number;
}
/** Keras `RandomTranslation`, in training only: each image shifted by a random fraction of its size. */
export interface RandomTranslationConfig extends AffineAugmentationConfig {
  /** Shift of the rows as a fraction of the height (positive: down), bounds in [-1, 1]. */
  heightFactor: FactorRange;
  /** Shift of the columns as a fraction of the width (positive: right), bounds in [-1, 1]. */
  widthFactor: FactorRange;
}
/** Keras `RandomRotation`, in training only: each image turned about its centre. */
export interface RandomRotationConfig extends AffineAugmentationConfig {
  /** The angle as a fraction of a full turn (positive: counter-clockwise); `0.1` is up to ±36°. */
  factor: FactorRange;
}
/** Keras `RandomZoom`, in training only: each image zoomed about its centre. */
export interface RandomZoomConfig extends AffineAugmentationConfig {
  /** The vertical zoom is 1 + a draw from this range (bounds at least -1): positive zooms out. */
  heightFactor: FactorRange;
  /** The horizontal zoom likewise; `null` (default) uses the vertical zoom, keeping the aspect ratio. */
  widthFactor?: FactorRange | null;
}
/**
 * Keras `RandomBrightness`, in training only: each image shifted by a random fraction of the
 * value range, the result clipped to it.
 */
export interface RandomBrightnessConfig extends CommonConfig {
  /** Bounds in [-1, 1]. */
  factor: FactorRange;
  /** The range of the input values; default `[0, 255]`. */
  valueRange?: [number, number];
  seed?: number;
}
/**
 * Keras `RandomContrast`, in training only: each channel of each image moved away from (or
 * towards) its mean by a random factor, the result clipped to the value range.
 */
export interface RandomContrastConfig extends CommonConfig {
  /** `f` draws the factor from [1 - f, 1 + f], a pair from [1 - lower, 1 + upper] (sorted); each in [0, 1]. */
  factor: number | [number, number];
  /** Default `[0, 255]`. */
  valueRange?: [number, number];
  seed?: number;
}

/**
 * Keras `Normalization`: `(x - mean) / sqrt(variance)`, with a mean and variance for each
 * index of the `axis` axes, given here or set from data by `layer.adapt(data)`; with `invert`,
 * `x * sqrt(variance) + mean`. They are the layer's non-trainable weights `mean` and `variance`.
 */
export interface NormalizationConfig extends CommonConfig {
  /**
   * The axes that keep their own mean and variance, counted with the batch axis as 0 (Keras'
   * numbering): default -1, the channels; `null` for one mean and variance over everything.
   */
  axis?: number | number[] | null;
  /** With `variance`, instead of adapting: one number, or one per feature (row-major over `axis`). */
  mean?: number | number[] | null;
  variance?: number | number[] | null;
  /** Undo a normalization; default false. */
  invert?: boolean;
}

/** What `layer.adapt` reads: a tensor of examples, or batches of them one at a time. */
export type AdaptData = Tensor | Iterable<unknown> | AsyncIterable<unknown>;

/** @internal What a built layer needs from its model to run on its own. */
export interface LayerOwner {
  applyLayer(name: string, inputs: Tensor[], training: boolean): Tensor;
  getWeights(): Array<{ name: string; shape: number[]; values: Float32Array }>;
  setWeights(weights: Array<{ name: string; values: Float32Array }>): void;
  setTrainable(layer: string, trainable: boolean): void;
}

/** A batch of `adapt`'s data as a tensor (and whether it was made here, to be disposed). */
function adaptBatch(element: unknown, i: number): { batch: Tensor; made: boolean } {
  const fields = fieldsOf(element);
  const x = fields ? fields.xs : element;
  if (x instanceof Tensor) return { batch: x, made: false };
  const v = x as { values?: unknown; shape?: unknown } | null;
  if (v !== null && typeof v === 'object' && v.values instanceof Float32Array && Array.isArray(v.shape)) {
    return { batch: guard(() => new Tensor(new (wasm().Tensor)(v.values as Float32Array, Uint32Array.from(v.shape as number[])))), made: true };
  }
  throw new DataError(`adapt: element ${i} of the data is ${describeValue(element)}, not a tensor, { values, shape } or a batch { xs, ys } of one`);
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
  #adapted: { mean: Float32Array; variance: Float32Array } | undefined;
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
    if (typeof value !== 'boolean') throw new ArgumentError(`trainable must be true or false, got ${describeValue(value)}`);
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

  /**
   * Keras' `adapt`, for a `normalization` layer: sets its mean and variance from `data`, a
   * tensor of examples `[n, ...shape]` or batches of them one at a time (a `Dataset`, a
   * generator; elements as `fitDataset` takes them, of which `xs` is read), so data that
   * does not fit in memory adapts too. Before the layer is in a model the statistics are
   * kept until a model is built with it; after, they are set in its model's weights. Nothing
   * changes when any batch is refused (another shape, a NaN).
   */
  async adapt(data: AdaptData): Promise<void> {
    let moments: InstanceType<ReturnType<typeof wasm>['NormalizationMoments']> | null = null;
    let i = 0;
    const fold = (element: unknown) => {
      const { batch, made } = adaptBatch(element, i);
      try {
        moments ??= guard(() => new (wasm().NormalizationMoments)(this.className, this.config, Uint32Array.from(batch.shape.slice(1))));
        guard(() => moments!.update(batch.handle));
      } finally {
        if (made) batch.dispose();
      }
      i++;
    };
    try {
      if (data instanceof Tensor) fold(data);
      else if (data !== null && typeof data === 'object' && (Symbol.asyncIterator in data || Symbol.iterator in data)) {
        for await (const element of data as AsyncIterable<unknown>) fold(element);
      } else {
        throw new ArgumentError(`adapt takes a tensor or an iterable of batches, got ${describeValue(data)}`);
      }
      if (!moments) throw new DataError('adapt: the data held no batches');
      const { mean, variance } = guard(() => moments!.finish()) as { mean: Float32Array; variance: Float32Array };
      if (this.owner && this.#name) {
        this.owner.setWeights([{ name: `${this.#name}/mean`, values: mean }, { name: `${this.#name}/variance`, values: variance }]);
      } else {
        this.#adapted = { mean, variance };
      }
    } finally {
      release(moments as { free(): void } | null);
    }
  }

  /** @internal The statistics adapted before the layer was in a model, for the model built with it. */
  get adapted(): { mean: Float32Array; variance: Float32Array } | undefined {
    return this.#adapted;
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
const opts = <T>(className: string, config: T | undefined) => optionsObject(className, config) as T & Record<string, unknown>;

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
  conv2dTranspose: make('Conv2DTranspose') as (config: Conv2dTransposeConfig) => Layer,
  depthwiseConv2d: make('DepthwiseConv2D') as (config: DepthwiseConv2dConfig) => Layer,
  separableConv2d: make('SeparableConv2D') as (config: SeparableConv2dConfig) => Layer,
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
  zeroPadding2d: make('ZeroPadding2D') as (config?: ZeroPadding2dConfig) => Layer,
  /** TensorFlow.js spells this one with a capital D. */
  cropping2D: make('Cropping2D') as (config?: Cropping2dConfig) => Layer,
  upSampling2d: make('UpSampling2D') as (config?: UpSampling2dConfig) => Layer,
  reshape: make('Reshape') as (config: ReshapeConfig) => Layer,
  permute: make('Permute') as (config: PermuteConfig) => Layer,
  spatialDropout2d: make('SpatialDropout2D') as (config: SpatialDropout2dConfig) => Layer,
  multiply: make('Multiply') as (config?: MultiplyConfig) => Layer,
  subtract: make('Subtract') as (config?: SubtractConfig) => Layer,
  maximum: make('Maximum') as (config?: MaximumConfig) => Layer,
  average: make('Average') as (config?: AverageConfig) => Layer,
  embedding: make('Embedding') as (config: EmbeddingConfig) => Layer,
  rescaling: make('Rescaling') as (config: RescalingConfig) => Layer,
  resizing: make('Resizing') as (config: ResizingConfig) => Layer,
  randomCrop: make('RandomCrop') as (config: RandomCropConfig) => Layer,
  normalization: make('Normalization') as (config?: NormalizationConfig) => Layer,
  randomFlip: make('RandomFlip') as (config?: RandomFlipConfig) => Layer,
  randomTranslation: make('RandomTranslation') as (config: RandomTranslationConfig) => Layer,
  randomRotation: make('RandomRotation') as (config: RandomRotationConfig) => Layer,
  randomZoom: make('RandomZoom') as (config: RandomZoomConfig) => Layer,
  randomBrightness: make('RandomBrightness') as (config: RandomBrightnessConfig) => Layer,
  randomContrast: make('RandomContrast') as (config: RandomContrastConfig) => Layer,
};
