import { defineConfig } from 'vitest/config';

// End-to-end tests start real relays and real tools: generous timeouts, and files one at a
// time so that timing-sensitive tests don't compete for the machine's two cores.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
