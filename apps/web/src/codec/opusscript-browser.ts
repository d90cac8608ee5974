// Browser stand-in for `opusscript`, wired in by the alias in vite.config.ts so that
// @mxcast/audio's encoder and decoder run unchanged in a page or a worker.
//
// Why: opusscript's default (wasm) build fetches its .wasm with a *synchronous* XMLHttpRequest
// relative to the script's URL. That only works inside a worker, and only with the .wasm copied
// next to the bundled worker; on a page (where the player decodes) it aborts with "sync fetching
// of the wasm failed". Its asm.js build is self-contained JavaScript that V8 compiles ahead of
// time, fast enough for real-time 48 kHz Opus in either context, so the browser always gets
// that one, whatever `wasm` option the caller passed.
import OpusScriptReal from 'opusscript-real';

class OpusScript extends OpusScriptReal {
  constructor(rate: number, channels?: number, application?: number, options?: { wasm?: boolean }) {
    super(rate, channels, application, { ...options, wasm: false });
  }
}

export default OpusScript;
