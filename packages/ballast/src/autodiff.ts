/**
 * Custom training loops: `valueAndGrads(fn, params)` records `fn`'s ops on a tape in WASM and
 * returns the value and the gradient of every parameter.
 *
 * ```ts
 * const { value, grads } = valueAndGrads((w, b) => {
 *   const logits = ops.dense(ops.constant(x), w, b);
 *   return ops.softmaxCrossEntropy(logits, ops.constant(y));
 * }, [w, b]);
 * ```
 */
import type { Tape as WasmTape } from '../wasm/threads/ballast_wasm.js';
import { ArgumentError, ShapeError, StateError, guard, release } from './errors.js';
import { describeValue, optionsObject } from './options.js';
import { wasm } from './runtime.js';
import { Tensor } from './tensor.js';

/** A value recorded on the current tape. */
export class Variable {
  /** @internal The tape that recorded this value. */
  readonly tape: WasmTape;
  /** @internal Its index on the tape. */
  readonly id: number;

  /** @internal */
  constructor(tape: WasmTape, id: number) {
    this.tape = tape;
    this.id = id;
  }
  get shape(): number[] {
    return Array.from(guard(() => live(this).valueShape(this.id)));
  }
  /** A copy of the current value. */
  value(): Tensor {
    return new Tensor(guard(() => live(this).value(this.id)));
  }
}

/** Tapes whose valueAndGrads call has returned (and freed them). */
const finished = new WeakSet<WasmTape>();

/** The variable's tape, refused once its call has returned. */
function live(v: Variable): WasmTape {
  if (finished.has(v.tape)) throw new StateError('a Variable is only usable inside the valueAndGrads call that made it');
  return v.tape;
}

let current: WasmTape | null = null;

function tape(): WasmTape {
  if (!current) throw new StateError('ops on variables only run inside valueAndGrads(fn, params)');
  return current;
}

function op(name: string, inputs: Variable[], params: number[] = []): Variable {
  const t = tape();
  if (!Array.isArray(params)) throw new ArgumentError(`op '${name}': expected a list of numbers, got ${describeValue(params)}`);
  const bad = Array.from(params, (p) => typeof p).findIndex((k) => k !== 'number');
  if (bad >= 0) throw new ArgumentError(`op '${name}': expected a list of numbers, got ${describeValue(params[bad])} at index ${bad}`);
  for (const [i, v] of inputs.entries()) {
    if (!(v instanceof Variable)) throw new ArgumentError(`op '${name}': input ${i} must be a Variable, got ${describeValue(v)}`);
    if (v.tape !== t) throw new StateError(`op '${name}': a variable from another valueAndGrads call`);
  }
  return new Variable(t, guard(() => t.op(name, Uint32Array.from(inputs.map((v) => v.id)), Float32Array.from(params))));
}

type Pair = number | [number, number];
/** 'valid' or 'same' as the op's code; anything else is refused (not read as 'valid'). */
function paddingCode(name: string, padding: unknown): number {
  if (padding !== 'valid' && padding !== 'same') throw new ArgumentError(`op '${name}': padding must be 'valid' or 'same', got ${describeValue(padding)}`);
  return padding === 'same' ? 1 : 0;
}
const pair = (p: Pair): [number, number] => {
  if (typeof p === 'number') return [p, p];
  if (Array.isArray(p) && p.length === 2) return p;
  throw new ArgumentError(`expected a number or [height, width], got ${describeValue(p)}`);
};
/** The options object of an op: `{}` when omitted, refused when not an object. */
const opOptions = <T>(name: string, o: T): T => optionsObject(name, o) as T;

