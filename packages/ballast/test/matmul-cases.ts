/** GEMM checks shared by the threaded and SIMD-only test files. */
import { expect, it } from 'vitest';
import { matmul, tensor, ShapeError, BallastError, diagnostics } from 'ballast';
import { matmulReference, maxAbsDiff, randomArray, rng } from './reference.js';

const shapes: Array<[number, number, number]> = [
  [1, 1, 1], [3, 17, 5], [17, 3, 129], [129, 65, 257], [257, 33, 17], [64, 64, 64], [100, 1, 300],
];

export function matmulCases(): void {
  it.each(shapes)('matches a JS reference for m=%i n=%i k=%i, all transposes', (m, n, k) => {
    const random = rng(m * 1000 + n * 10 + k);
    for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
      const a = randomArray(m * k, random);
      const b = randomArray(k * n, random);
      const ta_ = tensor(a, ta ? [k, m] : [m, k]);
      const tb_ = tensor(b, tb ? [n, k] : [k, n]);
      const c = matmul(ta_, tb_, { transposeA: ta, transposeB: tb });
      expect(c.shape).toEqual([m, n]);
      expect(maxAbsDiff(c.data(), matmulReference(a, b, m, n, k, ta, tb))).toBeLessThan(1e-5 * Math.sqrt(k) * 8);
      for (const t of [ta_, tb_, c]) t.dispose();
    }
  });

  it('scalar and SIMD kernels agree', () => {
    const random = rng(5);
    const a = tensor(randomArray(130 * 70, random), [130, 70]);
    const b = tensor(randomArray(70 * 90, random), [70, 90]);
    diagnostics.setSimd(false);
    const scalar = matmul(a, b).data();
    diagnostics.setSimd(true);
    const simd = matmul(a, b).data();
    // Same packing and summation order; only the instructions differ.
    expect(maxAbsDiff(scalar, simd)).toBeLessThan(1e-5);
  });

  it('a wrong shape throws a ShapeError naming both shapes, and the module keeps working', () => {
    const a = tensor(new Float32Array(6), [2, 3]);
    let caught: unknown;
    try {
      matmul(a, a);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ShapeError);
    expect(caught).toBeInstanceOf(BallastError);
    expect((caught as Error).message).toContain('[2, 3] · [2, 3]');
    expect(() => matmul(a, tensor([1, 2], [1, 2]))).toThrow(ShapeError);
    expect(() => tensor([1, 2, 3], [2, 2])).toThrow(/needs 4 values, got 3/);
    // Sizes that would wrap at 32 bits are refused, not taken modulo 2^32.
    expect(() => tensor(new Float32Array(0), [65536, 65536])).toThrow(/needs 4294967296 values, got 0/);
    expect(() => tensor(new Float32Array(3), [2 ** 32 + 3])).toThrow(/dimensions are whole numbers below 2\^32/);
    const ok = matmul(a, a, { transposeB: true });
    expect(ok.shape).toEqual([2, 2]);
  });

  it('a disposed tensor cannot be used', () => {
    const a = tensor([1, 2, 3, 4], [2, 2]);
    a.dispose();
    expect(a.isDisposed).toBe(true);
    expect(() => a.data()).toThrow(/after dispose/);
  });
}
