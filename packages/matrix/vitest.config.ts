import { defineConfig } from 'vitest/config';

// Tests here start real relays and move real bytes over loopback; CI runs two packages' tests
// at once on two cores, so a step that takes 1 s alone may take several: generous timeouts.
export default defineConfig({
  test: { testTimeout: 60_000, hookTimeout: 30_000 },
});
