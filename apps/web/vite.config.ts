// Vite builds the web app into dist/, which the relay serves at `/` (and `/listen` → index.html).
import { createRequire } from 'node:module';
import { defineConfig } from 'vite';

const require = createRequire(import.meta.url);
// The real opusscript entry, resolved through @mxcast/audio (whose dependency it is), so the
// `opusscript` alias below can point at our browser shim without the shim importing itself.
const audioEntry = require.resolve('@mxcast/audio');
const opusscriptEntry = createRequire(audioEntry).resolve('opusscript');

export default defineConfig({
  base: '/',
  resolve: {
    alias: [
      {
        find: /^opusscript$/,
        replacement: new URL('./src/codec/opusscript-browser.ts', import.meta.url).pathname,
      },
      { find: /^opusscript-real$/, replacement: opusscriptEntry },
    ],
  },
  worker: { format: 'es' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 1500,
  },
});
