/**
 * BlockPipeline: 48 kHz PCM in, encrypted MSC4016 blocks out, one Ogg page per block
 * (docs/audio.md): block 0 = OpusHead page, block 1 = OpusTags page, then audio pages of exactly
 * `framesPerBlock` whole CBR packets, so every audio block has the same size (docs/audio.md).
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
        const b = await this.encodeFrame(true);
        if (b) out.push(b);
      }
    }
    return out;
  }

  /**
   * Ends the stream: pads the last partial frame with silence, adds frames until the encoder's
   * lookahead past the input's end is out, and writes those packets as the final page with EOS
   * and a granule that trims the padding (RFC 7845 §4.4). The trim stays under one packet, as
   * opusinfo requires, so the EOS page holds only the packets it needs: it is the one audio block
   * that may be shorter than the CBR size (docs/capture.md "The last block").
   */
  async finish(): Promise<PipelineBlock[]> {
    if (this.finished) return [];
    const fs = this.frameSamples;
    const need = this.inputSamples + this.options.encoder.preSkip;
    const totalFrames = Math.ceil(need / fs);
    const endTrim = totalFrames * fs - need;
    const framesLeft = totalFrames - this.framesEncoded();
    const out: PipelineBlock[] = [];
    for (let i = 0; i < framesLeft; i++) {
      this.frame.fill(0, this.frameFill);
      this.frameFill = this.frame.length;
      // The last frame's page is written below, with EOS, even when it is full.
      const b = await this.encodeFrame(i < framesLeft - 1);
      if (b) out.push(b);
    }
    // The packets still pending (0 < n ≤ framesPerBlock unless the input ended exactly on a
    // block boundary with no lookahead, when the EOS page is empty) make the final page.
    const trim = this.packets.length > 0 ? endTrim : 0;
    const page = this.pager.audioPage(this.packets, { eos: true, endTrim: trim });
    this.packets = [];
    out.push(await this.block(page, 'audio', true));
    this.finished = true;
    return out;
  }

  /** Frames encoded by this run so far (in finished blocks and in the page being filled). */
  private framesEncoded(): number {
    const audioBlocks = this.blocks - (this.options.resumeSeq ? 0 : 2);
    return audioBlocks * this.options.preset.framesPerBlock + this.packets.length;
  }

  /** Encodes the frame buffer; with `emitFull`, a page that reaches framesPerBlock goes out. */
  private async encodeFrame(emitFull: boolean): Promise<PipelineBlock | null> {
    const packet = this.options.encoder.encode(this.frame);
    this.frameFill = 0;
    this.opusBytes += packet.length;
    this.packets.push(packet);
    if (!emitFull || this.packets.length < this.options.preset.framesPerBlock) return null;
    const page = this.pager.audioPage(this.packets);
    this.packets = [];
    const block = await this.block(page, 'audio', false);
    if (this.audioBlockSize === null) this.audioBlockSize = block.bytes.length;
    else if (block.bytes.length !== this.audioBlockSize) {
      // CBR is what keeps silence from leaking and makes seeking arithmetic (docs/audio.md).
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
