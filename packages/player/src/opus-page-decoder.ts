/**
 * Opus audio pages → PCM placed on the stream's timeline. RFC 7845 §4: a page's granule
 * position counts the 48 kHz samples up to the end of its last packet, pre-skip included, so
 * output sample n is granule n + preSkip; §4.4: the EOS page's granule may cut decoded samples
 * off the end; §4.6: after a seek the first ≥ 80 ms decoded are pre-roll and are discarded.
 */
import { OpusPacketDecoder } from '@mxcast/audio';
import type { OpusHead } from '@mxcast/ogg';
import { PlayerError } from './player-error.ts';

export interface PcmChunk {
  /** Interleaved 16-bit PCM at 48 kHz. */
  pcm: Int16Array;
  channels: number;
  /** Output sample (per channel, after pre-skip) of pcm's first frame. */
  startSample: number;
}

/** The decoder the player needs; OpusPacketDecoder from @mxcast/audio by default. */
export interface PacketDecoder {
  decode(packet: Uint8Array): Int16Array;
  destroy?(): void;
}

/**
 * A decoder that answers later (WebCodecs AudioDecoder in a browser): a page's packets go in
 * at once and their PCM comes back in order, one Int16Array per packet, every sample kept —
 * the pre-skip and seek trimming stay here, the same for both kinds. `reset` drops its state
 * for a seek (else the page decoder destroys it and creates a new one).
 */
export interface AsyncPacketDecoder {
  decodePackets(packets: Uint8Array[]): Promise<Int16Array[]>;
  reset?(): void;
  destroy?(): void;
}

export type AnyPacketDecoder = PacketDecoder | AsyncPacketDecoder;

/** Creates the decoder for a stream; `head` is its OpusHead (a WebCodecs `description`). */
export type CreatePacketDecoder = (channels: number, head?: OpusHead) => AnyPacketDecoder;

export interface OpusPageDecoderOptions {
  channels: number;
  preSkip: number;
  /** The stream's OpusHead, handed to `createDecoder`. */
  head?: OpusHead;
  createDecoder?: CreatePacketDecoder;
}

function isAsync(decoder: AnyPacketDecoder): decoder is AsyncPacketDecoder {
  return 'decodePackets' in decoder;
}

export class OpusPageDecoder {
  readonly channels: number;
  readonly preSkip: number;
  readonly #create: () => AnyPacketDecoder;
  #decoder: AnyPacketDecoder;
  /** Bumped by restart(): an asynchronous decode begun before it is dropped when it returns. */
  #epoch = 0;
  /** Granule at the end of the last decoded page; undefined right after a (re)start. */
  #lastGranule: bigint | undefined;
  /** Output samples before this are dropped (pre-roll after a seek; 0 drops the pre-skip). */
  #discardBefore = 0;

  constructor(options: OpusPageDecoderOptions) {
    this.channels = options.channels;
    this.preSkip = options.preSkip;
    const create = options.createDecoder ?? ((channels) => new OpusPacketDecoder({ channels }));
    this.#create = () => create(options.channels, options.head);
    this.#decoder = this.#create();
  }

  /**
   * Starts over (a seek or a live join): a fresh decoder state, and nothing before output sample
   * `discardBefore` reaches the sink.
   */
  restart(discardBefore: number): void {
    this.#epoch++;
    const decoder = this.#decoder;
    if (isAsync(decoder) && decoder.reset) decoder.reset();
    else {
      decoder.destroy?.();
      this.#decoder = this.#create();
    }
    this.#lastGranule = undefined;
    this.#discardBefore = Math.max(0, discardBefore);
  }

  /**
   * Decodes one page; returns what is left after trimming, or null if all of it was trimmed.
   * With a synchronous decoder the answer is immediate (the Node path: no promise, no wait);
   * with an asynchronous one it is a promise, and null if restart() came while it decoded.
   */
  decodePage(
    seq: number,
    packets: Uint8Array[],
    granule: bigint,
    eos: boolean,
  ): PcmChunk | null | Promise<PcmChunk | null> {
    const decoder = this.#decoder;
    if (!isAsync(decoder)) {
      const parts: Int16Array[] = [];
      for (const packet of packets) {
        try {
          parts.push(decoder.decode(packet));
        } catch (err) {
          throw undecodable(seq, err);
        }
      }
      return this.#place(parts, granule, eos);
    }
    const epoch = this.#epoch;
    return decoder.decodePackets(packets).then(
      (parts) => (epoch === this.#epoch ? this.#place(parts, granule, eos) : null),
      (err: unknown) => {
        // A reset for a seek aborts the decode in flight: that is not a bad stream.
        if (epoch !== this.#epoch) return null;
        throw undecodable(seq, err);
      },
    );
  }

  /** Places a page's PCM on the timeline and trims it (pre-skip, pre-roll, EOS granule). */
  #place(parts: Int16Array[], granule: bigint, eos: boolean): PcmChunk | null {
    let frames = 0;
    for (const pcm of parts) frames += pcm.length / this.channels;
    const end = Number(granule) - this.preSkip;
    // With the previous page's granule the start is exact even when §4.4 trims the EOS page's end.
    const start =
      this.#lastGranule !== undefined ? Number(this.#lastGranule) - this.preSkip : end - frames;
    this.#lastGranule = granule;
    const keepFrom = Math.max(start, this.#discardBefore);
    const keepTo = eos ? Math.min(end, start + frames) : start + frames;
    if (keepTo <= keepFrom) return null;
    const pcm = new Int16Array((keepTo - keepFrom) * this.channels);
    let written = 0;
    let at = start;
    for (const part of parts) {
      const partFrames = part.length / this.channels;
      const from = Math.max(keepFrom, at);
      const to = Math.min(keepTo, at + partFrames);
      if (to > from) {
        pcm.set(part.subarray((from - at) * this.channels, (to - at) * this.channels), written);
        written += (to - from) * this.channels;
      }
      at += partFrames;
    }
    return { pcm, channels: this.channels, startSample: keepFrom };
  }

  destroy(): void {
    this.#decoder.destroy?.();
  }
}

function undecodable(seq: number, err: unknown): PlayerError {
  return new PlayerError(
    'BAD_STREAM',
    `block ${seq}: Opus packet does not decode: ${(err as Error).message}`,
    { fatal: true, cause: err, seq },
  );
}
