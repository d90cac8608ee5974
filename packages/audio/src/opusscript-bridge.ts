/**
 * A thin, Buffer-free bridge over opusscript (libopus 1.4 compiled with Emscripten). opusscript's
 * own encode()/decode() return Node Buffers, which browsers lack; its instance keeps views into
 * the Emscripten heap, which this bridge uses directly and copies out of. opusscript's native
 * side stores 16-bit PCM one byte per 16-bit heap slot (it repacks inside), so PCM goes in and
 * comes out as little-endian byte pairs spread over those slots.
 */

import OpusScript from 'opusscript';
import { AudioError } from './audio-error.ts';

/** The opusscript instance fields this bridge relies on (opusscript 0.1.x). */
interface OpusScriptInternals {
  handler: {
    _encode(pcmPtr: number, pcmBytes: number, outPtr: number, frameSize: number): number;
    _decode(inPtr: number, inBytes: number, outPtr: number): number;
    _encoder_ctl(ctl: number, arg: number): number;
    _decoder_ctl(ctl: number, arg: number): number;
  };
  inPCM: Uint16Array;
  inOpus: Uint8Array;
  inOpusPointer: number;
  outOpus: Uint8Array;
  outOpusPointer: number;
  outPCM: Uint16Array;
  delete(): void;
}

/** libopus CTL request numbers (opus_defines.h). */
export const OpusCtl = {
  SET_BITRATE: 4002,
  SET_VBR: 4006,
  SET_COMPLEXITY: 4010,
  SET_DTX: 4016,
  GET_LOOKAHEAD: 4027,
} as const;

const OPUS_ERRORS: Record<number, string> = {
  [-1]: 'bad argument',
  [-2]: 'buffer too small',
  [-3]: 'internal error',
  [-4]: 'invalid packet',
  [-5]: 'unimplemented',
  [-6]: 'invalid state',
  [-7]: 'memory allocation failed',
};

export function opusErrorText(code: number): string {
  return `${OPUS_ERRORS[code] ?? 'unknown error'} (${code})`;
}

export type OpusApplication = 'voip' | 'audio' | 'restricted-lowdelay';

const APPLICATION: Record<OpusApplication, number> = {
  voip: 2048,
  audio: 2049,
  'restricted-lowdelay': 2051,
};

export class OpusScriptBridge {
  private readonly native: OpusScriptInternals;
  private deleted = false;

  constructor(
    sampleRate: number,
    readonly channels: number,
    application: OpusApplication,
    wasm = true,
  ) {
    if (![8000, 12000, 16000, 24000, 48000].includes(sampleRate)) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `Opus runs at 8/12/16/24/48 kHz, not ${sampleRate} Hz`,
      );
    }
    const instance = new OpusScript(
      sampleRate as 48000,
      channels,
      APPLICATION[application] as ConstructorParameters<typeof OpusScript>[2],
      { wasm },
    ) as unknown as OpusScriptInternals;
    if (
      typeof instance.handler?._encode !== 'function' ||
      !(instance.inPCM instanceof Uint16Array)
    ) {
      throw new AudioError(
        'BAD_ARGUMENT',
        'this opusscript build does not expose the fields mxcast uses (0.1.x expected)',
      );
    }
    this.native = instance;
  }

  encoderCtl(ctl: number, value: number): void {
    const rc = this.native.handler._encoder_ctl(ctl, value);
    if (rc < 0)
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `opus_encoder_ctl(${ctl}, ${value}): ${opusErrorText(rc)}`,
      );
  }

  /**
   * A GET request writes an opus_int32 through a pointer (wasm32 pointers are plain ints):
   * point it at opusscript's decoder input buffer, unused by an encoder, and read it back.
   */
  encoderCtlGet(ctl: number): number {
    const rc = this.native.handler._encoder_ctl(ctl, this.native.inOpusPointer);
    if (rc < 0)
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `opus_encoder_ctl(${ctl}, &out): ${opusErrorText(rc)}`,
      );
    const b = this.native.inOpus;
    return new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true);
  }

  /** Encodes one frame of interleaved PCM; returns a copy of the packet. */
  encode(pcm: Int16Array, frameSize: number): Uint8Array {
    const slots = this.native.inPCM;
    const n = pcm.length;
    for (let i = 0; i < n; i++) {
      const s = pcm[i] as number;
      slots[2 * i] = s & 0xff;
      slots[2 * i + 1] = (s >> 8) & 0xff;
    }
    const len = this.native.handler._encode(
      slots.byteOffset,
      n * 2,
      this.native.outOpusPointer,
      frameSize,
    );
    if (len < 0) throw new AudioError('ENCODE_FAILED', `opus_encode: ${opusErrorText(len)}`);
    return this.native.outOpus.slice(0, len);
  }

  /** Decodes one packet to interleaved PCM (a new array). */
  decode(packet: Uint8Array): Int16Array {
    if (packet.length > this.native.inOpus.length) {
      throw new AudioError(
        'DECODE_FAILED',
        `a ${packet.length}-byte packet is over Opus's ${this.native.inOpus.length}`,
      );
    }
    this.native.inOpus.set(packet);
    const frames = this.native.handler._decode(
      this.native.inOpusPointer,
      packet.length,
      this.native.outPCM.byteOffset,
    );
    if (frames < 0)
      throw new AudioError(
        'DECODE_FAILED',
        `opus_decode of a ${packet.length}-byte packet: ${opusErrorText(frames)}`,
      );
    const slots = this.native.outPCM;
    const out = new Int16Array(frames * this.channels);
    for (let i = 0; i < out.length; i++)
      out[i] = ((slots[2 * i + 1] as number) << 8) | (slots[2 * i] as number);
    return out;
  }

  destroy(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.native.delete();
  }
}
