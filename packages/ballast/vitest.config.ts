import { defineConfig } from 'vitest/config';

// Tests import the built package (dist/ and wasm/), exactly as users do; each file runs in
// its own process, so each can load the build it is about. The layer and model files (those
// importing test/build.ts) run twice: on the threaded build, and again on the SIMD-only one.
const onEitherBuild = [
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
      { extends: true, test: { name: 'simd', include: onEitherBuild, env: { BALLAST_TEST_BUILD: 'simd' } } },
    ],
  },
});
