import type { Tensor as WasmTensor } from '../wasm/threads/ballast_wasm.js';
import { ShapeError, StateError, guard } from './errors.js';
import { wasm } from './runtime.js';

/**
 * A float32 tensor stored in WASM memory. JavaScript holds only a handle: call
 * {@link Tensor.dispose} when done (a FinalizationRegistry frees forgotten ones eventually).
 */
export class Tensor {
  #handle: WasmTensor | null;

  /** @internal */
  constructor(handle: WasmTensor) {
    this.#handle = handle;
    scopes[scopes.length - 1]?.push(this);
  }

  /** @internal */
  get handle(): WasmTensor {
    if (!this.#handle) throw new StateError('tensor used after dispose()');
    return this.#handle;
  }

  get shape(): number[] {
    return Array.from(this.handle.shape);
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** A copy of the values. */
  data(): Float32Array {
    return this.handle.data();
  }

  dispose(): void {
    this.#handle?.free();
    this.#handle = null;
  }

  get isDisposed(): boolean {
    return this.#handle === null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// `Symbol.dispose` (explicit resource management) is declared here as @types/node declares it,
// so that the types need neither Node's types nor the ESNext lib.
declare global {
  interface SymbolConstructor {
    readonly dispose: unique symbol;
  }
}

/** Tensors created inside each active `tidy` call, innermost last. */
const scopes: Tensor[][] = [];

function collect(value: unknown, keep: Set<Tensor>): void {
  if (value instanceof Tensor) keep.add(value);
  else if (Array.isArray(value)) value.forEach((v) => collect(v, keep));
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    Object.values(value).forEach((v) => collect(v, keep));
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except those it returns (alone, in an
 * array or in a plain object), which move to the enclosing scope. Async functions are not
 * supported: the scope would close before their tensors exist.
 */
export function tidy<T>(fn: () => T): T {
  if (fn.constructor.name === 'AsyncFunction') throw new StateError('tidy() takes a synchronous function');
  scopes.push([]);
  let result: T;
  let created: Tensor[];
  try {
    result = fn();
  } finally {
    created = scopes.pop()!;
  }
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of created) {
    if (keep.has(t)) scopes[scopes.length - 1]?.push(t);
    else t.dispose();
  }
  return result;
}

/** A tensor holding a copy of `data`, with the given shape. */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  if (!Array.isArray(shape)) throw new ShapeError(`tensor: the shape must be an array of dimensions, got ${typeof shape}`);
  // Dimensions cross as 32-bit integers: anything larger would wrap (2**32 + 3 becomes 3).
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) throw new ShapeError(`tensor: invalid shape [${shape.join(', ')}] (dimensions are whole numbers below 2^32)`);
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
  const size = shape.reduce((n, d) => n * d, 1);
  if (size !== values.length) throw new ShapeError(`tensor: shape [${shape.join(', ')}] needs ${size} values, got ${values.length}`);
  return new Tensor(guard(() => new (wasm().Tensor)(values, Uint32Array.from(shape))));
}

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** `op(a) · op(b)` for two matrices. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const { transposeA = false, transposeB = false } = options;
  return new Tensor(guard(() => wasm().matmul(a.handle, b.handle, transposeA, transposeB)));
}
