/**
 * Datasets in the tf.data style: an async-iterable pipeline (`shuffle`, `batch`, `map`,
 * `take`, `repeat`) that `model.fitDataset` trains on, one batch `{ xs, ys }` at a time.
 *
 * `datasets.fromArrays(x, y)` keeps its data where it is, in WASM memory (u8 images stay
 * bytes, class indices stay indices): its elements are row numbers, `shuffle` and `take`
 * move only those, and `batch` yields a {@link RowBatch}, which `fitDataset` hands to the
 * core's gather as it does for `fit`, copying nothing in JavaScript. Anything else (a
 * generator's elements, a `map`'s results) is batched by stacking its values.
 */
import { ArgumentError, DataError, ShapeError, StateError, guard } from './errors.js';
import { Inputs, flatten, type TensorLike } from './inputs.js';
import { describeValue } from './options.js';
import { wasm } from './runtime.js';
import { Tensor, ownedTensors } from './tensor.js';

/** Values with their shape, as batches made in JavaScript carry them. */
export interface Values {
  values: Float32Array;
  shape: number[];
}

/** A batch as `fitDataset` takes it: inputs `xs` and targets `ys` (TF.js' names; `{ x, y }` is taken too). */
export interface Batch {
  xs: TensorLike;
  ys: TensorLike;
}

/** The tensors of `fromArrays`, which its elements are rows of. */
class Arrays {
  readonly #inputs: Inputs | null;
  #disposed = false;
  constructor(
    readonly x: Tensor,
    readonly y: Tensor,
    inputs: Inputs | null,
  ) {
    this.#inputs = inputs;
  }
  check(): void {
    if (this.#disposed || this.x.isDisposed || this.y.isDisposed) throw new StateError('dataset used after dispose() (or after its tensors were disposed)');
  }
  /** Rows of `t` as values, gathered (and scaled, one-hot) by the core. */
  gather(t: Tensor, rows: Uint32Array, single: boolean): Values {
    this.check();
    const part = new Tensor(guard(() => wasm().takeRows(t.handle, rows)));
    try {
      const shape = part.shape;
      return { values: part.data(), shape: single ? shape.slice(1) : shape };
    } finally {
      part.dispose();
    }
  }
  dispose(): void {
    this.#disposed = true;
    this.#inputs?.dispose();
  }
}

/** One example of `fromArrays`: a row number; `xs` and `ys` read its values. */
export class ExampleRow {
  /** @internal */
  constructor(
    readonly source: Arrays,
    readonly row: number,
  ) {}
  get xs(): Values {
    return this.source.gather(this.source.x, Uint32Array.of(this.row), true);
  }
  get ys(): Values {
    return this.source.gather(this.source.y, Uint32Array.of(this.row), true);
  }
}

/**
 * A batch of `fromArrays` rows: `fitDataset` trains on the rows in place (the core gathers
 * them as `fit` does); `xs` and `ys` read their values, for code that looks at a batch.
 */
export class RowBatch {
  /** @internal */
  constructor(
    readonly source: Arrays,
    readonly rows: Uint32Array,
  ) {}
  get size(): number {
    return this.rows.length;
  }
  /** @internal */
  get x(): Tensor {
    this.source.check();
    return this.source.x;
  }
  /** @internal */
  get y(): Tensor {
    this.source.check();
    return this.source.y;
  }
  get xs(): Values {
    return this.source.gather(this.source.x, this.rows, false);
  }
  get ys(): Values {
    return this.source.gather(this.source.y, this.rows, false);
  }
}

/** What `map` sees of an element: rows of `fromArrays` as plain `{ xs, ys }` values. */
function plain<T>(v: T): T | { xs: Values; ys: Values } {
  return v instanceof ExampleRow || v instanceof RowBatch ? { xs: v.xs, ys: v.ys } : v;
}

/**
 * A 32-bit generator (splitmix32) for `shuffle`: the same seed gives the same order.
 * @internal
 */
export function random32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

function positiveInteger(what: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ArgumentError(`${what} must be a positive integer, got ${describeValue(v)}`);
  return v;
}

/** An element's values for stacking: a tensor, typed array, nested arrays or `{ values, shape }`. */
function valuesOf(v: unknown, where: string): Values {
  if (v instanceof Tensor) return { values: v.data(), shape: v.shape };
  if (v !== null && typeof v === 'object' && 'values' in v && 'shape' in v) {
    const s = v as { values: unknown; shape: unknown };
    const flat = flatten(s.values, 'dataset.batch', `${where}.values`);
    const shape = s.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) throw new ShapeError(`dataset.batch: ${where}.shape must be an array of dimensions, got ${describeValue(shape)}`);
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    if (size !== flat.values.length) throw new ShapeError(`dataset.batch: ${where} has shape [${shape.join(', ')}] but ${flat.values.length} values`);
    return { values: flat.values, shape: [...(shape as number[])] };
  }
  return flatten(v, 'dataset.batch', where);
}

