/**
 * Metrics, as Keras serializes them: `{ className, config }`, computed in the core for each
 * batch and aggregated over an epoch as Keras does (precision, recall and AUC from the
 * epoch's counts). The core owns the options and defaults; it logs each metric under its
 * `name` (default: Keras' snake_case name, `top_k_categorical_accuracy`). By name:
 * `'accuracy'` (binary, sparse or categorical as the loss and output say), `'mae'`, `'mse'`,
 * `'precision'`, `'recall'`, `'auc'`, `'categoricalAccuracy'`, ...
 */
import { optionsObject } from './options.js';

export interface MetricObject {
  className: string;
  config: Record<string, unknown>;
}

export type MetricSpec =
  | 'accuracy' | 'acc' | 'binaryAccuracy' | 'categoricalAccuracy' | 'sparseCategoricalAccuracy'
  | 'topKCategoricalAccuracy' | 'mae' | 'mse' | 'meanAbsoluteError' | 'meanSquaredError'
  | 'precision' | 'recall' | 'auc'
  | 'binary_accuracy' | 'categorical_accuracy' | 'sparse_categorical_accuracy' | 'top_k_categorical_accuracy'
  | 'mean_absolute_error' | 'mean_squared_error'
  | MetricObject;

export interface MetricOptions {
  /** The name logs and history carry (default: Keras' name for the metric). */
  name?: string;
}

export interface ThresholdOptions extends MetricOptions {
  /** A prediction above it counts as positive. Default 0.5. */
  threshold?: number;
}

const make = <T>(className: string) => (options?: T): MetricObject => ({ className, config: optionsObject(className, options) });

export const metrics = {
  binaryAccuracy: make<ThresholdOptions>('BinaryAccuracy'),
  categoricalAccuracy: make<MetricOptions>('CategoricalAccuracy'),
  sparseCategoricalAccuracy: make<MetricOptions>('SparseCategoricalAccuracy'),
  /** The true class is among the `k` (default 5) highest predictions. */
  topKCategoricalAccuracy: make<MetricOptions & { k?: number }>('TopKCategoricalAccuracy'),
  meanAbsoluteError: make<MetricOptions>('MeanAbsoluteError'),
  meanSquaredError: make<MetricOptions>('MeanSquaredError'),
  /** Over every output value; 0 when nothing is predicted positive (as Keras). */
  precision: make<ThresholdOptions>('Precision'),
  /** Over every output value; 0 when there are no positives (as Keras). */
  recall: make<ThresholdOptions>('Recall'),
  /** Area under the ROC (default) or precision-recall curve, from `numThresholds` (default 200) thresholds. */
  auc: make<MetricOptions & { numThresholds?: number; curve?: 'ROC' | 'PR' }>('AUC'),
};
