/**
 * Ogg demux for mxcast blocks: each authenticated block's plaintext is exactly one Ogg page
 * (docs/audio.md). Block 0 must be the BOS page holding OpusHead (RFC 7845 §5.1), block 1 the
 * OpusTags page (§5.2), blocks 2… audio pages of whole packets (no continued packets), so every
 * audio block decodes on its own; EOS marks a finished broadcast.
 */
import {
  OggFlag,
  isOggError,
  isOpusHead,
  isOpusTags,
  parseOggPage,
  parseOpusHead,
  type OpusHead,
} from '@mxcast/ogg';
import { FIRST_AUDIO_SEQ } from './stream-geometry.ts';
import { PlayerError } from './player-error.ts';

export type DemuxedBlock =
  | { kind: 'head'; head: OpusHead; serial: number }
  | { kind: 'tags'; serial: number }
  | {
      kind: 'audio';
      seq: number;
      packets: Uint8Array[];
      granule: bigint;
      eos: boolean;
      serial: number;
    };

export class OggBlockDemuxer {
  #serial: number | undefined;

  /** Forget the stream serial (only for a fresh stream; seeks keep it). */
  get serial(): number | undefined {
    return this.#serial;
  }

  demux(seq: number, plaintext: Uint8Array): DemuxedBlock {
    let page;
    try {
      page = parseOggPage(plaintext);
    } catch (err) {
      if (isOggError(err))
        throw new PlayerError('BAD_STREAM', `block ${seq} is not one Ogg page: ${err.message}`, {
          fatal: true,
          cause: err,
          seq,
        });
      throw err;
    }
    if (this.#serial !== undefined && page.serial !== this.#serial) {
      throw new PlayerError(
        'BAD_STREAM',
        `block ${seq} has Ogg serial ${page.serial}, the stream has ${this.#serial}`,
        { fatal: true, seq },
      );
    }
    this.#serial = page.serial;
    if ((page.flags & OggFlag.CONTINUED) !== 0 || page.incomplete) {
      throw new PlayerError(
        'BAD_STREAM',
        `block ${seq} splits an Opus packet across pages (docs/audio.md forbids it)`,
        { fatal: true, seq },
      );
    }
    const first = page.packets[0];
    if (seq === 0) {
      if (
        (page.flags & OggFlag.BOS) === 0 ||
        page.packets.length !== 1 ||
        !first ||
        !isOpusHead(first)
      ) {
        throw new PlayerError(
          'BAD_STREAM',
          'block 0 is not the BOS page holding OpusHead (RFC 7845 §3)',
          { fatal: true, seq },
        );
      }
      try {
        return { kind: 'head', head: parseOpusHead(first), serial: page.serial };
      } catch (err) {
        throw new PlayerError('BAD_STREAM', `block 0: ${(err as Error).message}`, {
          fatal: true,
          cause: err,
          seq,
        });
      }
    }
    if (seq === 1) {
      if (!first || !isOpusTags(first)) {
        throw new PlayerError('BAD_STREAM', 'block 1 is not the OpusTags page (RFC 7845 §5.2)', {
          fatal: true,
          seq,
        });
      }
      return { kind: 'tags', serial: page.serial };
    }
    if (seq < FIRST_AUDIO_SEQ)
      throw new PlayerError('BAD_STREAM', `unexpected block ${seq}`, { fatal: true, seq });
    return {
      kind: 'audio',
      seq,
      packets: page.packets,
      granule: page.granule,
      eos: (page.flags & OggFlag.EOS) !== 0,
      serial: page.serial,
    };
  }
}