/** Stacks one field of `n` elements into values of shape `[n, ...]`; shapes must agree. */
function stack(parts: Values[], where: (i: number) => string): Values {
  const shape = parts[0].shape;
  const size = parts[0].values.length;
  const out = new Float32Array(size * parts.length);
  parts.forEach((p, i) => {
    if (p.shape.length !== shape.length || p.shape.some((d, k) => d !== shape[k])) {
      throw new ShapeError(`dataset.batch: ${where(i)} has shape [${p.shape.join(', ')}] where ${where(0)} has [${shape.join(', ')}]`);
    }
    out.set(p.values, i * size);
  });
  return { values: out, shape: [parts.length, ...shape] };
}

/** `{ xs, ys }` or `{ x, y }` of an element, or null when it is neither. */
export function fieldsOf(v: unknown): { xs: unknown; ys: unknown } | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v) || v instanceof Tensor) return null;
  if (v instanceof RowBatch || v instanceof ExampleRow) return v;
  const keys = Object.keys(v);
  const o = v as Record<string, unknown>;
  if (keys.length === 2 && 'xs' in o && 'ys' in o) return { xs: o.xs, ys: o.ys };
  if (keys.length === 2 && 'x' in o && 'y' in o) return { xs: o.x, ys: o.y };
  return null;
}

/**
 * A pipeline of elements, iterated afresh by every `for await` (each epoch of `fitDataset`).
 * Each method returns a new dataset; none changes this one.
 */
export class Dataset<T = unknown> implements AsyncIterable<T> {
  readonly #open: () => AsyncIterator<T>;
  readonly #owned: Arrays | null;

  /** @internal */
  constructor(open: () => AsyncIterator<T>, owned: Arrays | null = null) {
    this.#open = open;
    this.#owned = owned;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this.#open();
  }

  #then<U>(make: (source: Dataset<T>) => AsyncGenerator<U>): Dataset<U> {
    return new Dataset<U>(() => make(this), this.#owned);
  }

