/** Optimizer settings, with Keras' defaults. */
import { ArgumentError } from './errors.js';

export type OptimizerConfig =
  | { type: 'adam'; learningRate: number; beta1: number; beta2: number; epsilon: number }
  | { type: 'sgd'; learningRate: number; momentum: number; nesterov: boolean };

function lr(v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!(x > 0 && Number.isFinite(x))) throw new ArgumentError(`learningRate must be a positive number, got ${v}`);
  return x;
}

export const optimizers = {
  adam(o: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } = {}): OptimizerConfig {
    return { type: 'adam', learningRate: lr(o.learningRate, 1e-3), beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-7 };
  },
  sgd(o: { learningRate?: number; momentum?: number; nesterov?: boolean } = {}): OptimizerConfig {
    return { type: 'sgd', learningRate: lr(o.learningRate, 0.01), momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false };
  },
};
