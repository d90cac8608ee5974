// Browser stand-in for `opusscript`, wired in by the alias in vite.config.ts so that
// @mxcast/audio's encoder and decoder run unchanged in a page or a worker.
//
// opusscript's WebAssembly build loads its .wasm with a *synchronous* XMLHttpRequest from the
// directory of the running script. Browsers allow that only in workers: the encoder worker gets
// the WebAssembly build (the Vite config copies the .wasm next to the bundled worker, in
// assets/), which encodes ~30× faster than the asm.js build and so keeps up with real time even
// on a busy machine. On a page (where the direct engine decodes; decoding is cheap) the sync
// load would abort ("sync fetching of the wasm failed"), so pages get the self-contained asm.js
// build, whatever `wasm` option the caller passed.
import OpusScriptReal from 'opusscript-real';

const inWorker = typeof (globalThis as { importScripts?: unknown }).importScripts === 'function';

class OpusScript extends OpusScriptReal {
  constructor(rate: number, channels?: number, application?: number, options?: { wasm?: boolean }) {
    super(rate, channels, application, { ...options, wasm: inWorker && (options?.wasm ?? true) });
  }
}

export default OpusScript;
