/** The public API, the same from every entry point. */
export { BallastError, ShapeError, ArgumentError, DataError, NumericError, StateError } from './errors.js';
export { Tensor, tensor, matmul, type MatmulOptions } from './tensor.js';
export type { Env, ReadyOptions, BuildName } from './runtime.js';
export * as diagnostics from './diagnostics.js';
