import { defineConfig } from 'vitest/config';

// Tests run in Node; the end-to-end test builds the app and drives Chromium itself.
export default defineConfig({
  test: {
    environment: 'node',
    include: ['test/**/*.test.mjs'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 90_000,
  },
});
