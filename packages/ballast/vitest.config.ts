import { defineConfig } from 'vitest/config';

// Tests import the built package (dist/ and wasm/), exactly as users do; each file runs in
// its own process, so each can load the build it is about.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
