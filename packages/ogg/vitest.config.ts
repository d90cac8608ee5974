import { defineConfig } from 'vitest/config';

// Some tests run ffmpeg/opusinfo/opusdec: allow for a busy 2-core machine.
export default defineConfig({
  test: { testTimeout: 60_000 },
});
