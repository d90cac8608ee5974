import { defineConfig } from 'vitest/config';

// The pipeline tests encode real Opus and the state tests run PBKDF2 (200 000 iterations) on
// purpose: on a busy 2-core machine that can pass vitest's 5 s default.
export default defineConfig({
  test: { testTimeout: 30_000 },
});
