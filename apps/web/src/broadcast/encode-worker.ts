/**
 * The broadcaster's encoder, in a Web Worker so encoding and AES-GCM never compete with the
 * page: Float32 frames from the capture worklet → hard-CBR Opus (@mxcast/audio, opusscript's
 * asm.js build in the browser, see codec/opusscript-browser.ts) → one Ogg page per block with
 * whole packets only (docs/audio.md, @mxcast/ogg) → MSC4016 v3 blocks encrypted with WebCrypto
 * (@mxcast/format). The page only forwards the bytes to the relay.
 */
import { OpusCbrEncoder } from '@mxcast/audio';
import { BlockWriter, createBlockCipher } from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import type { EncoderConfig, FromEncoder, ToEncoder } from './encoder-protocol.ts';

const SAMPLE_RATE = 48000;
const scope = self as unknown as {
  postMessage(message: FromEncoder, transfer?: Transferable[]): void;
  onmessage: ((event: MessageEvent<ToEncoder>) => void) | null;
};

let pipeline: Pipeline | null = null;

scope.onmessage = (event) => {
  const message = event.data;
  if (message.type === 'start') {
    Pipeline.create(message.config, message.pcm).then(
      (p) => {
        pipeline = p;
        scope.postMessage({ type: 'ready' });
      },
      (error: unknown) => fail(error),
    );
  } else if (message.type === 'stop') {
    if (!pipeline) return scope.postMessage({ type: 'stopped' });
    pipeline.stop().then(
      () => scope.postMessage({ type: 'stopped' }),
      (error: unknown) => fail(error),
    );
  }
};

function fail(error: unknown): void {
  scope.postMessage({
    type: 'error',
    message: error instanceof Error ? error.message : String(error),
  });
}

class Pipeline {
  readonly #config: EncoderConfig;
  readonly #encoder: OpusCbrEncoder;
  readonly #pager: OggOpusPager;
  readonly #writer: BlockWriter;
  readonly #frameSamples: number;
  #packets: Uint8Array[] = [];
  #samplesOut = 0;
  #stopped = false;
  /** Blocks are encrypted one after another: BlockWriter hands out consecutive seqs. */
  #chain: Promise<void> = Promise.resolve();
  #levelFrames = 0;
  #levelSum = 0;
  #levelPeak = 0;

  private constructor(config: EncoderConfig, writer: BlockWriter) {
    this.#config = config;
    this.#frameSamples = (SAMPLE_RATE * config.frameMs) / 1000;
    this.#encoder = OpusCbrEncoder.forPreset(config, {
      channels: config.channels,
    });
    this.#pager = new OggOpusPager({
      serial: crypto.getRandomValues(new Uint32Array(1))[0]!,
      channels: config.channels,
      preSkip: this.#encoder.preSkip,
    });
    this.#writer = writer;
  }

  static async create(config: EncoderConfig, pcm: MessagePort): Promise<Pipeline> {
    const cipher = await createBlockCipher(config.file, { backend: 'webcrypto' });
    const p = new Pipeline(config, new BlockWriter(cipher));
    p.#emit(p.#writer.magic(), null);
    await p.#writePage(p.#pager.headPage());
    await p.#writePage(p.#pager.tagsPage());
    pcm.onmessage = (event: MessageEvent<Float32Array>) => p.#onFrame(event.data);
    return p;
  }

  #onFrame(frame: Float32Array): void {
    if (this.#stopped) return;
    this.#meter(frame);
    this.#packets.push(this.#encoder.encode(toInt16(frame)));
    if (this.#packets.length === this.#config.framesPerBlock) this.#flush(false);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.#chain;
    this.#stopped = true;
    // Pad the last block with silence so every audio block keeps the same size (docs/audio.md);
    // the EOS page marks the broadcast as finished (docs/audio.md "One Ogg page per block").
    const silence = new Int16Array(this.#frameSamples * this.#config.channels);
    while (this.#packets.length < this.#config.framesPerBlock) {
      this.#packets.push(this.#encoder.encode(silence));
    }
    this.#flush(true);
    return this.#chain;
  }

  #flush(eos: boolean): void {
    const packets = this.#packets;
    this.#packets = [];
    this.#samplesOut += packets.length * this.#frameSamples;
    const page = this.#pager.audioPage(packets, { eos });
    this.#writePage(page).catch((error: unknown) => fail(error));
  }

  #writePage(page: Uint8Array): Promise<void> {
    const audioSeconds = this.#samplesOut / SAMPLE_RATE;
    const next = this.#chain.then(async () => {
      const seq = this.#writer.nextSeq;
      const block = await this.#writer.write(page);
      this.#emit(block, seq, audioSeconds);
    });
    this.#chain = next;
    return next;
  }

  #emit(view: Uint8Array, seq: number | null, audioSeconds = 0): void {
    // Transfer, not copy; a view into a larger buffer is copied first so nothing else detaches.
    const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
    const bytes = whole ? view : view.slice();
    scope.postMessage({ type: 'bytes', bytes, seq, audioSeconds }, [bytes.buffer]);
  }

  #meter(frame: Float32Array): void {
    let sum = 0;
    let peak = 0;
    for (const v of frame) {
      sum += v * v;
      const a = Math.abs(v);
      if (a > peak) peak = a;
    }
    this.#levelSum += sum / frame.length;
    this.#levelPeak = Math.max(this.#levelPeak, peak);
    if (++this.#levelFrames === 3) {
      scope.postMessage({
        type: 'level',
        rms: Math.sqrt(this.#levelSum / 3),
        peak: this.#levelPeak,
      });
      this.#levelFrames = 0;
      this.#levelSum = 0;
      this.#levelPeak = 0;
    }
  }
}

function toInt16(frame: Float32Array): Int16Array {
  const out = new Int16Array(frame.length);
  for (let i = 0; i < frame.length; i++) {
    const v = Math.max(-1, Math.min(1, frame[i] ?? 0));
    out[i] = v < 0 ? v * 0x8000 : v * 0x7fff;
  }
  return out;
}
