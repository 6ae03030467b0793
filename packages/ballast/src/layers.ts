/**
 * Layer factories with Keras names, options and defaults. A layer is a description until a
 * {@link Sequential} model builds it in WASM; afterwards it knows its name and weights.
 */
import { ArgumentError, StateError } from './errors.js';
import type { Tensor } from './tensor.js';

export type ActivationName = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'softmax';
export type InitializerName = 'zeros' | 'ones' | 'glorotUniform' | 'glorotNormal' | 'heUniform' | 'heNormal';
export type Padding = 'valid' | 'same';
type Pair = number | [number, number];

export interface InputConfig { shape: number[] }
export interface DenseConfig {
  units: number;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  name?: string;
}
export interface Conv2dConfig {
  filters: number;
  kernelSize: Pair;
  strides?: Pair;
  padding?: Padding;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInitializer?: InitializerName;
  biasInitializer?: InitializerName;
  name?: string;
}
export interface MaxPooling2dConfig { poolSize?: Pair; strides?: Pair; padding?: Padding; name?: string }
export interface DropoutConfig { rate: number; name?: string }
export interface ActivationConfig { activation: ActivationName; name?: string }
export interface FlattenConfig { name?: string }
export interface BatchNormalizationConfig {
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
  name?: string;
}
/** `null` (or a missing bound) means unbounded; saved as `null` since JSON has no Infinity. */
export interface RenormClipping { rmax?: number | null; dmax?: number | null }
/** Keras `LayerNormalization` over one axis (default -1: the last, e.g. the features or channels). */
export interface LayerNormalizationConfig {
  /** The normalized axis, batch axis included (not 0); negative counts from the end. */
  axis?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerName;
  gammaInitializer?: InitializerName;
  name?: string;
}
/** Keras `GroupNormalization`: per example over groups of `channels / groups` channels. */
export interface GroupNormalizationConfig {
  /** Must divide the number of channels (Keras' default 32); `channels` is instance norm. */
  groups?: number;
  /** The channel axis, batch axis included (not 0); -1 (default) is the channels of NHWC. */
  axis?: number;
  epsilon?: number;
  center?: boolean;
  scale?: boolean;
  betaInitializer?: InitializerName;
  gammaInitializer?: InitializerName;
  name?: string;
}

/** Serializable description of a layer (what `model.json` stores). */
export type LayerSpec =
  | { type: 'input'; config: InputConfig }
  | { type: 'dense'; config: Required<Omit<DenseConfig, 'name'>> & { name?: string } }
  | { type: 'conv2d'; config: Required<Omit<Conv2dConfig, 'name'>> & { name?: string } }
  | { type: 'maxPooling2d'; config: Required<Omit<MaxPooling2dConfig, 'name'>> & { name?: string } }
  | { type: 'flatten'; config: FlattenConfig }
  | { type: 'dropout'; config: DropoutConfig }
  | { type: 'activation'; config: ActivationConfig }
  | { type: 'batchNormalization'; config: Required<Omit<BatchNormalizationConfig, 'name'>> & { name?: string } }
  | { type: 'layerNormalization'; config: Required<Omit<LayerNormalizationConfig, 'name'>> & { name?: string } }
  | { type: 'groupNormalization'; config: Required<Omit<GroupNormalizationConfig, 'name'>> & { name?: string } };

/** What a built layer needs from its model to run on its own. */
export interface LayerOwner {
  applyLayer(name: string, x: Tensor, training: boolean): Tensor;
  getWeights(): Array<{ name: string; shape: number[]; values: Float32Array }>;
}

/** A layer of a model. `name` is set once the model is built. */
export class Layer {
  /** @internal */
  constructor(readonly spec: LayerSpec) {}
  /** @internal */ builtName?: string;
  /** @internal */ owner?: LayerOwner;

  /**
   * Runs this layer alone on `x` (it must belong to a built model). With `training`,
   * dropout is active and BatchNormalization uses and updates batch statistics.
   */
  apply(x: Tensor, options: { training?: boolean } = {}): Tensor {
    if (!this.owner || !this.builtName) throw new StateError('apply() needs a layer that belongs to a built model');
    return this.owner.applyLayer(this.builtName, x, options.training ?? false);
  }

  /** This layer's weights by short name (`kernel`, `gamma`, `moving_mean`, ...). */
  weights(): Record<string, { shape: number[]; values: Float32Array }> {
    if (!this.owner || !this.builtName) throw new StateError('weights() needs a layer that belongs to a built model');
    const prefix = `${this.builtName}/`;
    const out: Record<string, { shape: number[]; values: Float32Array }> = {};
    for (const w of this.owner.getWeights()) {
      if (w.name.startsWith(prefix)) out[w.name.slice(prefix.length)] = { shape: w.shape, values: w.values };
    }
    return out;
  }

  get type(): LayerSpec['type'] {
    return this.spec.type;
  }
  /** The layer's name in its model (Keras style: `conv2d`, `conv2d_1`, ...). */
  get name(): string | undefined {
    return this.builtName ?? (this.spec.config as { name?: string }).name;
  }
}

