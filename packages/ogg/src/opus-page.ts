/**
 * What a player needs from one page of an Ogg Opus stream (RFC 7845) — in mxcast each
 * decrypted block is exactly one page (docs/audio.md): which header it is, or its packets,
 * granule and flags.
 */

import { OggError } from './ogg-error.ts';
import { OggFlag, type PageParseOptions, type ParsedOggPage, parseOggPage } from './ogg-page.ts';
import { type OpusHead, isOpusHead, parseOpusHead } from './opus-head.ts';
import { type OpusTags, isOpusTags, parseOpusTags } from './opus-tags.ts';
import { opusPacketSamples } from './opus-packet.ts';

export interface OpusHeadPage {
  kind: 'head';
  page: ParsedOggPage;
  head: OpusHead;
}

export interface OpusTagsPage {
  kind: 'tags';
  page: ParsedOggPage;
  tags: OpusTags;
}

export interface OpusAudioPage {
  kind: 'audio';
  page: ParsedOggPage;
  packets: Uint8Array[];
  /** Samples (48 kHz, pre-skip included) up to the end of the last packet; may be end-trimmed on EOS. */
  granule: bigint;
  /** Samples per channel the packets decode to, before any end trim. */
  samples: number;
  pageSeq: number;
  eos: boolean;
  /** The page's first packet continues one from the previous page (never in mxcast streams). */
  continued: boolean;
  /** The last packet continues on the next page (never in mxcast streams). */
  incomplete: boolean;
}

export type OpusStreamPage = OpusHeadPage | OpusTagsPage | OpusAudioPage;

/**
 * Parses one whole page of an Ogg Opus stream. Page 0 with BOS is OpusHead; page 1 starting
 * "OpusTags" is the comment header; every other page is audio (its packets' TOCs are checked).
 */
export function parseOpusPage(bytes: Uint8Array, options: PageParseOptions = {}): OpusStreamPage {
  const page = parseOggPage(bytes, options);
  const first = page.packets[0];
  if ((page.flags & OggFlag.BOS) !== 0) {
    if (first === undefined || !isOpusHead(first)) {
      throw new OggError(
        'BAD_OPUS_HEAD',
        `the BOS page (sequence ${page.pageSeq}) does not hold an OpusHead`,
      );
    }
    if (page.packets.length !== 1 || page.incomplete === true) {
      throw new OggError(
        'BAD_OPUS_HEAD',
        `the OpusHead page must hold that one packet alone (RFC 7845 §3)`,
      );
    }
    return { kind: 'head', page, head: parseOpusHead(first) };
  }
  if (
    page.pageSeq === 1 &&
    first !== undefined &&
    isOpusTags(first) &&
    (page.flags & OggFlag.CONTINUED) === 0
  ) {
    if (page.incomplete === true) {
      throw new OggError(
        'BAD_OPUS_TAGS',
        'the OpusTags packet continues past its page; mxcast expects it whole',
      );
    }
    return { kind: 'tags', page, tags: parseOpusTags(first) };
  }
  const continued = (page.flags & OggFlag.CONTINUED) !== 0;
  const incomplete = page.incomplete === true;
  let samples = 0;
  page.packets.forEach((p, i) => {
    // A fragment of a packet split across pages has no TOC of its own to count.
    if ((i === 0 && continued) || (i === page.packets.length - 1 && incomplete)) return;
    samples += opusPacketSamples(p);
  });
  return {
    kind: 'audio',
    page,
    packets: page.packets,
    granule: page.granule,
    samples,
    pageSeq: page.pageSeq,
    eos: (page.flags & OggFlag.EOS) !== 0,
    continued,
    incomplete,
  };
}

/** Playback time in seconds of a granule position (RFC 7845 §4: minus pre-skip, at 48 kHz). */
export function granuleToSeconds(granule: bigint, preSkip: number): number {
  return Number(granule - BigInt(preSkip)) / 48000;
}
