/**
 * Optimizers and learning-rate schedules, as Keras serializes them: `{ className, config }`.
 * The core owns every option and default (Keras 3's) and checks them at `compile`; these
 * factories carry what the user gave, and `model.optimizerConfig` shows it resolved.
 */
import { optionsObject } from './options.js';

/** Gradient clipping applied before every update (by the model, for any optimizer). */
export interface Clipping {
  /** Rescale all gradients together when their global L2 norm exceeds this. */
  clipNorm?: number;
  /** Clamp every gradient value into [-clipValue, clipValue]. */
  clipValue?: number;
}

/** A learning-rate schedule: `schedules.cosineDecay({ ... })`. */
export interface ScheduleConfig {
  className: string;
  config: Record<string, unknown>;
}

/** The options every optimizer takes (Keras' base `Optimizer`). */
export interface CommonOptions extends Clipping {
  /** A number or a schedule. */
  learningRate?: number | ScheduleConfig;
  /** Decoupled weight decay `w -= w·weightDecay·lr` before each update (AdamW's default 0.004). */
  weightDecay?: number;
  /** Names (or parts of names, such as `'gamma'`) of parameters that do not decay. */
  excludeFromWeightDecay?: string[];
  /** Keep an exponential moving average of the weights; `fit` ends with the weights set to it. */
  useEma?: boolean;
  /** Default 0.99. */
  emaMomentum?: number;
  /** Every this many steps, the weights are overwritten with their average. */
  emaOverwriteFrequency?: number | null;
}

export interface OptimizerConfig extends Clipping {
  className: string;
  config: Record<string, unknown>;
}

const make = <T extends CommonOptions>(className: string) => (options?: T): OptimizerConfig => {
  const { clipNorm, clipValue, ...config } = optionsObject(className, options) as T;
  return { className, config, ...(clipNorm !== undefined ? { clipNorm } : {}), ...(clipValue !== undefined ? { clipValue } : {}) };
};

export const optimizers = {
  /** Plain, momentum (`momentum`) or Nesterov (`nesterov`) SGD; `learningRate` 0.01. */
  sgd: make<CommonOptions & { momentum?: number; nesterov?: boolean }>('SGD'),
  /** `learningRate` 1e-3, `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-7, `amsgrad`. */
  adam: make<CommonOptions & { beta1?: number; beta2?: number; epsilon?: number; amsgrad?: boolean }>('Adam'),
  /** Adam with decoupled weight decay (`weightDecay` 0.004). */
  adamw: make<CommonOptions & { beta1?: number; beta2?: number; epsilon?: number; amsgrad?: boolean }>('AdamW'),
  /** `learningRate` 1e-3, `rho` 0.9, `momentum` 0, `epsilon` 1e-7, `centered`. */
  rmsprop: make<CommonOptions & { rho?: number; momentum?: number; epsilon?: number; centered?: boolean }>('RMSprop'),
  /** `learningRate` 1e-3, `initialAccumulatorValue` 0.1, `epsilon` 1e-7. */
  adagrad: make<CommonOptions & { initialAccumulatorValue?: number; epsilon?: number }>('Adagrad'),
  /** Adam with Nesterov momentum; `learningRate` 1e-3, `beta1` 0.9, `beta2` 0.999, `epsilon` 1e-7. */
  nadam: make<CommonOptions & { beta1?: number; beta2?: number; epsilon?: number }>('Nadam'),
  /** Lion (Chen et al., 2023); `learningRate` 1e-3, `beta1` 0.9, `beta2` 0.99. */
  lion: make<CommonOptions & { beta1?: number; beta2?: number }>('Lion'),
};

const schedule = <T>(className: string) => (options: T): ScheduleConfig => ({ className, config: optionsObject(className, options) });

/** Learning-rate schedules (Keras 3's), evaluated at each step in the core; any optimizer's `learningRate`. */
export const schedules = {
  exponentialDecay: schedule<{ initialLearningRate: number; decaySteps: number; decayRate: number; staircase?: boolean }>('ExponentialDecay'),
  piecewiseConstantDecay: schedule<{ boundaries: number[]; values: number[] }>('PiecewiseConstantDecay'),
  /** Linear warm-up to `warmupTarget` over `warmupSteps`, then a cosine down to `alpha`·initial. */
  cosineDecay: schedule<{ initialLearningRate: number; decaySteps: number; alpha?: number; warmupTarget?: number; warmupSteps?: number }>('CosineDecay'),
  cosineDecayRestarts: schedule<{ initialLearningRate: number; firstDecaySteps: number; tMul?: number; mMul?: number; alpha?: number }>('CosineDecayRestarts'),
  polynomialDecay: schedule<{ initialLearningRate: number; decaySteps: number; endLearningRate?: number; power?: number; cycle?: boolean }>('PolynomialDecay'),
};
