import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/helpers/tmp-root.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // e2e tests spawn the built CLI and servers; two cores, so keep parallelism modest.
    maxWorkers: 2,
  },
});
