/** Opus packets to 48 kHz interleaved 16-bit PCM (libopus via opusscript). */

import { AudioError } from './audio-error.ts';
import { OpusScriptBridge } from './opusscript-bridge.ts';

export interface OpusPacketDecoderOptions {
  channels: number;
  /** Use opusscript's WebAssembly build (default) or its asm.js build. */
  wasm?: boolean;
}

export class OpusPacketDecoder {
  readonly channels: number;
  readonly sampleRate = 48000;
  private readonly opus: OpusScriptBridge;

  constructor(options: OpusPacketDecoderOptions) {
    if (options.channels !== 1 && options.channels !== 2) {
      throw new AudioError(
        'UNSUPPORTED_CHANNELS',
        `decoding to 1 or 2 channels, not ${options.channels}`,
      );
    }
    this.channels = options.channels;
    this.opus = new OpusScriptBridge(48000, options.channels, 'audio', options.wasm ?? true);
  }

  /** One packet → `samples × channels` interleaved Int16 at 48 kHz. */
  decode(packet: Uint8Array): Int16Array {
    if (packet.length === 0) throw new AudioError('DECODE_FAILED', 'an empty Opus packet');
    return this.opus.decode(packet);
  }

  destroy(): void {
    this.opus.destroy();
  }
}
