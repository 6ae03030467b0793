/** Switches for benchmarks and cross-checks: kernel paths, thread use. */
import { memoryBytes, wasm } from './runtime.js';

/** Bytes of WASM linear memory: it grows when needed and never shrinks, so a value that stays
 * the same from one epoch to the next shows that training does not leak. */
export function wasmMemoryBytes(): number {
  return memoryBytes();
}

/** Use the SIMD128 kernels (true, the default) or the scalar ones. */
export function setSimd(enabled: boolean): void {
  wasm().setSimdEnabled(enabled);
}

/** Use Winograd's F(4×4, 3×3) for 3×3 stride-1 convolutions where it is faster (true, the
 * default: 8 channels or more and 8 images or more; the filter gradient from 16 channels) or
 * the direct kernels everywhere. */
export function setWinograd(enabled: boolean): void {
  wasm().setWinogradEnabled(enabled);
}

/** Run kernels on one thread (1) or on the whole pool (0, the default). */
export function setThreadLimit(limit: number): void {
  wasm().setThreadLimit(limit);
}

/**
 * Tasks each thread ran since the last call, and resets the counts: index 0 is the calling
 * thread, index i+1 pool thread i.
 */
export function takeTaskCounts(): number[] {
  return Array.from(wasm().takeTaskCounts());
}
