/** Messages between the broadcaster page and its encoder worker (encode-worker.ts). */
import type { EncryptedFile } from '@mxcast/format';

export interface EncoderConfig {
  frameMs: number;
  framesPerBlock: number;
  bitrate: number;
  channels: number;
  application: 'voip' | 'audio';
  /** The stream's key and IV (never leaves the browser except in the listen link's #fragment). */
  file: EncryptedFile;
}

export type ToEncoder =
  /** `pcm` is the worklet's end of a MessageChannel delivering Float32Array frames. */
  | { type: 'start'; config: EncoderConfig; pcm: MessagePort }
  /** Encode what is buffered, pad the last block with silence and write the EOS page. */
  | { type: 'stop' };

export type FromEncoder =
  | { type: 'ready' }
  /** Bytes of the file in order: first the magic, then one whole block per message. */
  | { type: 'bytes'; bytes: Uint8Array; seq: number | null; audioSeconds: number }
  | { type: 'level'; rms: number; peak: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };
