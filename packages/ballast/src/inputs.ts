/**
 * Plain-JavaScript inputs. `tensor(values, shape?)` takes nested arrays (the shape is their
 * nesting), typed arrays and arrays of numbers with a shape, as `tf.tensor` does; `fit`,
 * `evaluate` and `predict` take those, `{ values, shape }`, or a flat typed array shaped by
 * the model. Every value is checked here, before anything reaches WASM: a ragged array is a
 * ShapeError naming where (`x[3][1]`), anything that is not a number an ArgumentError naming
 * the argument and what it got.
 */
import { ArgumentError, ShapeError, guard } from './errors.js';
import { describeValue } from './options.js';
import { Tensor, type Scaling } from './tensor.js';
import { wasm } from './runtime.js';

/** Typed arrays of numbers; their values are copied as float32. */
export type TypedNumbers =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array;

/** A number, or arrays (or typed arrays) of them nested to any depth, all of one shape. */
export type NestedNumbers = number | TypedNumbers | readonly NestedNumbers[];

/** Values with their shape: a typed array or an array of numbers, flat. */
export interface ShapedValues {
  values: TypedNumbers | readonly number[];
  shape: readonly number[];
}

/** What `fit`, `evaluate` and `predict` take as data. */
export type TensorLike = Tensor | NestedNumbers | ShapedValues;

const FLOAT32_MAX = 3.4028234663852886e38;

function isTypedNumbers(v: unknown): v is TypedNumbers {
  return ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array);
}

function isBigIntArray(v: unknown): boolean {
  return v instanceof BigInt64Array || v instanceof BigUint64Array;
}

/** An array level of nested data: a JS array or a typed array. */
function isLevel(v: unknown): v is ArrayLike<unknown> {
  return Array.isArray(v) || isTypedNumbers(v);
}

function what(v: unknown): string {
  if (isBigIntArray(v)) return `a ${(v as object).constructor.name} (BigInt values; use a Float32Array)`;
  if (typeof v === 'bigint') return `the BigInt ${v}n (convert it with Number())`;
  if (typeof v === 'symbol') return `a symbol (${String(v)})`;
  return describeValue(v);
}

/** A typed array as float32 (the same array when it already is); a finite value too large for float32 is refused. */
function float32Of(values: TypedNumbers, context: string, path: string): Float32Array {
  if (values instanceof Float32Array) return values;
  const out = Float32Array.from(values);
  if (values instanceof Float64Array) {
    for (let i = 0; i < out.length; i++) {
      if (!Number.isFinite(out[i]) && Number.isFinite(values[i])) {
        throw new ArgumentError(`${context}: ${path}[${i}] is ${values[i]}, beyond the range of float32 (±3.4e38)`);
      }
    }
  }
  return out;
}

/** Checks a plain number: finite, and within float32's range. */
function number(v: unknown, context: string, path: string): number {
  if (typeof v !== 'number') throw new ArgumentError(`${context}: ${path} must be a number, got ${what(v)}`);
  if (!Number.isFinite(v)) throw new ArgumentError(`${context}: ${path} is ${v}; only finite numbers are accepted in arrays (a Float32Array may hold NaN or Infinity)`);
  if (!Number.isFinite(Math.fround(v))) throw new ArgumentError(`${context}: ${path} is ${v}, beyond the range of float32 (±3.4e38)`);
  return v;
}

/** The shape nested data has, read along its first entries. */
function nestedShape(data: unknown): number[] {
  const shape: number[] = [];
  let v = data;
  while (isLevel(v)) {
    shape.push(v.length);
    if (v.length === 0) break;
    v = v[0];
  }
  return shape;
}

const pathOf = (root: string, index: number[]) => root + index.map((i) => `[${i}]`).join('');

/**
 * Nested arrays (or one typed array, or a number) as flat float32 values and their shape.
 * `root` names the argument in errors (`x`, `validationData[0]`).
 */
