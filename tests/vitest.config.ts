import { defineConfig } from 'vitest/config';

// End-to-end tests start real relays and real tools: generous timeouts, and within a project one
// file at a time, so a timing-sensitive test shares the machine's two cores with one other file
// at most. `npm test` runs the two projects as two vitest processes at once
// (run-lanes.sh): the Matrix suites (a Synapse each; ~15 min alone) beside the rest (~13 min).
// Most of these tests wait on real time (live audio, timeouts, Synapse), not on the CPU, so two
// lanes nearly halve the wall time. (Vitest's own scheduler runs every file of projects with
// fileParallelism off in one sequential group, hence two processes.)
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
