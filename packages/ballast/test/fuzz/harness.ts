// The fuzz harness: valid calls of the public API with one part replaced by a bad value
// (fast-check draws which call, which part and which value, from a seed), each checked by
// one oracle: the call succeeds, or throws a BallastError subclass with a message that is
// not a trap or a glue error; it never hangs; and a model it was refused on is unharmed.
import fc from 'fast-check';
import { BallastError } from 'ballast';

/** What a user's own throwing value (a Proxy, a getter) throws: passing it through is fine. */
export class UserThrow extends Error {
  override name = 'UserThrow';
}

const throwing = (): never => {
  throw new UserThrow('thrown by a value the test made');
};

/** A Proxy that throws on every look: keys, properties, prototype, conversion. */
function throwingProxy(): object {
  return new Proxy({}, { get: throwing, has: throwing, ownKeys: throwing, getPrototypeOf: throwing, getOwnPropertyDescriptor: throwing });
}

/** Values a careless or hostile caller sends where something else belongs. */
export const badValues: Array<() => unknown> = [
  () => NaN, () => Infinity, () => -Infinity, () => -1, () => 0, () => -0, () => 1, () => 2 ** 32 + 1, () => 2 ** 32,
  () => 2 ** 31, () => 1e9, () => 0.5, () => 1.5, () => -0.5, () => 2 ** 53 + 2, () => 1e-300, () => 3.4e39,
  () => '3', () => 'abc', () => '', () => 'same', () => 'relu', () => '\u0000', () => 'x'.repeat(5000),
  () => null, () => undefined, () => true, () => false, () => 5n, () => Symbol('s'),
  () => ({}), () => ({ a: 1 }), () => [], () => [1], () => [[1]], () => [-1], () => [NaN], () => [0.5, 2],
  () => [1, 2, 3, 4, 5], () => new Array(3), () => () => 1, () => async () => 1, throwingProxy,
  () => new Float32Array(2), () => new Float64Array([NaN]), () => new BigInt64Array(1), () => new Date(0),
  () => Object.create(null), () => ({ toString: throwing, valueOf: throwing }), () => ({ valueOf: () => 3 }),
  () => ({ className: 'Dense', config: {} }), () => ({ name: 5 }), () => new Map(),
];

/**
 * A bad value, made when the case runs (fast-check must not touch a throwing Proxy): one of
 * the list above, or now and then anything fast-check makes.
 */
export const badValue: fc.Arbitrary<() => unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: badValues.length - 1 }).map((i) => badValues[i]) },
  { weight: 1, arbitrary: fc.anything({ maxDepth: 2, withBigInt: true, withNullPrototype: true, withTypedArray: true }).map((v) => () => v) },
  { weight: 1, arbitrary: fc.double().map((v) => () => v) },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }).map((v) => () => v) },
);

type Path = Array<string | number>;

const isPlain = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Array.isArray(v));

/** Every place in `args` a mutation may go: plain objects' keys and short arrays' entries. */
export function pathsOf(args: unknown[]): Path[] {
  const out: Path[] = [];
  const walk = (v: unknown, path: Path, depth: number) => {
    out.push(path);
    if (depth >= 5 || !isPlain(v) || (Array.isArray(v) && v.length > 16)) return;
    for (const k of Object.keys(v)) walk((v as Record<string, unknown>)[k], [...path, Array.isArray(v) ? Number(k) : k], depth + 1);
  };
  args.forEach((a, i) => walk(a, [i], 0));
  return out;
}

/** How one case changes a valid call. */
export interface Mutation {
  /** Which place (an index into `pathsOf`, taken modulo their number). */
  at: number;
  kind: 'replace' | 'delete' | 'unknown-key';
  /** Makes the bad value. */
  value: () => unknown;
}

export const mutation: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom<Mutation['kind']>('replace', 'replace', 'replace', 'replace', 'replace', 'replace', 'delete', 'unknown-key'),
  value: badValue,
});

/** Applies `m` to `args` in place; returns where, as a short label for grouping failures. */
export function mutate(args: unknown[], m: Mutation): string {
  const paths = pathsOf(args);
  const path = paths[m.at % paths.length];
  let parent: unknown = args;
  for (const k of path.slice(0, -1)) parent = (parent as Record<string | number, unknown>)[k];
  const key = path[path.length - 1];
  const obj = parent as Record<string | number, unknown>;
  const label = path.map((k) => (typeof k === 'number' ? `[${k}]` : `.${k}`)).join('');
  if (m.kind === 'delete' && !Array.isArray(obj)) {
    delete obj[key];
    return `${label} deleted`;
  }
  if (m.kind === 'unknown-key' && isPlain(obj[key]) && !Array.isArray(obj[key])) {
    (obj[key] as Record<string, unknown>).fuzzUnknownKey = m.value();
    return `${label}.fuzzUnknownKey`;
  }
  obj[key] = m.value();
  return label;
}

/** Error messages that mean a check is missing: a trap, a panic, a glue error. */
const BROKEN = /unreachable|memory access out of bounds|RuntimeError|internal error|panicked|borrowed|null pointer passed to rust|recursive use|expected instance of|undefined is not|cannot read properties|is not a function|offset is out of bounds|invalid array length|Maximum call stack/i;

/** Null when `err` is an acceptable refusal; otherwise what was wrong with it. */
export function judge(err: unknown): string | null {
  if (err instanceof UserThrow) return null;
  if (err instanceof BallastError) {
    if (!err.message) return `${err.name} with no message`;
    if (BROKEN.test(err.message)) return `${err.name} hiding a broken call: ${err.message}`;
    if (err.constructor === BallastError) return `untyped BallastError: ${err.message}`;
    return null;
  }
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}`;
  return `a non-Error was thrown: ${String(err)}`;
}

/** A failure message with its numbers and quoted parts blanked, to group failures alike. */
export const shape = (message: string) =>
  message.replace(/'[^']*'|"[^"]*"/g, "'…'").replace(/-?\d+(\.\d+)?(e[-+]?\d+)?/gi, 'N').slice(0, 160);

export interface Outcome {
  ok: boolean;
  /** Null when the call was fine (it succeeded or was refused properly). */
  failure: string | null;
  /** What was thrown, when the call was refused. */
  error?: unknown;
  ms: number;
}

/** Runs `call` under a time limit (for asynchronous hangs; a synchronous one stops the run). */
export async function runCase(call: () => unknown, limitMs: number): Promise<Outcome> {
  const start = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hang(`no answer within ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([Promise.resolve().then(call), timeout]);
    return { ok: true, failure: null, ms: performance.now() - start };
  } catch (err) {
    const failure = err instanceof Hang ? `hang: ${err.message}` : judge(err);
    return { ok: false, failure, error: err, ms: performance.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

class Hang extends Error {}

/** Distinct failures by target, place and shape of message, with a count and the first case. */
export class Findings {
  readonly byKey = new Map<string, { count: number; first: string }>();
  cases = 0;

  add(target: string, where: string, failure: string, caseText: string): void {
    const key = `${target} ${where.replace(/\[\d+\]/g, '[i]')}: ${shape(failure)}`;
    const seen = this.byKey.get(key);
    if (seen) seen.count++;
    else this.byKey.set(key, { count: 1, first: caseText });
  }

  get failures(): number {
    let n = 0;
    for (const v of this.byKey.values()) n += v.count;
    return n;
  }

  report(): string {
    const lines = [`${this.cases} cases, ${this.failures} failing, ${this.byKey.size} distinct`];
    for (const [k, v] of this.byKey) lines.push(`  ${v.count}× ${k}\n      e.g. ${v.first}`);
    return lines.join('\n');
  }
}

/** A short, safe account of a value for a report (Proxies and symbols included). */
export function show(v: unknown, depth = 0): string {
  try {
    if (typeof v === 'symbol') return String(v);
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'function') return 'a function';
    if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…(${v.length})` : v);
    if (typeof v !== 'object' || v === null) return Object.is(v, -0) ? '-0' : String(v);
    if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length})`;
    if (depth > 2) return '…';
    if (Array.isArray(v)) return `[${v.slice(0, 6).map((e) => show(e, depth + 1)).join(', ')}${v.length > 6 ? ', …' : ''}]`;
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return `a ${proto?.constructor?.name ?? 'object'}`;
    const keys = Object.keys(v);
    return `{ ${keys.slice(0, 8).map((k) => `${k}: ${show((v as Record<string, unknown>)[k], depth + 1)}`).join(', ')}${keys.length > 8 ? ', …' : ''} }`;
  } catch {
    return 'a throwing Proxy';
  }
}
