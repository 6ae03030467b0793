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

/**
 * A request for more memory than the WASM module can still have (it grows up to a fixed
 * maximum): the message says how much was asked for and how much is free.
 */
export class OutOfMemoryError extends BallastError {
  override name = 'OutOfMemoryError';
}

const byName: Record<string, new (message: string) => BallastError> = {
  ShapeError,
  ArgumentError,
  DataError,
  NumericError,
  StateError,
  OutOfMemoryError,
};

/**
 * @internal What the loaded core says after a trap (a failed allocation's size, memory held
 * and its limit), and the glue's switch that stops its FinalizationRegistry callbacks from
 * freeing into the dead instance (added to the glue by scripts/build-wasm.sh).
 */
export interface TrapProbe {
  takeAllocationFailure(): number;
  memoryHeld(): number;
  memoryLimit(): number;
  stopFinalizers(): void;
}
let probe: TrapProbe | null = null;
/** Set after a trap: the instance's state is unknown from then on, so every later call is refused. */
let trappedWith: string | null = null;

/** @internal Called by the loader with the loaded glue. */
export function setTrapProbe(p: TrapProbe): void {
  probe = p;
}

/** @internal Whether the instance has trapped (cleanup code then leaves it alone). */
export function trapped(): boolean {
  return trappedWith !== null;
}

/** @internal Throws the StateError every call gets once the instance has trapped. */
export function checkNotTrapped(): void {
  if (trappedWith !== null) {
    throw new StateError(
      `Ballast's WebAssembly instance stopped at an earlier error (${trappedWith}) and cannot be used again: reload the page, or restart the process, to start a new one`,
    );
  }
}

/**
 * @internal Frees a WASM object, unless the instance has trapped: its allocator may have
 * stopped mid-call, and the error that says so must not be replaced by a failing `free()`.
 * Then the object is only detached (wasm-bindgen's `__destroy_into_raw`), so that the glue's
 * FinalizationRegistry does not free it later either.
 */
export function release(object: { free(): void } | null | undefined): void {
  if (!object) return;
  if (trappedWith === null) object.free();
  else (object as { __destroy_into_raw?: () => number }).__destroy_into_raw?.();
}

const mib = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MiB`;

/** Maps an error coming out of WASM onto Ballast's classes; anything else passes through. */
export function rethrow(err: unknown): never {
  if (err instanceof Error && !(err instanceof BallastError) && err.name in byName) {
    throw new byName[err.name](err.message);
  }
  if (err instanceof WebAssembly.RuntimeError) {
    // The trap left the instance halfway through a call (locks and borrows held): refuse
    // every later call. An aborted allocation is out of memory; any other trap means a
    // check is missing in the core, and it says so rather than hiding it.
    const failed = probe?.takeAllocationFailure() ?? 0;
    // A wrapper the garbage collector finalizes later would free into the dead instance,
    // whose allocator and borrows the trap may have left halfway.
    probe?.stopFinalizers();
    if (failed > 0) {
      trappedWith = `out of memory: an allocation of ${mib(failed)} failed`;
      throw new OutOfMemoryError(
        `out of memory: an allocation of ${mib(failed)} failed with ${mib(probe!.memoryHeld())} of the module's ${mib(probe!.memoryLimit())} in use; ` +
          'the instance cannot be used again (reload the page or restart the process)',
      );
    }
    trappedWith = `WebAssembly trap: ${err.message}`;
    throw new BallastError(`internal error (please report): WebAssembly trap: ${err.message}; the instance cannot be used again`);
  }
  throw err;
}

/** Runs `fn`, mapping WASM errors onto Ballast's classes. */
export function guard<T>(fn: () => T): T {
  checkNotTrapped();
  try {
    return fn();
  } catch (err) {
    rethrow(err);
  }
}
