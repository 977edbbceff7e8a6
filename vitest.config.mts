import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // the real-client tests start servers and package managers: keep files in parallel, bounded
    maxWorkers: 2,
    reporters: ['default', './test/support/summary-reporter.ts'],
  },
});
