/**
 * OggOpusPager: writes the pages of one Ogg Opus stream (RFC 7845) the way mxcast puts one
 * page in each encrypted block (docs/audio.md "One Ogg page per block"):
 *   page 0: OpusHead alone, BOS, granule 0 (RFC 7845 §3, §5.1)
 *   page 1: OpusTags alone, granule 0 (§5.2)
 *   page 2…: audio pages of whole packets only — none continues onto the next page, so each
 *           page decodes on its own; granule = samples of all packets so far, pre-skip
 *           included (§4); the final page carries EOS and may trim the end (§4.4).
 */

import { OggError } from './ogg-error.ts';
import { OggFlag, writeOggPage } from './ogg-page.ts';
import { encodeOpusHead } from './opus-head.ts';
import { type OpusComment, encodeOpusTags } from './opus-tags.ts';
import { opusPacketSamples } from './opus-packet.ts';

export interface OggOpusPagerOptions {
  serial: number;
  channels: number;
  /** Samples at 48 kHz the decoder drops at the start: the encoder's lookahead (§4.2). */
  preSkip: number;
  /** The original input's rate, informational (§5.1); default 48000. */
  inputSampleRate?: number;
  /** Q7.8 dB; default 0. */
  outputGain?: number;
  /** Written as the TITLE comment. */
  title?: string;
  /** The OpusTags vendor string; default "mxcast". */
  vendor?: string;
  /** More comments after TITLE. */
  comments?: OpusComment[];
  /** To continue a stream (resume): the next audio page's sequence number (default 2). */
  startPageSeq?: number;
  /** To continue a stream (resume): the granule of the last audio page written (default 0). */
  startGranule?: bigint;
}

export interface AudioPageOptions {
  /** This is the stream's last page: set EOS (RFC 3533 §6). */
  eos?: boolean;
  /**
   * Samples (48 kHz) at the end of this final page that are padding, not signal: the granule is
   * lowered by this much so decoders drop them (RFC 7845 §4.4). Only with `eos`.
   */
  endTrim?: number;
}

export class OggOpusPager {
  private readonly options: OggOpusPagerOptions;
  private pageSeq: number;
  private samples: bigint;
  private ended = false;

  constructor(options: OggOpusPagerOptions) {
    if (!Number.isInteger(options.serial) || options.serial < 0 || options.serial > 0xffffffff) {
      throw new OggError('BAD_ARGUMENT', `serial ${options.serial} is not a u32`);
    }
    this.options = options;
    this.pageSeq = options.startPageSeq ?? 2;
    this.samples = options.startGranule ?? 0n;
    if (this.pageSeq < 2)
      throw new OggError('BAD_ARGUMENT', `audio pages start at page 2, not ${this.pageSeq}`);
    if (this.samples < 0n)
      throw new OggError('BAD_GRANULE', `start granule ${this.samples} is negative`);
  }

  /** Sequence number the next audio page will get. */
  get nextPageSeq(): number {
    return this.pageSeq;
  }

  /** Granule of the last audio page written: samples so far at 48 kHz, pre-skip included. */
  get granule(): bigint {
    return this.samples;
  }

  /** True once the EOS page has been written. */
  get isEnded(): boolean {
    return this.ended;
  }

  headPage(): Uint8Array {
    const { channels, preSkip, inputSampleRate, outputGain } = this.options;
    const head = encodeOpusHead({
      channels,
      preSkip,
      ...(inputSampleRate === undefined ? {} : { inputSampleRate }),
      ...(outputGain === undefined ? {} : { outputGain }),
    });
    return writeOggPage({
      flags: OggFlag.BOS,
      granule: 0n,
      serial: this.options.serial,
      pageSeq: 0,
      packets: [head],
    });
  }

  tagsPage(): Uint8Array {
    const comments: OpusComment[] = [];
    if (this.options.title !== undefined)
      comments.push({ key: 'TITLE', value: this.options.title });
    comments.push(...(this.options.comments ?? []));
    const tags = encodeOpusTags({ vendor: this.options.vendor ?? 'mxcast', comments });
    // Our tags are small; a page holds 65025 bytes. A bigger one would need continuation pages.
    return writeOggPage({
      flags: 0,
      granule: 0n,
      serial: this.options.serial,
      pageSeq: 1,
      packets: [tags],
    });
  }

  /**
   * One audio page of whole packets; its granule counts every sample up to its last packet's
   * end. Only the EOS page may be empty: it then completes no packet and has granule -1
   * (RFC 3533 §6), so the previous page's granule stays the stream's last.
   */
  audioPage(packets: Uint8Array[], options: AudioPageOptions = {}): Uint8Array {
    if (this.ended) throw new OggError('BAD_ARGUMENT', 'the stream already ended with an EOS page');
    const eos = options.eos === true;
    if (packets.length === 0 && !eos) {
      throw new OggError(
        'BAD_ARGUMENT',
        'an audio page needs at least one packet (only the EOS page may be empty)',
      );
    }
    let pageSamples = 0;
    for (const p of packets) pageSamples += opusPacketSamples(p);
    const endTrim = options.endTrim ?? 0;
    if (endTrim !== 0) {
      if (!eos)
        throw new OggError(
          'BAD_GRANULE',
          'an end trim is allowed only on the EOS page (RFC 7845 §4.4)',
        );
      if (!Number.isInteger(endTrim) || endTrim < 0 || endTrim >= pageSamples) {
        throw new OggError(
          'BAD_GRANULE',
          `end trim ${endTrim} must be a whole number under the page's ${pageSamples} samples`,
        );
      }
    }
    const total = this.samples + BigInt(pageSamples);
    const bytes = writeOggPage({
      flags: eos ? OggFlag.EOS : 0,
      // An empty EOS page (the end came right after a full block) completes no packet: its
      // granule is -1 (RFC 3533 §6); opusinfo warns about a positive one.
      granule: packets.length === 0 ? -1n : total - BigInt(endTrim),
      serial: this.options.serial,
      pageSeq: this.pageSeq,
      packets,
    });
    this.samples = total;
    this.pageSeq = (this.pageSeq + 1) >>> 0;
    if (eos) this.ended = true;
    return bytes;
  }
}
