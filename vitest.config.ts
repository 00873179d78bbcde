import { defineConfig } from 'vitest/config';

// Boot tests run QEMU under TCG on a 2-core machine: running them side by side only makes each slower
// and pushes them past their timeouts, so files run one at a time within a project.
export default defineConfig({
  test: {
    // One directory per run, shared by every project's files, and the teardown of what they start there.
    globalSetup: ['test/support/global-setup.ts'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 10_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'boot',
          include: ['test/boot/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
