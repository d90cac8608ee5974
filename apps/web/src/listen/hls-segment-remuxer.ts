/**
 * Turns the relay's HLS byte ranges into what MSE plays: the EXT-X-MAP range (magic + blocks 0
 * and 1) into an fMP4 init segment, each media segment (whole audio blocks) into one fMP4
 * fragment. Every block is authenticated (AES-GCM tag) before any of its bytes are used; a block
 * that fails stops the segment, so no unauthenticated byte is ever played.
 */
import { BlockFramer, isFormatError, type BlockCipher } from '@mxcast/format';
import { opusPacketSamples, parseOpusPage, type OpusHead } from '@mxcast/ogg';
import { opusFragment, opusInitSegment, type OpusSample } from '../mp4/opus-fmp4.ts';

export class RemuxError extends Error {
  constructor(
    readonly code: 'WRONG_KEY' | 'TAMPERED' | 'BAD_STREAM',
    message: string,
  ) {
    super(message);
    this.name = 'RemuxError';
  }
}

export interface RemuxedSegment {
  data: Uint8Array;
  /** The segment's last page carried EOS: the broadcast finished (DESIGN.md §3). */
  eos: boolean;
  /** First and last block seq in the segment. */
  firstSeq: number;
  lastSeq: number;
}

export class HlsSegmentRemuxer {
  readonly #cipher: BlockCipher;
  #head: OpusHead | null = null;
  #authenticated = false;
  #fragments = 0;

  constructor(cipher: BlockCipher) {
    this.#cipher = cipher;
  }

  get head(): OpusHead | null {
    return this.#head;
  }

  /** `bytes` starts at offset 0: the magic, OpusHead block and OpusTags block. */
  async init(bytes: Uint8Array): Promise<Uint8Array> {
    const blocks = this.#frame(bytes, 0, true);
    const first = blocks[0];
    if (!first || first.seq !== 0)
      throw new RemuxError('BAD_STREAM', 'the EXT-X-MAP range does not start with block 0');
    const page = parseOpusPage(await this.#decrypt(first.seq, first.ciphertext, first.byteOrder));
    if (page.kind !== 'head')
      throw new RemuxError('BAD_STREAM', `block 0 holds an Ogg ${page.kind} page, not OpusHead`);
    this.#head = page.head;
    return opusInitSegment(page.head);
  }

  /** `bytes` is the segment's byte range, starting at `offset` (a block boundary). */
  async segment(bytes: Uint8Array, offset: number): Promise<RemuxedSegment> {
    const blocks = this.#frame(bytes, offset, false);
    const samples: OpusSample[] = [];
    let start: bigint | null = null;
    let eos = false;
    for (const block of blocks) {
      const page = parseOpusPage(await this.#decrypt(block.seq, block.ciphertext, block.byteOrder));
      if (page.kind !== 'audio') continue;
      start ??= page.granule - BigInt(page.samples);
      for (const data of page.packets) samples.push({ data, duration: opusPacketSamples(data) });
      eos ||= page.eos;
    }
    if (start === null || blocks.length === 0)
      throw new RemuxError('BAD_STREAM', `no audio block in the segment at ${offset}`);
    this.#fragments++;
    return {
      data: opusFragment(this.#fragments, start < 0n ? 0n : start, samples),
      eos,
      firstSeq: blocks[0]!.seq,
      lastSeq: blocks[blocks.length - 1]!.seq,
    };
  }

  #frame(bytes: Uint8Array, offset: number, magic: boolean) {
    try {
      const framer = new BlockFramer({ expectMagic: magic, startOffset: offset });
      const blocks = framer.push(bytes);
      framer.finish();
      return blocks;
    } catch (error) {
      throw new RemuxError('BAD_STREAM', `segment at ${offset}: ${(error as Error).message}`);
    }
  }

  async #decrypt(seq: number, ciphertext: Uint8Array, byteOrder: 'be' | 'le'): Promise<Uint8Array> {
    try {
      const plain = await this.#cipher.decrypt(seq, ciphertext, byteOrder);
      this.#authenticated = true;
      return plain;
    } catch (error) {
      if (!isFormatError(error, 'AUTH_FAILED')) throw error;
      // Nothing ever authenticated: the key (or IV) in the link is wrong. Otherwise a block was
      // altered after others passed.
      throw this.#authenticated
        ? new RemuxError('TAMPERED', `block ${seq} failed authentication`)
        : new RemuxError('WRONG_KEY', `block ${seq} failed authentication: wrong key or IV`);
    }
  }
}
