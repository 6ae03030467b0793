import type { Tensor as WasmTensor } from '../wasm/threads/ballast_wasm.js';
import { ArgumentError, StateError, guard, release, checkNotTrapped } from './errors.js';
import { checkOptions, describeValue } from './options.js';
import { wasm } from './runtime.js';

/**
 * How a tensor's values are kept in WASM memory: as float32, as bytes read through a
 * {@link Scaling} (a quarter of the memory), or as class indices read as one-hot rows.
 */
export type Storage = 'float32' | 'uint8' | 'classes';

/**
 * How bytes become values: `{ scale, offset }` is `byte * scale + offset` (Keras'
 * `Rescaling`); `{ mean, std }` is `(byte - mean) / std`, one number or one per channel (the
 * last axis), in byte units (0 to 255). The default divides by 255, giving [0, 1].
 */
export type Scaling = { scale?: number; offset?: number } | { mean?: number | number[]; std?: number | number[] };

/**
 * A float32 tensor stored in WASM memory. JavaScript holds only a handle: call
 * {@link Tensor.dispose} when done (a FinalizationRegistry frees forgotten ones eventually).
 * Its values may be stored compactly ({@link Tensor.storage}): `fit`, `evaluate`, `predict`
 * and `recalibrateBatchNorm` read batches straight from that storage, scaling bytes and
 * making one-hot rows as each batch is gathered; `data()` and other ops see the float32
 * values it stands for.
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
    checkNotTrapped();
    if (!this.#handle) throw new StateError('tensor used after dispose()');
    return this.#handle;
  }

  get shape(): number[] {
    return guard(() => Array.from(this.handle.shape));
  }

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** How the values are kept: `float32`, `uint8` (bytes and a scaling) or `classes` (indices). */
  get storage(): Storage {
    return guard(() => this.handle.storage as Storage);
  }

  /** Bytes of WASM memory the values take. */
  get byteLength(): number {
    return guard(() => this.handle.byteLength);
  }

  /** A copy of the values, as float32 (bytes scaled, class indices as one-hot rows). */
  data(): Float32Array {
    return guard(() => this.handle.data());
  }

  dispose(): void {
    // Freed memory is reused by later tensors; WASM memory itself never shrinks.
    release(this.#handle);
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

/**
 * The method by which an object that holds tensors (a dataset) lists them, so that `tidy`
 * keeps them alive when it returns the object.
 * @internal
 */
export const ownedTensors: unique symbol = Symbol('ballast.ownedTensors');

function collect(value: unknown, keep: Set<Tensor>): void {
  if (value instanceof Tensor) keep.add(value);
  else if (value && typeof value === 'object' && typeof (value as { [ownedTensors]?: unknown })[ownedTensors] === 'function') {
    (value as { [ownedTensors](): Tensor[] })[ownedTensors]().forEach((t) => keep.add(t));
  }
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
  if (typeof fn !== 'function') throw new ArgumentError(`tidy() takes a function, got ${describeValue(fn)}`);
  if (fn.constructor.name === 'AsyncFunction') throw new StateError('tidy() takes a synchronous function');
  scopes.push([]);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // What the function made before it threw is disposed too, as in TF.js.
    for (const t of scopes.pop()!) t.dispose();
    throw err;
  }
  const created = scopes.pop()!;
  const keep = new Set<Tensor>();
  collect(result, keep);
  for (const t of created) {
    if (keep.has(t)) scopes[scopes.length - 1]?.push(t);
    else t.dispose();
  }
  return result;
}

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/** `op(a) · op(b)` for two matrices. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  if (!(a instanceof Tensor)) throw new ArgumentError(`matmul: a must be a Tensor, got ${describeValue(a)}`);
  if (!(b instanceof Tensor)) throw new ArgumentError(`matmul: b must be a Tensor, got ${describeValue(b)}`);
  checkOptions('matmul', options, ['transposeA', 'transposeB']);
  const { transposeA = false, transposeB = false } = options;
  for (const [key, v] of [['transposeA', transposeA], ['transposeB', transposeB]] as const) {
    if (typeof v !== 'boolean') throw new ArgumentError(`matmul: ${key} must be true or false, got ${describeValue(v)}`);
  }
  return new Tensor(guard(() => wasm().matmul(a.handle, b.handle, transposeA, transposeB)));
}
