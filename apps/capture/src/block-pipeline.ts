/**
 * BlockPipeline: 48 kHz PCM in, encrypted MSC4016 blocks out, one Ogg page per block
 * (DESIGN.md §3): block 0 = OpusHead page, block 1 = OpusTags page, then audio pages of exactly
 * `framesPerBlock` whole CBR packets, so every audio block has the same size (DESIGN.md §4).
 * The last page carries EOS; its granule trims the padding (RFC 7845 §4.4) so a decoder
 * outputs exactly the samples that came in.
 */
import { BlockWriter, type BlockCipher } from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import type { CapturePreset } from './capture-presets.ts';

/** What the pipeline needs of an Opus encoder (packages/audio's OpusCbrEncoder fits). */
export interface FrameEncoder {
  /** One frame of interleaved 48 kHz PCM → one Opus packet. */
  encode(pcm: Int16Array): Uint8Array;
  /** Samples (48 kHz) of encoder lookahead the decoder must drop (RFC 7845 §4.2). */
  readonly preSkip: number;
}

export interface PipelineBlock {
  seq: number;
  /** Header + ciphertext + tag, as it goes on the wire. */
  bytes: Uint8Array;
  kind: 'head' | 'tags' | 'audio';
  eos: boolean;
}

export interface BlockPipelineOptions {
  preset: CapturePreset;
  channels: number;
  cipher: BlockCipher;
  encoder: FrameEncoder;
  serial: number;
  title: string;
  /** Continue a broadcast: the next block's seq (≥ 2). Header blocks are then not written. */
  resumeSeq?: number;
}

export class BlockPipeline {
  readonly frameSamples: number;
  private readonly options: BlockPipelineOptions;
  private readonly writer: BlockWriter;
  private readonly pager: OggOpusPager;
  private readonly frame: Int16Array;
  private frameFill = 0;
  private packets: Uint8Array[] = [];
  private finished = false;
  /** Input samples per channel taken in by this run. */
  inputSamples = 0;
  /** Opus payload bytes (the packets alone), for the overhead figure. */
  opusBytes = 0;
  /** Bytes of blocks produced (headers, ciphertext and tags; the magic not included). */
  blockBytes = 0;
  blocks = 0;
  /** Size of the first audio block; every other one must match (CBR). */
  audioBlockSize: number | null = null;

  constructor(options: BlockPipelineOptions) {
    this.options = options;
    const { preset, channels } = options;
    this.frameSamples = (48000 * preset.frameMs) / 1000;
    this.frame = new Int16Array(this.frameSamples * channels);
    const resumeSeq = options.resumeSeq;
    this.writer = new BlockWriter(options.cipher, resumeSeq ? { startSeq: resumeSeq } : {});
    // Page seq = block seq; a resumed stream's granule follows from the whole blocks before it.
    const startGranule = resumeSeq
      ? BigInt((resumeSeq - 2) * preset.framesPerBlock * this.frameSamples)
      : 0n;
    this.pager = new OggOpusPager({
      serial: options.serial,
      channels,
      preSkip: options.encoder.preSkip,
      title: options.title,
      vendor: 'mxcast capture',
      ...(resumeSeq ? { startPageSeq: resumeSeq, startGranule } : {}),
    });
  }

  get nextSeq(): number {
    return this.writer.nextSeq;
  }

  get granule(): bigint {
    return this.pager.granule;
  }

  /** The file magic (MSC4016) then blocks 0 and 1; only for a new broadcast. */
  async start(): Promise<{ magic: Uint8Array; blocks: PipelineBlock[] }> {
    return {
      magic: this.writer.magic(),
      blocks: [
        await this.block(this.pager.headPage(), 'head', false),
        await this.block(this.pager.tagsPage(), 'tags', false),
      ],
    };
  }

  /** Takes interleaved 48 kHz PCM of any length; returns the blocks it completed. */
  async push(pcm: Int16Array): Promise<PipelineBlock[]> {
    if (this.finished) throw new Error('BlockPipeline: push after finish');
    const out: PipelineBlock[] = [];
    const ch = this.options.channels;
    this.inputSamples += pcm.length / ch;
    let at = 0;
    while (at < pcm.length) {
      const take = Math.min(this.frame.length - this.frameFill, pcm.length - at);
      this.frame.set(pcm.subarray(at, at + take), this.frameFill);
      this.frameFill += take;
      at += take;
      if (this.frameFill === this.frame.length) {
        const b = await this.encodeFrame(false, 0);
        if (b) out.push(b);
      }
    }
    return out;
  }

  /**
   * Pads with silence to whole blocks, at least the encoder's lookahead past the input's end,
   * and writes the final page with EOS and a granule that trims the padding (RFC 7845 §4.4).
   */
  async finish(): Promise<PipelineBlock[]> {
    if (this.finished) return [];
    const { framesPerBlock } = this.options.preset;
    const fs = this.frameSamples;
    const blockSamples = framesPerBlock * fs;
    const need = this.inputSamples + this.options.encoder.preSkip;
    const total = Math.max(blockSamples, Math.ceil(need / blockSamples) * blockSamples);
    const endTrim = total - need;
    const framesLeft = total / fs - this.blocksEncodedFrames();
    const out: PipelineBlock[] = [];
    if (framesLeft <= 0) {
      // Only with an encoder without lookahead and input ending on a block boundary: the EOS
      // goes on an empty page (RFC 7845 §4.4 allows it), the one block not of the CBR size.
      out.push(await this.block(this.pager.audioPage([], { eos: true }), 'audio', true));
    }
    for (let i = 0; i < framesLeft; i++) {
      this.frame.fill(0, this.frameFill);
      this.frameFill = this.frame.length;
      const last = i === framesLeft - 1;
      const b = await this.encodeFrame(last, last ? endTrim : 0);
      if (b) out.push(b);
    }
    this.finished = true;
    return out;
  }

  /** Frames encoded by this run so far (in finished blocks and in the page being filled). */
  private blocksEncodedFrames(): number {
    const audioBlocks = this.blocks - (this.options.resumeSeq ? 0 : 2);
    return audioBlocks * this.options.preset.framesPerBlock + this.packets.length;
  }

  private async encodeFrame(eos: boolean, endTrim: number): Promise<PipelineBlock | null> {
    const packet = this.options.encoder.encode(this.frame);
    this.frameFill = 0;
    this.opusBytes += packet.length;
    this.packets.push(packet);
    if (this.packets.length < this.options.preset.framesPerBlock) return null;
    const page = this.pager.audioPage(this.packets, eos ? { eos: true, endTrim } : {});
    this.packets = [];
    const block = await this.block(page, 'audio', eos);
    if (this.audioBlockSize === null) this.audioBlockSize = block.bytes.length;
    else if (block.bytes.length !== this.audioBlockSize) {
      // CBR is what keeps silence from leaking and makes seeking arithmetic (DESIGN.md §4).
      throw new Error(
        `audio block ${block.seq} is ${block.bytes.length} bytes, not ${this.audioBlockSize}: the encoder is not CBR`,
      );
    }
    return block;
  }

  private async block(
    page: Uint8Array,
    kind: PipelineBlock['kind'],
    eos: boolean,
  ): Promise<PipelineBlock> {
    const seq = this.writer.nextSeq;
    const bytes = this.writer.canWriteSync
      ? this.writer.writeSync(page)
      : await this.writer.write(page);
    this.blocks++;
    this.blockBytes += bytes.length;
    return { seq, bytes, kind, eos };
  }
}
