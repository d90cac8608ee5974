import { defineConfig } from 'vitest/config';

// End-to-end tests start real relays and real tools: generous timeouts, and one file at a time.
// Two projects, the Matrix suites (a Synapse each) and the rest: `npm test` (run-lanes.sh) runs
// both in one vitest process, one file after another; MXCAST_TEST_LANES=2 runs them as two
// processes at once, faster but a timing-sensitive test then shares the two cores with another
// file (README "Timings"). (Vitest's own scheduler runs every file of projects with
// fileParallelism off in one sequential group, hence two processes for two lanes.)
const common = { testTimeout: 120_000, hookTimeout: 60_000, fileParallelism: false };
const matrixFiles = ['**/matrix/**/*.test.ts', '**/matrix-*.test.ts'];

export default defineConfig({
  test: {
    projects: [
      { test: { ...common, name: 'matrix', include: matrixFiles } },
      {
        test: {
          ...common,
          name: 'local',
          include: ['**/*.test.ts'],
          exclude: [...matrixFiles, '**/node_modules/**'],
        },
      },
    ],
  },
});
