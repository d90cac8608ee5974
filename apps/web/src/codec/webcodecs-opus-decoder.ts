/**
 * Opus packets → PCM through the browser's own decoder (WebCodecs `AudioDecoder`), the native
 * alternative to opusscript's asm.js build on a page (codec/opusscript-browser.ts). It is the
 * player's asynchronous decoder (@mxcast/player AsyncPacketDecoder): a page's packets go in, the
 * one output per packet is awaited, and their PCM comes back in order, every sample kept. The player's
 * OpusPageDecoder places it on the timeline and trims it (pre-skip, seek pre-roll, EOS granule;
 * RFC 7845 §4), the same code for both decoders.
 *
 * The OpusHead goes in as the config's `description` (WebCodecs Opus codec registration) with
 * its pre-skip set to 0: the player trims the pre-skip itself, and a decoder that also honoured
 * it would drop it twice. A seek resets the decoder and configures it again (`reset()`), which
 * aborts the page in flight; the page decoder drops that page rather than reporting an error.
 */
import { OpusPacketDecoder } from '@mxcast/audio';
import { encodeOpusHead, opusPacketSamples, type OpusHead } from '@mxcast/ogg';
import type { AsyncPacketDecoder, CreatePacketDecoder } from '@mxcast/player';

/** Which decoder a page uses (the listener's `data-decoder`). */
export type OpusDecoderKind = 'webcodecs' | 'opusscript';

function decoderConfig(channels: number, head?: OpusHead): AudioDecoderConfig {
  const config: AudioDecoderConfig = {
    codec: 'opus',
    sampleRate: 48000,
    numberOfChannels: channels,
  };
  if (head && head.mappingFamily === 0) {
    config.description = encodeOpusHead({
      channels,
      preSkip: 0,
      inputSampleRate: head.inputSampleRate,
      outputGain: head.outputGain,
    }) as Uint8Array<ArrayBuffer>;
  }
  return config;
}

/** The channel counts (1, 2) this browser decodes Opus for; empty without WebCodecs. */
export async function webCodecsOpusDecoderChannels(): Promise<Set<number>> {
  const supported = new Set<number>();
  if (typeof AudioDecoder === 'undefined') return supported;
  for (const channels of [1, 2]) {
    try {
      const answer = await AudioDecoder.isConfigSupported(decoderConfig(channels));
      if (answer.supported === true) supported.add(channels);
    } catch {
      // Not supported (or not a secure context): opusscript decodes these.
    }
  }
  return supported;
}

/**
 * The player's decoder factory for this browser: WebCodecs for channel counts it supports with a
 * family-0 OpusHead, opusscript otherwise. `onKind` learns which one each stream got.
 */
export async function browserOpusDecoderFactory(
  onKind?: (kind: OpusDecoderKind) => void,
): Promise<CreatePacketDecoder> {
  const native = await webCodecsOpusDecoderChannels();
  return (channels, head) => {
    if (native.has(channels) && (!head || head.mappingFamily === 0)) {
      onKind?.('webcodecs');
      return new WebCodecsOpusDecoder(channels, head);
    }
    onKind?.('opusscript');
    return new OpusPacketDecoder({ channels });
  };
}

export class WebCodecsOpusDecoder implements AsyncPacketDecoder {
  readonly channels: number;
  readonly #config: AudioDecoderConfig;
  #decoder: AudioDecoder;
  /** Where outputs go: the page being decoded (a reset swaps it, so stale outputs are lost). */
  #outputs: AudioData[] = [];
  /** Chunk timestamps (µs) keep rising across resets, so a late output is told by its time. */
  #timestamp = 0;
  /**
   * The page being decoded waits for one output per packet rather than for flush(): Chromium's
   * flush() also resets the Opus decoder's state, and a cold start at every page boundary is
   * audible (a transient every block). reset() and errors reject it.
   */
  #waiter: { count: number; resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(channels: number, head?: OpusHead) {
    this.channels = channels;
    this.#config = decoderConfig(channels, head);
    this.#decoder = this.#create();
  }

  async decodePackets(packets: Uint8Array[]): Promise<Int16Array[]> {
    if (this.#decoder.state === 'closed') this.#decoder = this.#create();
    const outputs: AudioData[] = [];
    this.#outputs = outputs;
    const pageStart = this.#timestamp;
    const done = new Promise<void>((resolve, reject) => {
      this.#waiter = { count: packets.length, resolve, reject };
    });
    for (const packet of packets) {
      const chunk = new EncodedAudioChunk({
        type: 'key',
        timestamp: this.#timestamp,
        data: packet as Uint8Array<ArrayBuffer>,
      });
      this.#timestamp += Math.round((opusPacketSamples(packet) / 48000) * 1e6);
      this.#decoder.decode(chunk);
    }
    this.#settle();
    try {
      await done;
    } catch (err) {
      for (const data of outputs) data.close();
      throw err;
    }
    const pcm: Int16Array[] = [];
    for (const data of outputs) {
      if (data.timestamp >= pageStart) pcm.push(toInt16(data, this.channels));
      data.close();
    }
    return pcm;
  }

  /** A seek: drop all state (and the page in flight) and start again with the same config. */
  reset(): void {
    this.#fail(new Error('reset for a seek'));
    for (const data of this.#outputs) data.close();
    this.#outputs = [];
    if (this.#decoder.state === 'closed') {
      this.#decoder = this.#create();
      return;
    }
    this.#decoder.reset();
    this.#decoder.configure(this.#config);
  }

  destroy(): void {
    this.#fail(new Error('closed'));
    for (const data of this.#outputs) data.close();
    this.#outputs = [];
    if (this.#decoder.state !== 'closed') this.#decoder.close();
  }

  #create(): AudioDecoder {
    const decoder = new AudioDecoder({
      output: (data) => {
        this.#outputs.push(data);
        this.#settle();
      },
      error: (error) => this.#fail(new Error(`WebCodecs AudioDecoder: ${error.message}`)),
    });
    decoder.configure(this.#config);
    return decoder;
  }

  #settle(): void {
    const waiter = this.#waiter;
    if (waiter && this.#outputs.length >= waiter.count) {
      this.#waiter = undefined;
      waiter.resolve();
    }
  }

  #fail(error: Error): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.reject(error);
  }
}

/** AudioData (whatever its format) → interleaved Int16, as opusscript gives. */
function toInt16(data: AudioData, channels: number): Int16Array {
  const frames = data.numberOfFrames;
  const out = new Int16Array(frames * channels);
  if (data.format === 's16') {
    data.copyTo(out, { planeIndex: 0 });
    return out;
  }
  const plane = new Float32Array(frames);
  for (let c = 0; c < channels; c++) {
    data.copyTo(plane, { planeIndex: c, format: 'f32-planar' });
    for (let i = 0; i < frames; i++) {
      const v = plane[i]! * 32768;
      out[i * channels + c] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
    }
  }
  return out;
}
