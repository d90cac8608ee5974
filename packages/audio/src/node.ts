// @mxcast/audio/node — Node-only helpers (file I/O) behind their own entry point.
export { WavFileWriter } from './node/wav-file-writer.ts';
