/**
 * A thin, Buffer-free and memory-safe bridge over opusscript 0.1.x (libopus 1.4 compiled with
 * Emscripten). We construct opusscript's objects (so bundler aliases for its browser build keep
 * working) but do not use its encode()/decode(), for three reasons:
 * - they return Node Buffers, which browsers lack;
 * - its PCM views are taken with `HEAPU16.subarray(pointer, …)`, a byte pointer used as a 16-bit
 *   index, so they address memory at twice the allocated pointer — outside the allocation, where
 *   other instances' state can live once the heap fills (see opusscript's index.js);
 * - views into the Emscripten heap die when the heap grows (any new instance can grow it).
 * So this bridge addresses opusscript's allocated buffers by their real pointers, re-taking its
 * views whenever the heap has changed, and drives the native handler so that it never touches
 * memory outside those buffers:
 * - `_encode(ptr, bytes, …)` first "repacks" `bytes` 16-bit slots in place (opusscript stores one
 *   byte per slot); passing bytes = 0 skips that, and libopus reads ordinary little-endian int16
 *   PCM from the input buffer (MAX_FRAME_SIZE × channels × 2 bytes: 60 ms fits);
 * - `_decode` writes each output sample as two 16-bit slots (low byte, high byte): 4 bytes per
 *   sample into a buffer of MAX_FRAME_SIZE × channels × 2 bytes, so packets of at most 30 ms
 *   (1440 samples per channel) fit; longer ones are refused before decoding.
 */

import OpusScript from 'opusscript';
import { AudioError } from './audio-error.ts';

/** The opusscript instance fields this bridge relies on (opusscript 0.1.x). */
interface OpusScriptInternals {
  handler: {
    _encode(pcmPtr: number, repackSlots: number, outPtr: number, frameSize: number): number;
    _decode(inPtr: number, inBytes: number, outPtr: number): number;
    _encoder_ctl(ctl: number, arg: number): number;
    _decoder_ctl(ctl: number, arg: number): number;
  };
  inPCMPointer: number;
  inPCMLength: number;
  inOpusPointer: number;
  outOpusPointer: number;
  outPCMPointer: number;
  outPCMLength: number;
  /** The last view opusscript takes when constructed: on the heap as it is after all its mallocs. */
  outPCM: Uint16Array;
  delete(): void;
}

const MAX_PACKET_SIZE = 1276 * 3; // opusscript's opus buffers
/** Longest packet `decode` accepts, in samples per channel at 48 kHz (see the note above). */
export const MAX_DECODE_SAMPLES = 1440;

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

/** The newest heap buffer seen per build (wasm / asm.js), and how many times it changed. */
const heaps = new Map<boolean, { buffer: ArrayBufferLike; generation: number }>();

function noteHeap(wasm: boolean, buffer: ArrayBufferLike): void {
  const known = heaps.get(wasm);
  if (known === undefined) heaps.set(wasm, { buffer, generation: 0 });
  else if (known.buffer !== buffer) heaps.set(wasm, { buffer, generation: known.generation + 1 });
}

interface Views {
  pcmIn: Int16Array;
  opusIn: Uint8Array;
  opusOut: Uint8Array;
  pcmOutSlots: Uint16Array;
}

