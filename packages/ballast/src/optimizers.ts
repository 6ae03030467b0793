/** Optimizer settings, with Keras' defaults. */
import { ArgumentError } from './errors.js';

/** Gradient clipping applied before every update. */
export interface Clipping {
  /** Rescale all gradients together when their global L2 norm exceeds this. */
  clipNorm?: number;
  /** Clamp every gradient value into [-clipValue, clipValue]. */
  clipValue?: number;
}

export type OptimizerConfig =
  | ({ type: 'adam'; learningRate: number; beta1: number; beta2: number; epsilon: number } & Clipping)
  | ({ type: 'sgd'; learningRate: number; momentum: number; nesterov: boolean } & Clipping);

function lr(v: number | undefined, fallback: number): number {
  const x = v ?? fallback;
  if (!(x > 0 && Number.isFinite(x))) throw new ArgumentError(`learningRate must be a positive number, got ${v}`);
  return x;
}

function clipping(o: Clipping): Clipping {
  for (const key of ['clipNorm', 'clipValue'] as const) {
    const v = o[key];
    if (v !== undefined && !(v > 0 && Number.isFinite(v))) throw new ArgumentError(`${key} must be a positive number, got ${v}`);
  }
  return { ...(o.clipNorm !== undefined ? { clipNorm: o.clipNorm } : {}), ...(o.clipValue !== undefined ? { clipValue: o.clipValue } : {}) };
}

export const optimizers = {
  adam(o: { learningRate?: number; beta1?: number; beta2?: number; epsilon?: number } & Clipping = {}): OptimizerConfig {
    return { type: 'adam', learningRate: lr(o.learningRate, 1e-3), beta1: o.beta1 ?? 0.9, beta2: o.beta2 ?? 0.999, epsilon: o.epsilon ?? 1e-7, ...clipping(o) };
  },
  sgd(o: { learningRate?: number; momentum?: number; nesterov?: boolean } & Clipping = {}): OptimizerConfig {
    return { type: 'sgd', learningRate: lr(o.learningRate, 0.01), momentum: o.momentum ?? 0, nesterov: o.nesterov ?? false, ...clipping(o) };
  },
};
