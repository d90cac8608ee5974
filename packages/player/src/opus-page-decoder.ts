/**
 * Opus audio pages → PCM placed on the stream's timeline. RFC 7845 §4: a page's granule
 * position counts the 48 kHz samples up to the end of its last packet, pre-skip included, so
 * output sample n is granule n + preSkip; §4.4: the EOS page's granule may cut decoded samples
 * off the end; §4.6: after a seek the first ≥ 80 ms decoded are pre-roll and are discarded.
 */
import { OpusPacketDecoder } from '@mxcast/audio';
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

export interface OpusPageDecoderOptions {
  channels: number;
  preSkip: number;
  createDecoder?: (channels: number) => PacketDecoder;
}

export class OpusPageDecoder {
  readonly channels: number;
  readonly preSkip: number;
  readonly #create: (channels: number) => PacketDecoder;
  #decoder: PacketDecoder;
  /** Granule at the end of the last decoded page; undefined right after a (re)start. */
  #lastGranule: bigint | undefined;
  /** Output samples before this are dropped (pre-roll after a seek; 0 drops the pre-skip). */
  #discardBefore = 0;

  constructor(options: OpusPageDecoderOptions) {
    this.channels = options.channels;
    this.preSkip = options.preSkip;
    this.#create = options.createDecoder ?? ((channels) => new OpusPacketDecoder({ channels }));
    this.#decoder = this.#create(this.channels);
  }

  /**
   * Starts over (a seek or a live join): a fresh decoder state, and nothing before output sample
   * `discardBefore` reaches the sink.
   */
  restart(discardBefore: number): void {
    this.#decoder.destroy?.();
    this.#decoder = this.#create(this.channels);
    this.#lastGranule = undefined;
    this.#discardBefore = Math.max(0, discardBefore);
  }

  /** Decodes one page; returns what is left after trimming, or null if all of it was trimmed. */
  decodePage(seq: number, packets: Uint8Array[], granule: bigint, eos: boolean): PcmChunk | null {
    const parts: Int16Array[] = [];
    let frames = 0;
    for (const packet of packets) {
      let pcm: Int16Array;
      try {
        pcm = this.#decoder.decode(packet);
      } catch (err) {
        throw new PlayerError(
          'BAD_STREAM',
          `block ${seq}: Opus packet does not decode: ${(err as Error).message}`,
          { fatal: true, cause: err, seq },
        );
      }
      parts.push(pcm);
      frames += pcm.length / this.channels;
    }
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
