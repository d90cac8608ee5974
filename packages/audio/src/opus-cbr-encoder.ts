/**
 * Hard-CBR Opus encoding (docs/audio.md): VBR off and DTX off, so every packet of a stream has
 * exactly bitrate × frameMs / 8000 bytes — silence included — and an encrypted block's size
 * tells nothing about the audio. libopus pads CBR packets itself (RFC 6716 §3.2.5 padding);
 * `encode` still checks each size, since the constant block size is a promise to players.
 */

import { AudioError } from './audio-error.ts';
import { OpusCtl, OpusScriptBridge } from './opusscript-bridge.ts';

export interface OpusCbrEncoderOptions {
  channels: number;
  /** Bits per second for the whole stream (all channels). */
  bitrate: number;
  /** Frame duration: 2.5, 5, 10 or 20 (default) ms. (40/60 ms would exceed what OpusPacketDecoder takes.) */
  frameMs?: number;
  application?: 'voip' | 'audio' | 'restricted-lowdelay';
  /** The PCM rate given to encode(): 8000, 12000, 16000, 24000 or 48000 (default). */
  sampleRate?: number;
  /** libopus complexity 0–10 (default libopus's 10). */
  complexity?: number;
  /** Use opusscript's WebAssembly build (default) or its asm.js build. */
  wasm?: boolean;
}

const FRAME_MS = [2.5, 5, 10, 20];

export class OpusCbrEncoder {
  readonly channels: number;
  readonly sampleRate: number;
  readonly bitrate: number;
  readonly frameMs: number;
  /** Samples per channel in one frame at `sampleRate`. */
  readonly frameSamples: number;
  /** Bytes in every packet: bitrate × frameMs / 8000. */
  readonly packetBytes: number;
  /** The encoder's lookahead in 48 kHz samples: OpusHead's pre-skip (RFC 7845 §4.2). */
  readonly preSkip: number;
  private readonly opus: OpusScriptBridge;

  /**
   * An encoder for a preset (or any object with its bitrate, frame and application: docs/audio.md
   * "Constant bitrate, constant blocks"); `options` gives the channels and the rest.
   */
  static forPreset(
    preset: Pick<OpusCbrEncoderOptions, 'bitrate' | 'frameMs' | 'application'>,
    options: Omit<OpusCbrEncoderOptions, 'bitrate' | 'frameMs' | 'application'>,
  ): OpusCbrEncoder {
    const { bitrate, frameMs, application } = preset;
    return new OpusCbrEncoder({
      ...options,
      bitrate,
      ...(frameMs !== undefined ? { frameMs } : {}),
      ...(application !== undefined ? { application } : {}),
    });
  }

  constructor(options: OpusCbrEncoderOptions) {
    const { channels, bitrate } = options;
    const frameMs = options.frameMs ?? 20;
    const sampleRate = options.sampleRate ?? 48000;
    if (channels !== 1 && channels !== 2) {
      throw new AudioError(
        'UNSUPPORTED_CHANNELS',
        `Opus mapping family 0 carries 1 or 2 channels, not ${channels}`,
      );
    }
    if (!FRAME_MS.includes(frameMs)) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `Opus frames last ${FRAME_MS.join('/')} ms, not ${frameMs}`,
      );
    }
    if (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 510000) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `bitrate ${bitrate} is outside Opus's 6000–510000 bit/s`,
      );
    }
    const packetBytes = (bitrate * frameMs) / 8000;
    if (!Number.isInteger(packetBytes)) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `${bitrate} bit/s × ${frameMs} ms is ${packetBytes} bytes per packet; CBR needs a whole number`,
      );
    }
    // RFC 6716 §3.2.1: one frame holds at most 1275 bytes.
    if (packetBytes > 1275) {
      throw new AudioError(
        'BAD_ENCODER_SETTINGS',
        `${packetBytes}-byte packets are over Opus's limit for ${frameMs} ms`,
      );
    }
    this.opus = new OpusScriptBridge(
      sampleRate,
      channels,
      options.application ?? 'audio',
      options.wasm ?? true,
    );
    try {
      this.opus.encoderCtl(OpusCtl.SET_VBR, 0);
      this.opus.encoderCtl(OpusCtl.SET_DTX, 0);
      this.opus.encoderCtl(OpusCtl.SET_BITRATE, bitrate);
      if (options.complexity !== undefined)
        this.opus.encoderCtl(OpusCtl.SET_COMPLEXITY, options.complexity);
      const lookahead = this.opus.encoderCtlGet(OpusCtl.GET_LOOKAHEAD);
      // Lookahead is reported at the encoder's rate; pre-skip is always counted at 48 kHz.
      this.preSkip =
        lookahead > 0 && lookahead < sampleRate / 10
          ? Math.round((lookahead * 48000) / sampleRate)
          : 312;
    } catch (err) {
      this.opus.destroy();
      throw err;
    }
    this.channels = channels;
    this.sampleRate = sampleRate;
    this.bitrate = bitrate;
    this.frameMs = frameMs;
    this.frameSamples = (sampleRate * frameMs) / 1000;
    this.packetBytes = packetBytes;
  }

  /** Encodes exactly one frame: `frameSamples × channels` interleaved samples. */
  encode(pcm: Int16Array): Uint8Array {
    const want = this.frameSamples * this.channels;
    if (pcm.length !== want) {
      throw new AudioError(
        'BAD_FRAME',
        `a ${this.frameMs} ms frame of ${this.channels} channel(s) at ${this.sampleRate} Hz is ${want} samples, not ${pcm.length}`,
      );
    }
    const packet = this.opus.encode(pcm, this.frameSamples);
    if (packet.length !== this.packetBytes) {
      throw new AudioError(
        'ENCODE_FAILED',
        `CBR broke: a ${packet.length}-byte packet, expected ${this.packetBytes}`,
      );
    }
    return packet;
  }

  destroy(): void {
    this.opus.destroy();
  }
}
