/** Switches for benchmarks and cross-checks: kernel paths, thread use. */
import { ArgumentError, guard } from './errors.js';
import { describeValue } from './options.js';
import { memoryBytes, wasm } from './runtime.js';

/** Refuses a switch that is not a boolean (the boundary would coerce 'no' or 5 silently). */
function flag(what: string, enabled: unknown): boolean {
  if (typeof enabled !== 'boolean') throw new ArgumentError(`diagnostics.${what}: enabled must be a boolean, got ${describeValue(enabled)}`);
  return enabled;
}

/** Bytes of WASM linear memory: it grows when needed and never shrinks, so a value that stays
 * the same from one epoch to the next shows that training does not leak. */
export function wasmMemoryBytes(): number {
  return memoryBytes();
}

/** Use the SIMD128 kernels (true, the default) or the scalar ones. */
export function setSimd(enabled: boolean): void {
  const on = flag('setSimd', enabled);
  guard(() => wasm().setSimdEnabled(on));
}

/** Use Winograd's F(4×4, 3×3) for the 3×3 stride-1 convolutions whose shapes the core finds
 * it faster for (true, the default) or the direct kernels everywhere. */
export function setWinograd(enabled: boolean): void {
  const on = flag('setWinograd', enabled);
  guard(() => wasm().setWinogradEnabled(on));
}

/** Run kernels on one thread (1) or on the whole pool (0, the default). */
export function setThreadLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 0 || limit > 0xffff_ffff) {
    throw new ArgumentError(`diagnostics.setThreadLimit: limit must be a whole number of threads (0 for the pool), got ${describeValue(limit)}`);
  }
  guard(() => wasm().setThreadLimit(limit));
}

/**
 * Tasks each thread ran since the last call, and resets the counts: index 0 is the calling
 * thread, index i+1 pool thread i.
 */
export function takeTaskCounts(): number[] {
  return guard(() => Array.from(wasm().takeTaskCounts()));
}
