/** Plain-JS references and helpers for the tests. */
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { expect } from 'vitest';

const { PNG } = pngjs;

/** A seeded generator (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomArray(n: number, random: () => number): Float32Array {
  return Float32Array.from({ length: n }, () => random() * 2 - 1);
}

/** C = op(A)·op(B) with A stored m×k (k×m if transposed) and B stored k×n (n×k). */
export function matmulReference(
  a: Float32Array, b: Float32Array, m: number, n: number, k: number, ta = false, tb = false,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
      c[i * n + j] = s;
    }
  }
  return c;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** An IDX file (the MNIST format): magic (0, 0, type 8 = u8, ndims), big-endian dims, data. */
export function idxFile(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, 8, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A PNG file of `width` × `height` RGBA bytes (pngjs's encoder; `colorType` 0 writes grayscale, 2 RGB: give equal R, G and B for gray values that are known exactly). */
export function pngFile(width: number, height: number, rgba: Uint8Array, colorType: 0 | 2 | 6 = 6): Uint8Array {
  const png = new PNG({ width, height, colorType, inputColorType: 6 });
  png.data = Buffer.from(rgba);
  return PNG.sync.write(png, { colorType, inputColorType: 6 });
}

/** A JPEG file of `width` × `height` RGBA bytes (jpeg-js's encoder; alpha is dropped). */
export function jpegFile(width: number, height: number, rgba: Uint8Array, quality = 95): Uint8Array {
  return jpeg.encode({ data: Buffer.from(rgba), width, height }, quality).data;
}

/** `width` × `height` RGBA bytes, pixel `(y, x)` channel `c` being `fn(y, x, c)`. */
export function rgbaOf(width: number, height: number, fn: (y: number, x: number, c: number) => number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 4; c++) out[(y * width + x) * 4 + c] = fn(y, x, c);
  return out;
}

/**
 * The scalar kernels' results against the SIMD kernels': the same operations in the same
 * order, so bitwise equal, except in the relaxed build, whose SIMD multiply-adds are fused
 * (rounded once): there every number within 1e-4 of the other, relative to its magnitude.
 */
export function expectScalarMatchesSimd(scalar: unknown, simd: unknown, fused: boolean): void {
  if (!fused) {
    expect(scalar).toEqual(simd);
    return;
  }
  const numbers = (v: unknown): number[] =>
    typeof v === 'number' ? [v] : Array.isArray(v) || ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<unknown>).flatMap(numbers)
      : v !== null && typeof v === 'object' ? Object.values(v).flatMap(numbers) : [];
  const [a, b] = [numbers(scalar), numbers(simd)];
  expect(a.length).toBe(b.length);
  const worst = a.reduce((w, x, i) => Math.max(w, Math.abs(x - b[i]!) / (1 + Math.abs(b[i]!))), 0);
  expect(worst).toBeLessThan(1e-4);
}