function pair(v: Pair | undefined, what: string, fallback?: [number, number]): [number, number] {
  const p = v === undefined ? fallback : typeof v === 'number' ? ([v, v] as [number, number]) : v;
  if (!p || p.length !== 2 || !p.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ArgumentError(`${what} must be a positive integer or a pair of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** A clipping bound: `null` when unbounded (undefined, null or Infinity), else at least `min`. */
function bound(v: number | null | undefined, what: string, min: number): number | null {
  if (v === undefined || v === null || v === Infinity) return null;
  if (!(typeof v === 'number' && v >= min)) throw new ArgumentError(`${what} must be a number >= ${min} or null (unbounded), got ${v}`);
  return v;
}

function positiveInt(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new ArgumentError(`${what} must be a positive integer, got ${v}`);
  return v as number;
}

export const layers = {
  /** The input shape, without the batch axis: `[28, 28, 1]` for MNIST. */
  input(config: InputConfig): Layer {
    if (!Array.isArray(config?.shape) || config.shape.length === 0) {
      throw new ArgumentError('input({ shape }) needs a non-empty shape, e.g. [28, 28, 1]');
    }
    config.shape.forEach((d, i) => positiveInt(d, `input shape[${i}]`));
    return new Layer({ type: 'input', config: { shape: [...config.shape] } });
  },
  dense(config: DenseConfig): Layer {
    return new Layer({
      type: 'dense',
      config: {
        units: positiveInt(config.units, 'dense units'),
        activation: config.activation ?? 'linear',
        useBias: config.useBias ?? true,
        kernelInitializer: config.kernelInitializer ?? 'glorotUniform',
        biasInitializer: config.biasInitializer ?? 'zeros',
        name: config.name,
      },
    });
  },
  conv2d(config: Conv2dConfig): Layer {
    return new Layer({
      type: 'conv2d',
      config: {
        filters: positiveInt(config.filters, 'conv2d filters'),
        kernelSize: pair(config.kernelSize, 'conv2d kernelSize'),
        strides: pair(config.strides, 'conv2d strides', [1, 1]),
        padding: config.padding ?? 'valid',
        activation: config.activation ?? 'linear',
        useBias: config.useBias ?? true,
        kernelInitializer: config.kernelInitializer ?? 'glorotUniform',
        biasInitializer: config.biasInitializer ?? 'zeros',
        name: config.name,
      },
    });
  },
  maxPooling2d(config: MaxPooling2dConfig = {}): Layer {
    const poolSize = pair(config.poolSize, 'maxPooling2d poolSize', [2, 2]);
    return new Layer({
      type: 'maxPooling2d',
      config: {
        poolSize,
        strides: pair(config.strides, 'maxPooling2d strides', poolSize),
        padding: config.padding ?? 'valid',
        name: config.name,
      },
    });
  },
  flatten(config: FlattenConfig = {}): Layer {
    return new Layer({ type: 'flatten', config: { ...config } });
  },
  dropout(config: DropoutConfig): Layer {
    if (!(config.rate >= 0 && config.rate < 1)) throw new ArgumentError(`dropout rate must be in [0, 1), got ${config.rate}`);
    return new Layer({ type: 'dropout', config: { ...config } });
  },
  activation(config: ActivationConfig): Layer {
    return new Layer({ type: 'activation', config: { ...config } });
  },
  batchNormalization(config: BatchNormalizationConfig = {}): Layer {
    return new Layer({
      type: 'batchNormalization',
      config: {
        axis: config.axis ?? -1,
        momentum: config.momentum === undefined ? 0.99 : config.momentum,
        epsilon: config.epsilon ?? 1e-3,
        center: config.center ?? true,
        scale: config.scale ?? true,
        betaInitializer: config.betaInitializer ?? 'zeros',
        gammaInitializer: config.gammaInitializer ?? 'ones',
        movingMeanInitializer: config.movingMeanInitializer ?? 'zeros',
        movingVarianceInitializer: config.movingVarianceInitializer ?? 'ones',
        renorm: config.renorm ?? false,
        renormClipping: {
          rmax: bound(config.renormClipping?.rmax, 'batchNormalization renormClipping.rmax', 1),
          dmax: bound(config.renormClipping?.dmax, 'batchNormalization renormClipping.dmax', 0),
        },
        renormMomentum: config.renormMomentum ?? 0.99,
        name: config.name,
      },
    });
  },
  layerNormalization(config: LayerNormalizationConfig = {}): Layer {
    return new Layer({
      type: 'layerNormalization',
      config: {
        axis: config.axis ?? -1,
        epsilon: config.epsilon ?? 1e-3,
        center: config.center ?? true,
        scale: config.scale ?? true,
        betaInitializer: config.betaInitializer ?? 'zeros',
        gammaInitializer: config.gammaInitializer ?? 'ones',
        name: config.name,
      },
    });
  },
  groupNormalization(config: GroupNormalizationConfig = {}): Layer {
    return new Layer({
      type: 'groupNormalization',
      config: {
        groups: positiveInt(config.groups ?? 32, 'groupNormalization groups'),
        axis: config.axis ?? -1,
        epsilon: config.epsilon ?? 1e-3,
        center: config.center ?? true,
        scale: config.scale ?? true,
        betaInitializer: config.betaInitializer ?? 'zeros',
        gammaInitializer: config.gammaInitializer ?? 'ones',
        name: config.name,
      },
    });
  },
};

/** Recreates a layer from its spec (loading a saved model). */
export function layerFromSpec(spec: LayerSpec): Layer {
  const make = layers[spec.type] as (c: unknown) => Layer;
  if (typeof make !== 'function') throw new ArgumentError(`unknown layer type '${(spec as { type: string }).type}'`);
  return make(spec.config);
}
