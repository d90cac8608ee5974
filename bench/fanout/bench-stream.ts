/**
 * The stream a fan-out run broadcasts, built with the project's own packages as a broadcaster
 * builds it (docs/audio.md): hard-CBR Opus from @mxcast/audio (a speech-like test signal, 80-byte
 * packets at 32 kbit/s), one Ogg page per block from @mxcast/ogg's OggOpusPager (page 0 OpusHead,
 * page 1 OpusTags, then `framesPerBlock` packets a page), and for the relay each page encrypted
 * with a fresh key into an MSC4016 block by @mxcast/format. Icecast gets the same Ogg pages
 * unencrypted. Page sequence numbers equal block sequence numbers, so a listener maps either
 * to its send time directly.
 *
 * Encoding runs once at start-up over a short pool of packets that the stream then cycles, so
 * the real-time upload loop only pages and encrypts.
 */
import { OpusCbrEncoder, createSignal } from '@mxcast/audio';
import { BlockWriter, MAGIC_SIZE, createBlockCipher, generateEncryptedFile } from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import type { FanoutPreset } from './fanout-presets.ts';

const POOL_FRAMES = 100; // 2 s of 20 ms frames
const SERIAL = 0x6d786361;
/** An MSC4016 block adds a 16-byte header and a 16-byte GCM tag to its page. */
const BLOCK_OVERHEAD = 32;

export class BenchStreamError extends Error {
  readonly code = 'BAD_BENCH_STREAM' as const;
}

function encoder(): OpusCbrEncoder {
  return new OpusCbrEncoder({ channels: 1, bitrate: 32000, frameMs: 20, application: 'voip' });
}

function pager(preSkip: number): OggOpusPager {
  return new OggOpusPager({ serial: SERIAL, channels: 1, preSkip, vendor: 'mxcast fanout bench' });
}

/** Offset of block 2 in the relay's file: the magic, then the OpusHead and OpusTags blocks. */
export function relayHeaderEnd(): number {
  const p = pager(encoder().preSkip);
  return MAGIC_SIZE + p.headPage().length + BLOCK_OVERHEAD + p.tagsPage().length + BLOCK_OVERHEAD;
}

export class BenchStream {
  readonly #preset: FanoutPreset;
  readonly #packets: Uint8Array[];
  readonly #pager: OggOpusPager;
  readonly #writer: BlockWriter | null;
  #seq = 0;

  private constructor(
    preset: FanoutPreset,
    packets: Uint8Array[],
    pager: OggOpusPager,
    writer: BlockWriter | null,
  ) {
    this.#preset = preset;
    this.#packets = packets;
    this.#pager = pager;
    this.#writer = writer;
  }

  /** `encrypted`: MSC4016 blocks for the relay; otherwise bare Ogg pages for Icecast. */
  static async open(preset: FanoutPreset, encrypted: boolean): Promise<BenchStream> {
    const enc = encoder();
    const signal = createSignal('voice', { sampleRate: 48000, channels: 1 });
    const packets: Uint8Array[] = [];
    for (let i = 0; i < POOL_FRAMES; i++) {
      const packet = enc.encode(signal.read(enc.frameSamples));
      if (packet.length !== preset.packetBytes) {
        throw new BenchStreamError(
          `the encoder made a ${packet.length}-byte packet, not the preset's ${preset.packetBytes} (hard CBR)`,
        );
      }
      packets.push(packet);
    }
    const writer = encrypted
      ? new BlockWriter(await createBlockCipher(generateEncryptedFile()))
      : null;
    return new BenchStream(preset, packets, pager(enc.preSkip), writer);
  }

  /** The next unit's sequence number. */
  get nextSeq(): number {
    return this.#seq;
  }

  /** The next unit: a block (the first one after the file magic) or an Ogg page. */
  async next(): Promise<Uint8Array> {
    const seq = this.#seq++;
    const page = this.#page(seq);
    if (!this.#writer) return page;
    const block = await this.#writer.write(page);
    if (seq > 0) return block;
    const magic = this.#writer.magic();
    const out = new Uint8Array(magic.length + block.length);
    out.set(magic);
    out.set(block, magic.length);
    return out;
  }

  #page(seq: number): Uint8Array {
    if (seq === 0) return this.#pager.headPage();
    if (seq === 1) return this.#pager.tagsPage();
    const n = this.#preset.framesPerBlock;
    const packets = Array.from(
      { length: n },
      (_, i) => this.#packets[((seq - 2) * n + i) % this.#packets.length] as Uint8Array,
    );
    const page = this.#pager.audioPage(packets);
    if (page.length !== this.#preset.oggPageBytes) {
      throw new BenchStreamError(
        `audio page ${seq} is ${page.length} bytes, not the preset's ${this.#preset.oggPageBytes}`,
      );
    }
    return page;
  }
}
