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

/** A tensor holding a copy of `data`, with the given shape. */
export function tensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`tensor: invalid shape [${shape.join(', ')}]`);
  }
  const values = data instanceof Float32Array ? data : Float32Array.from(data);
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
