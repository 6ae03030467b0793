/**
 * Losses, as Keras serializes them: `{ className, config }`. The core owns each loss's
 * options and defaults (it checks the options and reports them back resolved), so these
 * factories only carry what the user gave. A loss may also be given by name:
 * `'categoricalCrossentropy'` (TF.js), `'categorical_crossentropy'` (Keras), `'mse'`, ...
 */
import { optionsObject } from './options.js';

export interface LossObject {
  className: string;
  config: Record<string, unknown>;
}

/** A loss by name (TF.js' camelCase or Keras' snake_case) or a `losses.*()` object. */
export type LossSpec =
  | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy'
  | 'meanSquaredError' | 'meanAbsoluteError' | 'huber' | 'kld'
  | 'categorical_crossentropy' | 'sparse_categorical_crossentropy' | 'binary_crossentropy'
  | 'mean_squared_error' | 'mean_absolute_error' | 'mse' | 'mae' | 'kl_divergence'
  | LossObject;

export interface CrossentropyOptions {
  /** The model outputs logits, not probabilities. Default false. */
  fromLogits?: boolean;
  /** Targets move towards uniform: `y·(1 − s) + s/classes` (binary: `+ s/2`). Default 0. */
  labelSmoothing?: number;
}

const make = <T>(className: string) => (options?: T): LossObject => ({ className, config: optionsObject(className, options) });

export const losses = {
  /** One-hot targets; `-Σ y·log p`, from probabilities (normalized and clipped, as Keras) or logits. */
  categoricalCrossentropy: make<CrossentropyOptions>('CategoricalCrossentropy'),
  /** Class-index targets `[batch]`. */
  sparseCategoricalCrossentropy: make<CrossentropyOptions>('SparseCategoricalCrossentropy'),
  /** Targets in [0, 1]; from probabilities or (stable) logits; mean over the last axis. */
  binaryCrossentropy: make<CrossentropyOptions>('BinaryCrossentropy'),
  meanSquaredError: make<Record<string, never>>('MeanSquaredError'),
  meanAbsoluteError: make<Record<string, never>>('MeanAbsoluteError'),
  /** Quadratic within `delta` (default 1) of the target, linear beyond. */
  huber: make<{ delta?: number }>('Huber'),
  /** Kullback-Leibler divergence `Σ y·log(y/p)`. */
  kld: make<Record<string, never>>('KLDivergence'),
};
