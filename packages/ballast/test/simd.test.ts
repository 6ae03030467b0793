import { describe, expect, it } from 'vitest';
import { ready, ArgumentError } from 'ballast';
import { goldenCases } from './golden-cases.js';
import { matmulCases } from './matmul-cases.js';
import { convCases, convGradCases, winogradCases } from './conv-cases.js';
import { trainingCases } from './training-cases.js';

describe('SIMD-only build in Node', async () => {
  await expect(ready({ threads: 0 })).rejects.toThrow(ArgumentError);
  const env = await ready({ threads: false });

  it('loads the single-threaded SIMD build', () => {
    expect(env).toEqual({ build: 'simd', threads: 1, simd: true });
  });

  matmulCases();
  convCases();
  convGradCases(false);
  winogradCases();
  goldenCases();
  trainingCases();
});