export function flatten(data: unknown, context: string, root: string): { values: Float32Array; shape: number[] } {
  if (isTypedNumbers(data)) return { values: float32Of(data, context, root), shape: [data.length] };
  if (!Array.isArray(data)) return { values: Float32Array.of(number(data, context, root)), shape: [] };
  const shape = nestedShape(data);
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
  const last = shape.length - 1;
  let at = 0;
  const index: number[] = new Array(shape.length).fill(0);
  const where = (depth: number) => pathOf(root, index.slice(0, depth));
  const first = (depth: number) => pathOf(root, new Array(depth).fill(0));
  /** Why `v`, at `index[0..depth)`, does not fit the shape (it is the first thing that does not). */
  const refuse = (v: unknown, depth: number): never => {
    if (!isLevel(v)) {
      if (typeof v !== 'number') throw new ArgumentError(`${context}: ${where(depth)} must be an array of numbers, got ${what(v)}`);
      throw new ShapeError(`${context}: ragged array: ${where(depth)} is a number where ${first(depth)} is an array of ${shape[depth]}`);
    }
    if (isTypedNumbers(v) && depth < last) throw new ShapeError(`${context}: ragged array: ${where(depth)} is a typed array (of numbers) where ${first(depth)} is an array of arrays`);
    throw new ShapeError(`${context}: ragged array: ${where(depth)} has ${v.length} entries where ${first(depth)} has ${shape[depth]}`);
  };
  // `v` is an array level of the right length; the innermost level is copied in one loop.
  const walk = (v: ArrayLike<unknown>, depth: number): void => {
    if (depth === last) {
      if (isTypedNumbers(v)) {
        values.set(float32Of(v, context, where(depth)), at);
        at += v.length;
        return;
      }
      for (let i = 0; i < v.length; i++) {
        const e = v[i];
        // The common case in one comparison; false for NaN, ±Infinity and huge numbers, which
        // are looked at closely, as is anything that is not a number.
        if (typeof e === 'number' && Math.abs(e) <= FLOAT32_MAX) {
          values[at++] = e;
          continue;
        }
        index[depth] = i;
        if (isLevel(e)) throw new ShapeError(`${context}: ragged array: ${where(depth + 1)} is an array where ${first(depth + 1)} is a number`);
        values[at++] = number(e, context, where(depth + 1));
      }
      return;
    }
    const size = shape[depth + 1];
    for (let i = 0; i < v.length; i++) {
      const c = v[i];
      index[depth] = i;
      if (!isLevel(c) || c.length !== size || (isTypedNumbers(c) && depth + 1 !== last)) refuse(c, depth + 1);
      walk(c as ArrayLike<unknown>, depth + 1);
    }
  };
  walk(data, 0);
  return { values, shape };
}

/** Refuses a shape that is not a list of whole dimensions below 2^32 (they cross as u32). */
export function checkShape(shape: unknown, context: string): number[] {
  if (!Array.isArray(shape)) throw new ShapeError(`${context}: the shape must be an array of dimensions, got ${what(shape)}`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0 || d > 0xffffffff) {
      throw new ShapeError(`${context}: invalid shape [${shape.map((s) => what(s)).join(', ')}] (dimensions are whole numbers below 2^32)`);
    }
  }
  return shape as number[];
}

/** Flat values with a shape, or nested ones with their own (which `shape`, if given, must hold). */
function shaped(data: unknown, shape: unknown, context: string, root: string): { values: Float32Array; shape: number[] } {
  const dims = shape === undefined ? null : checkShape(shape, context);
  if (isBigIntArray(data) || !(isLevel(data) || typeof data === 'number')) {
    throw new ArgumentError(`${context}: ${root} must be a number, nested arrays of numbers or a typed array, got ${what(data)}`);
  }
  const flat = flatten(data, context, root);
  if (!dims) return flat;
  const size = dims.reduce((n, d) => n * d, 1);
  if (size !== flat.values.length) throw new ShapeError(`${context}: shape [${dims.join(', ')}] needs ${size} values, got ${flat.values.length}`);
  return { values: flat.values, shape: dims };
}

function make(values: Float32Array, shape: readonly number[]): Tensor {
  return new Tensor(guard(() => new (wasm().Tensor)(values, Uint32Array.from(shape))));
}

/**
 * A tensor holding a copy of `values`: nested arrays take the shape of their nesting
 * (`tensor([[1, 2], [3, 4]])` is `[2, 2]`), flat values the given `shape` (default: one
 * axis), as `tf.tensor(values, shape)`. Numbers in arrays must be finite; a typed array is
 * copied as float32 as it is.
 */
export function tensor(values: NestedNumbers, shape?: readonly number[]): Tensor {
  const flat = shaped(values, shape, 'tensor', 'values');
  return make(flat.values, flat.shape);
}

/**
 * A tensor of `bytes` (row-major, the given shape) kept as bytes in WASM memory and read as
 * float32 through `scaling` (default: divided by 255) when batches are gathered: images at a
 * quarter of their float32 size.
 */
