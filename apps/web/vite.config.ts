// Vite builds the web app into dist/, which the relay serves at `/` (and `/listen` → index.html).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Plugin } from 'vite';

const require = createRequire(import.meta.url);
// The real opusscript entry, resolved through @mxcast/audio (whose dependency it is), so the
// `opusscript` alias below can point at our browser shim without the shim importing itself.
const audioEntry = require.resolve('@mxcast/audio');
const opusscriptEntry = createRequire(audioEntry).resolve('opusscript');

/**
 * opusscript's WebAssembly build fetches `opusscript_native_wasm.wasm` from the directory of the
 * script that runs it: in the built app that is assets/, where the encoder worker lands.
 */
const opusWasm: Plugin = {
  name: 'mxcast-opusscript-wasm',
  apply: 'build',
  generateBundle() {
    this.emitFile({
      type: 'asset',
      fileName: 'assets/opusscript_native_wasm.wasm',
      source: readFileSync(join(dirname(opusscriptEntry), 'build', 'opusscript_native_wasm.wasm')),
    });
  },
};

/**
 * @mxcast/matrix hashes checkpoints with node:crypto (shared with the CLI); in the browser its
 * imports of `node:crypto`, and only those, get src/matrix/node-crypto-browser.ts (@noble/hashes
 * SHA-256, WebCrypto random bytes). docs/web.md "Matrix".
 */
const matrixNodeCrypto: Plugin = {
  name: 'mxcast-matrix-node-crypto',
  enforce: 'pre',
  resolveId(source, importer) {
    if (
      source === 'node:crypto' &&
      importer &&
      /[\\/]packages[\\/]matrix[\\/]src[\\/]/.test(importer)
    ) {
      return new URL('./src/matrix/node-crypto-browser.ts', import.meta.url).pathname;
    }
    return null;
  },
};

// The browser aliases apply to the built app only: tests under Vitest run in Node, where
// opusscript's own (WebAssembly) build loads fine.
export default defineConfig(({ command }) => ({
  plugins: [opusWasm, matrixNodeCrypto],
  base: '/',
  resolve: {
    alias:
      command !== 'build'
        ? []
        : [
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
    // The download service worker (src/listen/download-sw.ts) must sit at the root to control
    // `/__mxcast_download/…` (a worker's scope is at most its own path): a second entry with a
    // fixed name, docs/web.md "Download the recording".
    rollupOptions: {
      input: {
        index: new URL('./index.html', import.meta.url).pathname,
        'download-sw': new URL('./src/listen/download-sw.ts', import.meta.url).pathname,
      },
      output: {
        entryFileNames: (chunk: { name: string }) =>
          chunk.name === 'download-sw' ? 'download-sw.js' : 'assets/[name]-[hash].js',
      },
    },
  },
}));