  /** `fn` applied to each element (awaited when it returns a promise). Rows of `fromArrays` reach it as `{ xs, ys }` values. */
  map<U>(fn: (element: T) => U | Promise<U>): Dataset<U> {
    if (typeof fn !== 'function') throw new ArgumentError(`dataset.map takes a function, got ${describeValue(fn)}`);
    return this.#then(async function* (source) {
      for await (const v of source) yield await fn(plain(v) as T);
    });
  }

  /** The first `count` elements. */
  take(count: number): Dataset<T> {
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new ArgumentError(`dataset.take: count must be a non-negative integer, got ${describeValue(count)}`);
    return this.#then(async function* (source) {
      if (count === 0) return;
      let n = 0;
      for await (const v of source) {
        yield v;
        if (++n >= count) return;
      }
    });
  }

  /** The elements `count` times over (forever when omitted), each pass a new iteration. */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 0)) {
      throw new ArgumentError(`dataset.repeat: count must be a non-negative integer (or omitted: forever), got ${describeValue(count)}`);
    }
    return this.#then(async function* (source) {
      for (let pass = 0; count === undefined || pass < count; pass++) {
        let any = false;
        for await (const v of source) {
          any = true;
          yield v;
        }
        if (!any) return; // an empty dataset repeated forever is empty, not a hang
      }
    });
  }

  /**
   * Elements in a random order drawn from a buffer of `bufferSize` (tf.data's algorithm: a
   * buffer as large as the dataset gives a uniform shuffle). A new order each iteration
   * (each epoch); with `seed`, the same orders every run.
   */
  shuffle(bufferSize: number, seed?: number): Dataset<T> {
    positiveInteger('dataset.shuffle: bufferSize', bufferSize);
    if (seed !== undefined && (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)) throw new ArgumentError(`dataset.shuffle: seed must be an integer in [0, 2^32), got ${describeValue(seed)}`);
    const base = seed ?? Math.floor(Math.random() * 0x100000000);
    let iteration = 0;
    return this.#then(async function* (source) {
      const next = random32(base ^ Math.imul(iteration++, 0x27d4eb2d));
      const buffer: T[] = [];
      for await (const v of source) {
        if (buffer.length < bufferSize) {
          buffer.push(v);
          continue;
        }
        const i = next() % bufferSize;
        const out = buffer[i];
        buffer[i] = v;
        yield out;
      }
      while (buffer.length) {
        const i = next() % buffer.length;
        const out = buffer[i];
        buffer[i] = buffer[buffer.length - 1];
        buffer.pop();
        yield out;
      }
    });
  }

  /**
   * Batches of `size` elements (the last one smaller, as TF.js' `smallLastBatch`; a last lone
   * row of `fromArrays` joins the batch before it, as in `fit`). Rows of
   * `fromArrays` become a {@link RowBatch} the core gathers; other elements (`{ xs, ys }`, or
   * plain values) are stacked into `{ values, shape }` with a first axis of the batch size,
   * and must agree in shape.
   */
  batch(size: number): Dataset<T extends ExampleRow ? RowBatch : T extends { xs: unknown; ys: unknown } ? { xs: Values; ys: Values } : Values> {
    positiveInteger('dataset.batch: size', size);
    type Out = T extends ExampleRow ? RowBatch : T extends { xs: unknown; ys: unknown } ? { xs: Values; ys: Values } : Values;
    return this.#then(async function* (source) {
      let group: T[] = [];
      let first = 0;
      const emit = (): Out => {
        const g = group;
        group = [];
        const start = first;
        first += g.length;
        const at = (i: number) => `element ${start + i}`;
        if (g.every((v) => v instanceof ExampleRow && v.source === (g[0] as ExampleRow).source)) {
          return new RowBatch((g[0] as ExampleRow).source, Uint32Array.from(g, (v) => (v as ExampleRow).row)) as Out;
        }
        const fields = g.map((v) => fieldsOf(v));
        if (fields.every((f) => f !== null)) {
          return {
            xs: stack(fields.map((f, i) => valuesOf(f!.xs, `${at(i)}.xs`)), (i) => `${at(i)}.xs`),
            ys: stack(fields.map((f, i) => valuesOf(f!.ys, `${at(i)}.ys`)), (i) => `${at(i)}.ys`),
          } as Out;
        }
        if (fields.some((f) => f !== null)) throw new ShapeError(`dataset.batch: ${at(fields.findIndex((f) => f === null))} is not { xs, ys } where others are`);
        return stack(g.map((v, i) => valuesOf(v, at(i))), at) as Out;
      };
      // Batches of rows are held back one step, so that a last lone row can join the batch
      // before it, as in fit's batches: BatchNormalization cannot train on one example, and
      // fromArrays(x, y).batch(n) then trains exactly as fit(x, y, { batchSize: n }) does.
      let held: RowBatch | null = null;
      for await (const v of source) {
        group.push(v);
        if (group.length < size) continue;
        const out = emit();
        if (!(out instanceof RowBatch)) {
          yield out;
          continue;
        }
        if (held) yield held as Out;
        held = out;
      }
      const last = group[0];
      if (held && group.length === 1 && last instanceof ExampleRow && last.source === held.source) {
        yield new RowBatch(held.source, Uint32Array.from([...held.rows, last.row])) as Out;
        return;
      }
      if (held) yield held as Out;
      if (group.length) yield emit();
    });
  }

  /** Every element, in order (for a finite dataset). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const v of this) out.push(v);
    return out;
  }

  /** @internal The tensors behind the rows, kept by a `tidy` that returns this dataset. */
  [ownedTensors](): Tensor[] {
    return this.#owned ? [this.#owned.x, this.#owned.y] : [];
  }

  /** Frees the tensors `fromArrays` made from plain arrays (given tensors stay the caller's). */
  dispose(): void {
    this.#owned?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A dataset of the examples of `x` and `y` (tensors, or plain arrays copied into WASM memory
 * once), `fromArrays(x, y)` or `fromArrays({ xs, ys })`. Its elements are rows, gathered by
 * the core when batches train; tensors keep their storage (u8 images, class indices).
 */
