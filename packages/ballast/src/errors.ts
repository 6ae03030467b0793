/**
 * Errors thrown by Ballast. The WASM core reports its errors with a `name` that says their
 * kind; {@link rethrow} turns them into these classes so callers can `instanceof` them.
 */
export class BallastError extends Error {
  override name = 'BallastError';
}
/** Shapes or ranks that do not fit together. */
export class ShapeError extends BallastError {
  override name = 'ShapeError';
}
/** An argument out of its allowed range. */
export class ArgumentError extends BallastError {
  override name = 'ArgumentError';
}
/** Malformed data: a corrupt or truncated file, counts that disagree. */
export class DataError extends BallastError {
  override name = 'DataError';
}
/** NaN or Inf appeared during training. */
export class NumericError extends BallastError {
  override name = 'NumericError';
}
/** A handle used after `dispose()`, or the library used before `ready()`. */
export class StateError extends BallastError {
  override name = 'StateError';
}

const byName: Record<string, new (message: string) => BallastError> = {
  ShapeError,
  ArgumentError,
  DataError,
  NumericError,
  StateError,
};

/** Maps an error coming out of WASM onto Ballast's classes; anything else passes through. */
export function rethrow(err: unknown): never {
  if (err instanceof Error && !(err instanceof BallastError) && err.name in byName) {
    throw new byName[err.name](err.message);
  }
  if (err instanceof WebAssembly.RuntimeError) {
    // A trap means a check is missing in the core; say so rather than hiding it.
    throw new BallastError(`internal error (please report): WebAssembly trap: ${err.message}`);
  }
  throw err;
}

/** Runs `fn`, mapping WASM errors onto Ballast's classes. */
export function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    rethrow(err);
  }
}
