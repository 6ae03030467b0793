import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { ready, matmul, tensor, diagnostics, Sequential, layers, ArgumentError } from 'ballast';
import { build, env, fused, options } from './build.js';
import { goldenCases } from './golden-cases.js';
import { matmulCases } from './matmul-cases.js';
import { convCases, convGradCases, winogradCases } from './conv-cases.js';
import { trainingCases } from './training-cases.js';
import { randomArray, rng } from './reference.js';

describe(`threaded build in Node (${build})`, () => {
  it('diagnostics switches refuse values the boundary would coerce', () => {
    for (const bad of ['no', 1, undefined, null]) {
      expect(() => diagnostics.setSimd(bad as never)).toThrow(ArgumentError);
      expect(() => diagnostics.setWinograd(bad as never)).toThrow(/setWinograd: enabled must be a boolean/);
    }
    for (const bad of [-1, 1.5, NaN, '2', 2 ** 32]) {
      expect(() => diagnostics.setThreadLimit(bad as never)).toThrow(/setThreadLimit: limit must be a whole number/);
    }
    diagnostics.setWinograd(true);
    diagnostics.setThreadLimit(0);
  });

  it('loads the threads + SIMD build with the requested pool', () => {
    expect(env).toEqual({ build, threads: 2, simd: true });
  });

  matmulCases();
  convCases();
  convGradCases(fused);
  winogradCases();
  goldenCases();
  trainingCases();

  it('really runs on more than one pool thread', () => {
    const random = rng(1);
    const a = tensor(randomArray(512 * 512, random), [512, 512]);
    diagnostics.takeTaskCounts();
    matmul(a, a).dispose();
    const counts = diagnostics.takeTaskCounts();
    const busyPoolThreads = counts.slice(1).filter((c) => c > 0).length;
    expect(busyPoolThreads, `tasks per thread: ${counts}`).toBe(2);
    expect(counts[0], 'the calling thread only waits').toBe(0);
  });

  it('one thread and the pool give identical results', () => {
    const random = rng(2);
    const a = tensor(randomArray(300 * 200, random), [300, 200]);
    const b = tensor(randomArray(200 * 100, random), [200, 100]);
    diagnostics.setThreadLimit(1);
    const one = matmul(a, b).data();
    diagnostics.setThreadLimit(0);
    const pool = matmul(a, b).data();
    expect(Array.from(one)).toEqual(Array.from(pool));
  });

  it('predict on the pool (chunks of 32, a short last one) matches one thread bitwise', async () => {
    const model = new Sequential([
      layers.input({ shape: [12, 12, 2] }),
      layers.batchNormalization(),
      layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu' }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(),
      layers.dense({ units: 5, activation: 'softmax' }),
    ], { seed: 4 });
    // 100 rows: chunks of 32, 32, 32 and 4 on the pool.
    const x = tensor(randomArray(100 * 12 * 12 * 2, rng(3)), [100, 12, 12, 2]);
    diagnostics.setThreadLimit(1);
    const one = await model.predict(x, { batchSize: 100 });
    diagnostics.setThreadLimit(0);
    diagnostics.takeTaskCounts();
    const pool = await model.predict(x, { batchSize: 100 });
    const counts = diagnostics.takeTaskCounts();
    // Which worker takes which chunk is up to the pool; the calling thread only waits.
    expect(counts[0], `tasks per thread: ${counts}`).toBe(0);
    expect(counts.slice(1).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(4);
    expect(Array.from(pool.data())).toEqual(Array.from(one.data()));
    for (const t of [x, one, pool]) t.dispose();
    model.dispose();
  });

  it('asking again for another thread count is refused', async () => {
    await expect(ready({ threads: 1 })).rejects.toThrow(/already called with 2/);
    await expect(ready({ threads: 2, relaxedSimd: !options.relaxedSimd })).rejects.toThrow(/already called with 2 thread/);
    await expect(ready({ threads: 2, relaxedSimd: 1 as never })).rejects.toThrow(/ready\(\{ relaxedSimd \}\) needs a boolean, got number 1/);
    await expect(ready({ thread: 2 } as never)).rejects.toThrow(/ready: unknown option 'thread' \(options: threads, relaxedSimd\)/);
    expect(await ready(options)).toEqual(env);
    expect(availableParallelism()).toBeGreaterThan(0);
  });
});