export function fromArrays(x: TensorLike | Batch | { x: TensorLike; y: TensorLike }, y?: TensorLike): Dataset<ExampleRow> {
  let xv: unknown = x;
  let yv: unknown = y;
  if (y === undefined) {
    const f = fieldsOf(x);
    if (!f) throw new ArgumentError(`datasets.fromArrays takes (x, y) or { xs, ys }, got ${describeValue(x)}`);
    [xv, yv] = [f.xs, f.ys];
  }
  const inputs = new Inputs('datasets.fromArrays');
  let source: Arrays;
  try {
    const tx = inputs.tensor(xv, 'xs', []);
    const n = tx.shape[0];
    if (tx.shape.length === 0 || n === 0) throw new ShapeError(`datasets.fromArrays: xs has shape [${tx.shape.join(', ')}], no examples`);
    const ty = inputs.tensor(yv, 'ys', [[]], n);
    if (ty.shape[0] !== n) throw new ShapeError(`datasets.fromArrays: xs has ${n} examples but ys has ${ty.shape[0]} (shape [${ty.shape.join(', ')}])`);
    source = new Arrays(tx, ty, inputs);
  } catch (err) {
    inputs.dispose();
    throw err;
  }
  const n = source.x.shape[0];
  return new Dataset<ExampleRow>(async function* () {
    source.check();
    for (let r = 0; r < n; r++) yield new ExampleRow(source, r);
  }, source);
}

/**
 * A dataset of what `fn` yields: a generator function (sync or async), called afresh for each
 * iteration (each epoch), or a function returning an iterator. Elements are `{ xs, ys }`
 * batches (or examples to `batch`).
 */
export function fromGenerator<T>(fn: () => Iterator<T> | AsyncIterator<T> | Iterable<T> | AsyncIterable<T>): Dataset<T> {
  if (typeof fn !== 'function') throw new ArgumentError(`datasets.fromGenerator takes a generator function, got ${describeValue(fn)}`);
  return new Dataset<T>(async function* () {
    const made = fn() as unknown;
    const it = made as Partial<AsyncIterable<T> & Iterable<T> & AsyncIterator<T>>;
    if (made !== null && typeof made === 'object' && typeof it[Symbol.asyncIterator] === 'function') yield* it as AsyncIterable<T>;
    else if (made !== null && typeof made === 'object' && typeof it[Symbol.iterator] === 'function') yield* it as Iterable<T>;
    else if (made !== null && typeof made === 'object' && typeof it.next === 'function') yield* { [Symbol.asyncIterator]: () => it as AsyncIterator<T> };
    else throw new DataError(`datasets.fromGenerator: the function returned ${describeValue(made)}, not an iterator`);
  });
}
