import { defineConfig } from 'vitest/config';
import { relaxedSimdFlags } from './test/runtime-features.js';

// Tests import the built package (dist/ and wasm/), exactly as users do; each file runs in
// its own process, so each can load the build it is about. The layer and model files (those
// importing test/build.ts) run three times: on the threaded build, on the SIMD-only one, and
// on the relaxed-SIMD one (with the threads suite, which is about pool builds).
const onEveryBuild = [
  'activations', 'autodiff', 'conv-layers', 'conv-transpose', 'dataset', 'graph', 'health', 'model', 'norm-layers', 'shape-layers',
  'fuzz/api.fuzz', 'fuzz/regressions',
].map((name) => `test/${name}.test.ts`);

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'threads', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'simd', include: onEveryBuild, env: { BALLAST_TEST_BUILD: 'simd' } } },
      {
        extends: true,
        test: {
          name: 'relaxed',
          include: [...onEveryBuild, 'test/threads.test.ts'],
          env: { BALLAST_TEST_BUILD: 'relaxed' },
          execArgv: relaxedSimdFlags,
        },
      },
    ],
  },
});
