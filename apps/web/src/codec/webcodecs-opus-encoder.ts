/**
 * Hard-CBR Opus through the browser's own encoder (WebCodecs `AudioEncoder`), the native
 * alternative to opusscript's libopus build (codec/opusscript-browser.ts): same packets shape
 * as the CLI's OpusCbrEncoder (docs/audio.md "Constant bitrate, constant blocks": 20 ms frames,
 * VBR and DTX off, every packet bitrate × 20 / 8000 bytes). Chromium's encoder is libopus too
 * and in `bitrateMode: 'constant'` pads its packets itself; a packet that still comes back short
 * is padded per RFC 6716 §3.2.5 (@mxcast/audio's padOpusPacket), a longer one is an error.
 *
 * WebCodecs is asynchronous: `encode` queues a frame and packets arrive through `onPacket`, one
 * per frame and in order. The encoder's lookahead (OpusHead pre-skip, RFC 7845 §4.2) is known
 * only from the first output's decoder config, so `preSkip` is final once a packet has arrived.
 */
import { AudioError, padOpusPacket } from '@mxcast/audio';

export interface WebCodecsOpusOptions {
  channels: number;
  bitrate: number;
  frameMs: number;
  application: 'voip' | 'audio';
  complexity?: number;
}

/** The AudioEncoder config for these settings (the one isConfigSupported is asked about). */
export function webCodecsOpusConfig(o: WebCodecsOpusOptions): AudioEncoderConfig {
  return {
    codec: 'opus',
    sampleRate: 48000,
    numberOfChannels: o.channels,
    bitrate: o.bitrate,
    bitrateMode: 'constant',
    opus: {
      frameDuration: o.frameMs * 1000,
      complexity: o.complexity ?? 10,
      usedtx: false,
      useinbandfec: false,
      // Not yet in TypeScript's lib.dom OpusEncoderConfig; Chromium takes it (voip/audio/lowdelay).
      ...({ application: o.application } as object),
    },
  };
}

/** True where this browser encodes Opus with these settings (WebCodecs needs a secure context). */
export async function webCodecsOpusSupported(o: WebCodecsOpusOptions): Promise<boolean> {
  if (typeof AudioEncoder === 'undefined' || typeof AudioData === 'undefined') return false;
  try {
    const answer = await AudioEncoder.isConfigSupported(webCodecsOpusConfig(o));
    return answer.supported === true;
  } catch {
    return false;
  }
}

export class WebCodecsOpusEncoder {
  readonly channels: number;
  readonly frameSamples: number;
  readonly packetBytes: number;
  /** libopus's 312 until the first output's OpusHead says otherwise. */
  preSkip = 312;
  /** Packets that were short and padded to packetBytes (0 when the encoder's CBR holds). */
  padded = 0;
  readonly #encoder: AudioEncoder;
  #timestamp = 0;
  #packetsOut = 0;

  constructor(
    options: WebCodecsOpusOptions,
    onPacket: (packet: Uint8Array) => void,
    onError: (error: Error) => void,
  ) {
    this.channels = options.channels;
    this.frameSamples = (48000 * options.frameMs) / 1000;
    this.packetBytes = (options.bitrate * options.frameMs) / 8000;
    this.#encoder = new AudioEncoder({
      output: (chunk, meta) => {
        const description = meta?.decoderConfig?.description;
        if (description && this.#packetsOut === 0) this.#readPreSkip(description);
        const bytes = new Uint8Array(chunk.byteLength);
        chunk.copyTo(bytes);
        this.#packetsOut++;
        try {
          if (bytes.length !== this.packetBytes) this.padded++;
          onPacket(padOpusPacket(bytes, this.packetBytes));
        } catch (error) {
          onError(error instanceof Error ? error : new Error(String(error)));
        }
      },
      error: (error) => onError(new AudioError('ENCODE_FAILED', `WebCodecs: ${error.message}`)),
    });
    this.#encoder.configure(webCodecsOpusConfig(options));
  }

  /** Queues one frame of `frameSamples × channels` interleaved float samples. */
  encode(frame: Float32Array): void {
    const data = new AudioData({
      format: 'f32',
      sampleRate: 48000,
      numberOfFrames: frame.length / this.channels,
      numberOfChannels: this.channels,
      timestamp: this.#timestamp,
      // Frames come from a MessagePort (plain ArrayBuffers); AudioData copies them.
      data: frame as Float32Array<ArrayBuffer>,
    });
    this.#timestamp += (frame.length / this.channels / 48000) * 1e6;
    this.#encoder.encode(data);
    data.close();
  }

  /**
   * Encodes what is queued and the encoder's lookahead tail (the encoder pads it with silence),
   * then, if the packets out are not a multiple of `multiple`, enough silence to reach the next
   * multiple. Everything past that multiple is silence too, so the caller may drop it to end on
   * a full block (docs/web.md "Stop and finish"). Resolves once every packet has been delivered.
   */
  async finish(multiple: number): Promise<void> {
    await this.#encoder.flush();
    const short = this.#packetsOut % multiple;
    if (short === 0) return;
    const silence = new Float32Array(this.frameSamples * this.channels);
    for (let i = short; i < multiple; i++) this.encode(silence);
    await this.#encoder.flush();
  }

  close(): void {
    if (this.#encoder.state !== 'closed') this.#encoder.close();
  }

  #readPreSkip(description: AllowSharedBufferSource): void {
    const bytes = ArrayBuffer.isView(description)
      ? new Uint8Array(description.buffer, description.byteOffset, description.byteLength)
      : new Uint8Array(description);
    // OpusHead (RFC 7845 §5.1): "OpusHead", version, channels, pre-skip (u16 LE) at offset 10.
    const magic = String.fromCharCode(...bytes.subarray(0, 8));
    if (magic === 'OpusHead' && bytes.length >= 12) this.preSkip = bytes[10]! | (bytes[11]! << 8);
  }
}
