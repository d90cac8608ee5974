import { defineConfig } from 'vitest/config';

// Pure functions only here; the timeouts match the other packages'.
export default defineConfig({
  test: { testTimeout: 60_000, hookTimeout: 30_000 },
});
