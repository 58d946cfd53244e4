import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Child processes and worker pools are heavy; the machine has 2 cores.
    fileParallelism: false,
  },
});