export const ops = {
  /** A tensor as a value without gradient (inputs, labels). */
  constant: (t: Tensor) => {
    if (!(t instanceof Tensor)) throw new ArgumentError(`ops.constant takes a Tensor, got ${describeValue(t)}`);
    return new Variable(tape(), guard(() => tape().constant(t.handle)));
  },
  add: (a: Variable, b: Variable) => op('add', [a, b]),
  sub: (a: Variable, b: Variable) => op('sub', [a, b]),
  mul: (a: Variable, b: Variable) => op('mul', [a, b]),
  div: (a: Variable, b: Variable) => op('div', [a, b]),
  scale: (a: Variable, s: number) => op('scale', [a], [s]),
  matmul: (a: Variable, b: Variable) => op('matmul', [a, b]),
  relu: (x: Variable) => op('relu', [x]),
  sigmoid: (x: Variable) => op('sigmoid', [x]),
  tanh: (x: Variable) => op('tanh', [x]),
  /** Keras's `leaky_relu`: slope `negativeSlope` (default 0.2) below 0. */
  leakyRelu: (x: Variable, negativeSlope = 0.2) => op('leakyRelu', [x], [negativeSlope]),
  elu: (x: Variable, alpha = 1) => op('elu', [x], [alpha]),
  selu: (x: Variable) => op('selu', [x]),
  /** Exact (erf) GELU; `{ approximate: true }` for the tanh form. */
  gelu: (x: Variable, o: { approximate?: boolean } = {}) => op('gelu', [x], [opOptions('gelu', o).approximate ? 1 : 0]),
  /** `x · sigmoid(x)`, also called swish. */
  silu: (x: Variable) => op('silu', [x]),
  softplus: (x: Variable) => op('softplus', [x]),
  softsign: (x: Variable) => op('softsign', [x]),
  /** Keras 3's `relu6(x + 3) / 6`. */
  hardSigmoid: (x: Variable) => op('hardSigmoid', [x]),
  relu6: (x: Variable) => op('relu6', [x]),
  mish: (x: Variable) => op('mish', [x]),
  /** `x` where positive, `alpha · x` elsewhere; `alpha` broadcasts to `x`. */
  prelu: (x: Variable, alpha: Variable) => op('prelu', [x, alpha]),
  /** Over `axis` (default -1, the last; negative counts from the end). */
  softmax: (x: Variable, axis = -1) => op('softmax', [x], [axis]),
  logSoftmax: (x: Variable) => op('logSoftmax', [x]),
  /** Sum over `axes` (all when omitted). */
  sum: (x: Variable, axes: number[] = []) => op('sum', [x], axes),
  mean: (x: Variable, axes: number[] = []) => op('mean', [x], axes),
  reshape: (x: Variable, shape: number[]) => op('reshape', [x], shape),
  transpose: (x: Variable, perm: number[]) => op('transpose', [x], perm),
  flatten: (x: Variable) => op('flatten', [x]),
  /** `x·kernel + bias`, kernel `[in, out]`. */
  dense: (x: Variable, kernel: Variable, bias?: Variable) => op('dense', bias ? [x, kernel, bias] : [x, kernel]),
  /** NHWC input, HWIO filter. */
  conv2d: (x: Variable, filter: Variable, bias?: Variable, o: { strides?: Pair; padding?: 'valid' | 'same' } = {}) => {
    const { strides = 1, padding = 'valid' } = opOptions('conv2d', o);
    return op('conv2d', bias ? [x, filter, bias] : [x, filter], [...pair(strides), paddingCode('conv2d', padding)]);
  },
  maxPool2d: (x: Variable, o: { poolSize?: Pair; strides?: Pair; padding?: 'valid' | 'same' } = {}) => {
    const { poolSize = 2, strides = poolSize, padding = 'valid' } = opOptions('maxPool2d', o);
    return op('maxPool2d', [x], [...pair(poolSize), ...pair(strides), paddingCode('maxPool2d', padding)]);
  },
  /** Batch normalization with batch statistics (training mode). */
  batchNorm: (x: Variable, gamma: Variable, beta: Variable, o: { axis?: number; epsilon?: number } = {}) =>
    op('batchNorm', [x, gamma, beta], [opOptions('batchNorm', o).axis ?? -1, o.epsilon ?? 1e-3]),
  /** Mean categorical cross-entropy of softmax(logits) against one-hot labels. */
  softmaxCrossEntropy: (logits: Variable, labels: Variable) => op('softmaxCrossEntropy', [logits, labels]),
  meanSquaredError: (pred: Variable, target: Variable) => op('meanSquaredError', [pred, target]),
};

export interface ValueAndGrads {
  value: number;
  /** One gradient per parameter, same shapes; dispose them when done. */
  grads: Tensor[];
  /** L2 norm of each gradient. */
  gradNorms: number[];
}

/** Runs `fn` on the parameters as variables; returns its scalar value and the gradients. */
export function valueAndGrads(fn: (...params: Variable[]) => Variable, params: Tensor[]): ValueAndGrads {
  if (current) throw new StateError('valueAndGrads calls cannot be nested');
  if (!Array.isArray(params)) throw new ArgumentError('valueAndGrads(fn, params) needs an array of tensors');
  const t = new (wasm().Tape)();
  current = t;
  try {
    const vars = params.map((p) => new Variable(t, guard(() => t.variable(p.handle))));
    const out = fn(...vars);
    if (!(out instanceof Variable)) throw new ArgumentError('the function given to valueAndGrads must return a Variable');
    const shape = out.shape;
    if (shape.reduce((a, b) => a * b, 1) !== 1) throw new ShapeError(`valueAndGrads needs a scalar result, got shape [${shape.join(', ')}]`);
    guard(() => t.backward(out.id));
    const valueTensor = out.value();
    const value = valueTensor.data()[0];
    valueTensor.dispose();
    const grads = vars.map((v) => new Tensor(guard(() => t.grad(v.id))));
    const gradNorms = grads.map((g) => Math.sqrt(g.data().reduce((s, x) => s + x * x, 0)));
    return { value, grads, gradNorms };
  } finally {
    current = null;
    finished.add(t);
    release(t);
  }
}