export class OpusScriptBridge {
  private readonly native: OpusScriptInternals;
  private readonly wasm: boolean;
  private generation = -1;
  private current: Views | null = null;
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
      typeof instance.inPCMPointer !== 'number' ||
      typeof instance.outPCMPointer !== 'number' ||
      !(instance.outPCM instanceof Uint16Array)
    ) {
      throw new AudioError(
        'BAD_ARGUMENT',
        'this opusscript build does not expose the fields mxcast uses (0.1.x expected)',
      );
    }
    this.native = instance;
    this.wasm = wasm;
    noteHeap(wasm, instance.outPCM.buffer);
  }

  /** Views on this instance's buffers in the current heap (re-taken after the heap grew). */
  private views(): Views {
    if (this.deleted)
      throw new AudioError('BAD_ARGUMENT', 'the Opus encoder/decoder was destroyed');
    let heap = heaps.get(this.wasm) as { buffer: ArrayBufferLike; generation: number };
    if (heap.buffer.byteLength === 0) {
      // Detached by a growth no bridge saw (an opusscript instance made elsewhere): a fresh
      // instance's last view is on the current heap.
      const probe = new OpusScript(48000, 1, undefined, {
        wasm: this.wasm,
      }) as unknown as OpusScriptInternals;
      noteHeap(this.wasm, probe.outPCM.buffer);
      probe.delete();
      heap = heaps.get(this.wasm) as { buffer: ArrayBufferLike; generation: number };
    }
    if (this.current === null || heap.generation !== this.generation) {
      const n = this.native;
      const b = heap.buffer;
      this.current = {
        pcmIn: new Int16Array(b, n.inPCMPointer, n.inPCMLength / 2),
        opusIn: new Uint8Array(b, n.inOpusPointer, MAX_PACKET_SIZE),
        opusOut: new Uint8Array(b, n.outOpusPointer, MAX_PACKET_SIZE),
        pcmOutSlots: new Uint16Array(b, n.outPCMPointer, n.outPCMLength / 2),
      };
      this.generation = heap.generation;
    }
    return this.current;
  }

  encoderCtl(ctl: number, value: number): void {
    this.views();
    const rc = this.native.handler._encoder_ctl(ctl, value);
    if (rc < 0) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `opus_encoder_ctl(${ctl}, ${value}): ${opusErrorText(rc)}`,
      );
    }
  }

  /**
   * A GET request writes an opus_int32 through a pointer (wasm32 pointers are plain ints):
   * point it at the decoder-input buffer, unused by an encoder, and read it back.
   */
  encoderCtlGet(ctl: number): number {
    const v = this.views();
    const rc = this.native.handler._encoder_ctl(ctl, this.native.inOpusPointer);
    if (rc < 0) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `opus_encoder_ctl(${ctl}, &out): ${opusErrorText(rc)}`,
      );
    }
    return new DataView(v.opusIn.buffer, v.opusIn.byteOffset, 4).getInt32(0, true);
  }

  /** Encodes one frame of interleaved PCM (frameSize samples per channel); returns a copy. */
  encode(pcm: Int16Array, frameSize: number): Uint8Array {
    const v = this.views();
    if (pcm.length > v.pcmIn.length || pcm.length !== frameSize * this.channels) {
      throw new AudioError(
        'BAD_FRAME',
        `${pcm.length} samples for a ${frameSize}-sample frame of ${this.channels} channel(s) (buffer: ${v.pcmIn.length})`,
      );
    }
    v.pcmIn.set(pcm); // Wasm memory is little-endian, as are the hosts Opus runs on here.
    const len = this.native.handler._encode(
      this.native.inPCMPointer,
      0,
      this.native.outOpusPointer,
      frameSize,
    );
    if (len < 0) throw new AudioError('ENCODE_FAILED', `opus_encode: ${opusErrorText(len)}`);
    return v.opusOut.slice(0, len);
  }

  /** Decodes one packet of at most MAX_DECODE_SAMPLES per channel to interleaved PCM (a new array). */
  decode(packet: Uint8Array): Int16Array {
    const v = this.views();
    if (packet.length > v.opusIn.length) {
      throw new AudioError(
        'DECODE_FAILED',
        `a ${packet.length}-byte packet is over Opus's ${v.opusIn.length}`,
      );
    }
    const samples = packetSamples(packet);
    if (samples > MAX_DECODE_SAMPLES) {
      throw new AudioError(
        'DECODE_FAILED',
        `a packet of ${samples / 48} ms; this decoder takes packets of at most ${MAX_DECODE_SAMPLES / 48} ms`,
      );
    }
    v.opusIn.set(packet);
    const frames = this.native.handler._decode(
      this.native.inOpusPointer,
      packet.length,
      this.native.outPCMPointer,
    );
    if (frames < 0) {
      throw new AudioError(
        'DECODE_FAILED',
        `opus_decode of a ${packet.length}-byte packet: ${opusErrorText(frames)}`,
      );
    }
    const slots = v.pcmOutSlots;
    const out = new Int16Array(frames * this.channels);
    for (let i = 0; i < out.length; i++)
      out[i] = ((slots[2 * i + 1] as number) << 8) | (slots[2 * i] as number);
    return out;
  }

  destroy(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.current = null;
    this.native.delete();
  }
}

/**
 * Samples per channel (48 kHz) of a packet from its TOC (RFC 6716 §3.1–§3.2); 0 for an empty
 * packet, so libopus reports it. (@mxcast/ogg has the same; packages do not import each other.)
 */
function packetSamples(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const config = toc >> 3;
  const frame =
    config < 12
      ? [480, 960, 1920, 2880][config % 4]
      : config < 16
        ? [480, 960][config % 2]
        : [120, 240, 480, 960][config % 4];
  const code = toc & 3;
  const count = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f;
  return (frame as number) * count;
}
