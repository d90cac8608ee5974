/** Messages between the broadcaster page and its encoder worker (encode-worker.ts). */
import type { EncryptedFile, Epoch } from '@mxcast/format';

export interface EncoderConfig {
  frameMs: number;
  framesPerBlock: number;
  bitrate: number;
  channels: number;
  application: 'voip' | 'audio';
  /**
   * Which Opus encoder: 'auto' (the default) uses the browser's WebCodecs AudioEncoder where it
   * encodes Opus with these settings, else opusscript; 'opusscript' forces the fallback.
   */
  codec?: 'auto' | 'opusscript';
  /** The stream's key and IV (never leaves the browser except in the listen link's #fragment). */
  file: EncryptedFile;
  /**
   * Continue a stream a reloaded tab left (resume-store.ts): no magic and no header pages, the
   * first block written is `nextSeq`, the same Ogg logical stream from `pageSeq` and `granule`
   * (RFC 3533 §6), sealed under every epoch so far.
   */
  resume?: EncoderResume;
}

export interface EncoderResume {
  nextSeq: number;
  serial: number;
  pageSeq: number;
  /** Granule of the last audio page the relay stored (u64, decimal). */
  granule: string;
  epochs: Epoch[];
}

export type OpusCodec = 'webcodecs' | 'opusscript';

export type ToEncoder =
  /** `pcm` is the worklet's end of a MessageChannel delivering Float32Array frames. */
  | { type: 'start'; config: EncoderConfig; pcm: MessagePort }
  /** Encode what is buffered, pad the last block with silence and write the EOS page. */
  | { type: 'stop' }
  /**
   * A new key epoch (docs/format.md "Key epochs"): blocks from `epoch.startSeq` on are sealed
   * with its key. Answered by 'epoch' (ok false when a block at or after startSeq was sealed).
   */
  | { type: 'epoch'; epoch: Epoch }
  /**
   * `pnpm bench web` only: encode `seconds` of a test signal as fast as the encoder goes (no
   * pipeline started), answered by a 'bench' message.
   */
  | {
      type: 'bench';
      codec: OpusCodec;
      seconds: number;
      bitrate: number;
      application: 'voip' | 'audio';
    };

export type FromEncoder =
  /** The encoder is set up; `codec` says which one encodes (docs/web.md "Opus encoding"). */
  | { type: 'ready'; codec: OpusCodec }
  /** Bytes of the file in order: first the magic, then one whole block per message. */
  | {
      type: 'bytes';
      bytes: Uint8Array;
      seq: number | null;
      audioSeconds: number;
      /** The Ogg stream after this block (resume-store.ts keeps it for the acked block). */
      ogg?: { serial: number; pageSeq: number; granule: string };
    }
  | { type: 'level'; rms: number; peak: number }
  | { type: 'stopped' }
  /** The answer to an 'epoch': the worker switches at startSeq, or refused it (`error`). */
  | { type: 'epoch'; startSeq: number; ok: boolean; error?: string }
  /** Encode speed: `audioSeconds` encoded in `wallMs`; `sizes` = the distinct packet sizes. */
  | { type: 'bench'; codec: OpusCodec; audioSeconds: number; wallMs: number; sizes: number[] }
  | { type: 'error'; message: string };
