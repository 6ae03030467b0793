/** The checks every options object of the public API goes through. */
import { ArgumentError } from './errors.js';

/** A short account of a value a user passed, for error messages. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') {
    // Read without trusting it: a `constructor` key may hold anything, and a Proxy or a
    // getter may throw, which must not replace the error being described.
    let name: unknown;
    try {
      name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    } catch {
      return 'an object';
    }
    return typeof name === 'string' && name !== '' ? name : 'an object';
  }
  return typeof v === 'string' ? JSON.stringify(v) : `${typeof v} ${String(v)}`;
}

/** Refuses a non-object, and option names `what` does not know, listing those it does. */
export function checkOptions(what: string, options: unknown, known: readonly string[]): void {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError(`${what}: options must be an object, got ${describeValue(options)}`);
  }
  const unknown = Object.keys(options).find((k) => !known.includes(k));
  if (unknown !== undefined) throw new ArgumentError(`${what}: unknown option '${unknown}' (options: ${known.join(', ')})`);
}

/** A copy of a factory's options object: `{}` when omitted, refused when not an object. */
export function optionsObject<T>(what: string, options: T | undefined): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new ArgumentError(`${what}: options must be an object, got ${describeValue(options)}`);
  }
  return { ...(options as Record<string, unknown>) };
}