export function byteTensor(bytes: Uint8Array, shape: readonly number[], scaling?: Scaling): Tensor {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError(`byteTensor: bytes must be a Uint8Array, got ${describeValue(bytes)}`);
  checkShape(shape, 'byteTensor');
  if (scaling !== undefined && (scaling === null || typeof scaling !== 'object')) {
    throw new ArgumentError(`byteTensor: scaling must be { scale, offset } or { mean, std }, got ${describeValue(scaling)}`);
  }
  return new Tensor(guard(() => wasm().Tensor.fromBytes(bytes, Uint32Array.from(shape), scaling)));
}

/**
 * One-hot rows `[n, numClasses]` for class indices `labels`, kept as the indices (4 bytes an
 * example): each batch's rows are made as it is gathered.
 */
export function oneHot(labels: Uint32Array | readonly number[], numClasses: number): Tensor {
  if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 0xffffffff) {
    throw new ArgumentError(`oneHot: numClasses must be a positive integer, got ${describeValue(numClasses)}`);
  }
  let indices: Uint32Array;
  if (labels instanceof Uint32Array) indices = labels;
  else if (Array.isArray(labels)) {
    const bad = labels.findIndex((v) => !Number.isInteger(v) || v < 0 || v > 0xffffffff);
    if (bad >= 0) throw new ArgumentError(`oneHot: label ${describeValue(labels[bad])} at index ${bad} is not a class index`);
    indices = Uint32Array.from(labels);
  } else throw new ArgumentError(`oneHot: labels must be a Uint32Array or an array of class indices, got ${describeValue(labels)}`);
  return new Tensor(guard(() => wasm().oneHot(indices, numClasses)));
}

function isShapedValues(v: unknown): v is ShapedValues {
  return v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype && 'values' in v && 'shape' in v;
}

/** How a flat typed array becomes a batch: its rows have one of these shapes (the first that divides it). */
export type RowShapes = readonly (readonly number[])[];

/**
 * The data arguments of one call (`fit`, `evaluate`, `predict`) as tensors. Tensors pass as
 * they are; the ones made here from plain JavaScript are disposed by `dispose()`, after the call.
 */
export class Inputs {
  readonly #made: Tensor[] = [];

  constructor(private readonly context: string) {}

  /**
   * `value` as a tensor. `rows` shapes a flat typed array: `n` examples of the first row
   * shape whose size divides it evenly (exactly `examples` of them, when given).
   */
  tensor(value: unknown, name: string, rows: RowShapes, examples?: number): Tensor {
    if (value instanceof Tensor) return value;
    let flat: { values: Float32Array; shape: number[] };
    if (isShapedValues(value)) {
      const keys = Object.keys(value).filter((k) => k !== 'values' && k !== 'shape');
      if (keys.length) throw new ArgumentError(`${this.context}: ${name} as { values, shape } has an unknown key '${keys[0]}'`);
      if (!isTypedNumbers(value.values) && !Array.isArray(value.values)) {
        throw new ArgumentError(`${this.context}: ${name}.values must be a typed array or an array of numbers, got ${what(value.values)}`);
      }
      flat = shaped(value.values, value.shape, this.context, `${name}.values`);
    } else if (isTypedNumbers(value)) {
      flat = { values: float32Of(value, this.context, name), shape: this.#rowsOf(value.length, name, rows, examples) };
    } else if (Array.isArray(value)) {
      flat = flatten(value, this.context, name);
    } else {
      throw new ArgumentError(
        `${this.context}: ${name} must be a Tensor, nested arrays of numbers, a typed array or { values, shape }, got ${what(value)}`,
      );
    }
    const t = make(flat.values, flat.shape);
    this.#made.push(t);
    return t;
  }

  #rowsOf(length: number, name: string, rows: RowShapes, examples: number | undefined): number[] {
    for (const row of rows) {
      const size = row.reduce((a, b) => a * b, 1);
      if (size === 0) continue;
      const n = length / size;
      if (Number.isInteger(n) && (examples === undefined || n === examples)) return [n, ...row];
    }
    const wanted = rows.map((r) => `[${r.join(', ')}]`).join(' or ');
    const count = examples === undefined ? 'a whole number of' : `${examples}`;
    throw new ShapeError(`${this.context}: ${name} is a flat array of ${length} values, not ${count} examples of shape ${wanted}; give { values, shape }`);
  }

  /** Disposes the tensors made here. */
  dispose(): void {
    for (const t of this.#made) t.dispose();
    this.#made.length = 0;
  }
}
