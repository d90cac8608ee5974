/**
 * The broadcaster's encoder, in a Web Worker so encoding and AES-GCM never compete with the
 * page: Float32 frames from the capture worklet → hard-CBR Opus (the browser's WebCodecs
 * AudioEncoder where it has Opus, codec/webcodecs-opus-encoder.ts; else @mxcast/audio over
 * opusscript's WebAssembly build, codec/opusscript-browser.ts) → one Ogg page per block with
 * whole packets only (docs/audio.md, @mxcast/ogg) → MSC4016 v3 blocks encrypted with WebCrypto
 * (@mxcast/format), under a ScheduleCipher so the page can start a key epoch at a block it
 * picked ahead (docs/format.md "Key epochs"). The page only forwards the bytes to the relay.
 */
import { OpusCbrEncoder } from '@mxcast/audio';
import {
  BlockWriter,
  createScheduleCipher,
  epochFromFile,
  type ScheduleCipher,
} from '@mxcast/format';
import { OggOpusPager } from '@mxcast/ogg';
import {
  WebCodecsOpusEncoder,
  webCodecsOpusSupported,
  type WebCodecsOpusOptions,
} from '../codec/webcodecs-opus-encoder.ts';
import type { EncoderConfig, FromEncoder, OpusCodec, ToEncoder } from './encoder-protocol.ts';

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
        scope.postMessage({ type: 'ready', codec: p.codec });
      },
      (error: unknown) => fail(error),
    );
  } else if (message.type === 'bench') {
    benchEncode(message).then(
      (result) => scope.postMessage(result),
      (error: unknown) => fail(error),
    );
  } else if (message.type === 'epoch') {
    const { startSeq } = message.epoch;
    if (!pipeline) {
      scope.postMessage({
        type: 'epoch',
        startSeq,
        ok: false,
        error: 'the encoder is not running',
      });
      return;
    }
    // The ScheduleCipher refuses an epoch at or before a block already sealed: a boundary is
    // announced ahead and never lands on a block a listener may already hold.
    pipeline.cipher.add(message.epoch).then(
      () => scope.postMessage({ type: 'epoch', startSeq, ok: true }),
      (error: unknown) =>
        scope.postMessage({
          type: 'epoch',
          startSeq,
          ok: false,
          error: error instanceof Error ? error.message : String(error),
        }),
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

type OggAfter = NonNullable<Extract<FromEncoder, { type: 'bytes' }>['ogg']>;

/** OpusTags vendor per encoder, so a recording says which one made it (opusinfo prints it). */
const VENDOR: Record<OpusCodec, string> = {
  webcodecs: 'mxcast (WebCodecs Opus)',
  opusscript: 'mxcast (opusscript libopus)',
};

class Pipeline {
  readonly #config: EncoderConfig;
  readonly cipher: ScheduleCipher;
  readonly #writer: BlockWriter;
  readonly #frameSamples: number;
  /** Exactly one of the two encoders. */
  readonly #opusscript: OpusCbrEncoder | null;
  readonly #webcodecs: WebCodecsOpusEncoder | null;
  /** Made once the pre-skip is known: at once for opusscript, at WebCodecs' first packet. */
  #pager: OggOpusPager | null = null;
  #serial = 0;
  #packets: Uint8Array[] = [];
  #samplesOut = 0;
  #stopped = false;
  /** Blocks are encrypted one after another: BlockWriter hands out consecutive seqs. */
  #chain: Promise<void> = Promise.resolve();
  #levelFrames = 0;
  #levelSum = 0;
  #levelPeak = 0;

  private constructor(config: EncoderConfig, cipher: ScheduleCipher, webcodecs: boolean) {
    this.#config = config;
    this.cipher = cipher;
    this.#frameSamples = (SAMPLE_RATE * config.frameMs) / 1000;
    this.#writer = new BlockWriter(cipher, { startSeq: config.resume?.nextSeq ?? 0 });
    if (webcodecs) {
      this.#opusscript = null;
      this.#webcodecs = new WebCodecsOpusEncoder(
        webCodecsOptions(config),
        (packet) => this.#onPacket(packet),
        (error) => fail(error),
      );
    } else {
      this.#webcodecs = null;
      this.#opusscript = OpusCbrEncoder.forPreset(config, { channels: config.channels });
    }
  }

  get codec(): OpusCodec {
    return this.#webcodecs ? 'webcodecs' : 'opusscript';
  }

  static async create(config: EncoderConfig, pcm: MessagePort): Promise<Pipeline> {
    // Epoch 0 is the stream's key; the page adds the next epochs (the header epoch's end at
    // seq 2 for a room broadcast, then every rekey).
    const resume = config.resume;
    const epochs = resume?.epochs.length ? resume.epochs : [epochFromFile(config.file)];
    const cipher = await createScheduleCipher(epochs, {
      backend: 'webcrypto',
    });
    const webcodecs =
      config.codec !== 'opusscript' && (await webCodecsOpusSupported(webCodecsOptions(config)));
    const p = new Pipeline(config, cipher, webcodecs);
    if (resume) {
      // The relay already holds the magic and the header pages: carry on the same stream. The
      // pre-skip is only written in OpusHead, which is not written again.
      p.#serial = resume.serial;
      p.#pager = new OggOpusPager({
        serial: resume.serial,
        channels: config.channels,
        preSkip: p.#opusscript?.preSkip ?? 312,
        startPageSeq: resume.pageSeq,
        startGranule: BigInt(resume.granule),
      });
    } else {
      p.#emit(p.#writer.magic(), null);
      if (p.#opusscript) await p.#startPages(p.#opusscript.preSkip);
    }
    pcm.onmessage = (event: MessageEvent<Float32Array>) => p.#onFrame(event.data);
    return p;
  }

  /** The two header pages (docs/audio.md "One Ogg page per block": blocks 0 and 1). */
  #startPages(preSkip: number): Promise<void> {
    this.#serial = crypto.getRandomValues(new Uint32Array(1))[0]!;
    this.#pager = new OggOpusPager({
      serial: this.#serial,
      channels: this.#config.channels,
      preSkip,
      vendor: VENDOR[this.codec],
    });
    void this.#writePage(this.#pager.headPage());
    return this.#writePage(this.#pager.tagsPage());
  }

  #onFrame(frame: Float32Array): void {
    if (this.#stopped) return;
    this.#meter(frame);
    if (this.#opusscript) this.#onPacket(this.#opusscript.encode(toInt16(frame)));
    else this.#webcodecs?.encode(frame);
  }

  #onPacket(packet: Uint8Array): void {
    if (!this.#pager) this.#startPages(this.#webcodecs?.preSkip ?? 312).catch(fail);
    this.#packets.push(packet);
    // While stopping, WebCodecs' last packets are held so the last full block gets the EOS.
    if (!this.#stopped && this.#packets.length === this.#config.framesPerBlock) this.#flush(false);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.#chain;
    this.#stopped = true;
    const perBlock = this.#config.framesPerBlock;
    if (this.#webcodecs) {
      // The encoder's queue and lookahead tail, then silence up to a whole block; the packets
      // past the last whole block are silence only and are dropped (every audio block keeps the
      // same size, docs/audio.md).
      await this.#webcodecs.finish(perBlock);
      this.#webcodecs.close();
      if (!this.#pager) await this.#startPages(this.#webcodecs.preSkip);
      const packets = this.#packets;
      this.#packets = [];
      const blocks = Math.floor(packets.length / perBlock);
      if (blocks === 0) this.#flushPackets([], true); // no audio at all: an empty EOS page
      for (let b = 0; b < blocks; b++) {
        this.#flushPackets(packets.slice(b * perBlock, (b + 1) * perBlock), b === blocks - 1);
      }
      return this.#chain;
    }
    // Pad the last block with silence so every audio block keeps the same size (docs/audio.md);
    // the EOS page marks the broadcast as finished (docs/audio.md "One Ogg page per block").
    const silence = new Int16Array(this.#frameSamples * this.#config.channels);
    while (this.#packets.length < perBlock) {
      this.#packets.push(this.#opusscript!.encode(silence));
    }
    this.#flush(true);
    return this.#chain;
  }

  #flush(eos: boolean): void {
    const packets = this.#packets;
    this.#packets = [];
    this.#flushPackets(packets, eos);
  }

  #flushPackets(packets: Uint8Array[], eos: boolean): void {
    this.#samplesOut += packets.length * this.#frameSamples;
    const page = this.#pager!.audioPage(packets, { eos });
    this.#writePage(page).catch((error: unknown) => fail(error));
  }

  #writePage(page: Uint8Array): Promise<void> {
    const audioSeconds = this.#samplesOut / SAMPLE_RATE;
    // The pager has already moved past this page: its state now is the state after the block.
    const pager = this.#pager!;
    const ogg = {
      serial: this.#serial,
      pageSeq: pager.nextPageSeq,
      granule: pager.granule.toString(),
    };
    const next = this.#chain.then(async () => {
      const seq = this.#writer.nextSeq;
      const block = await this.#writer.write(page);
      this.#emit(block, seq, audioSeconds, ogg);
    });
    this.#chain = next;
    return next;
  }

  #emit(view: Uint8Array, seq: number | null, audioSeconds = 0, ogg?: OggAfter): void {
    // Transfer, not copy; a view into a larger buffer is copied first so nothing else detaches.
    const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
    const bytes = whole ? view : view.slice();
    scope.postMessage({ type: 'bytes', bytes, seq, audioSeconds, ...(ogg ? { ogg } : {}) }, [
      bytes.buffer,
    ]);
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

function webCodecsOptions(config: EncoderConfig): WebCodecsOpusOptions {
  return {
    channels: config.channels,
    bitrate: config.bitrate,
    frameMs: config.frameMs,
    application: config.application,
  };
}

function toInt16(frame: Float32Array): Int16Array {
  const out = new Int16Array(frame.length);
  for (let i = 0; i < frame.length; i++) {
    const v = Math.max(-1, Math.min(1, frame[i] ?? 0));
    out[i] = v < 0 ? v * 0x8000 : v * 0x7fff;
  }
  return out;
}

/**
 * Encode speed for `pnpm bench web` (bench/web-bench.ts): `seconds` of a 440 Hz tone with noise
 * (so the encoder has work in every band), 20 ms mono frames, through one encoder, timed from
 * the first frame to the last packet. WebCodecs encodes off this thread, so that is throughput.
 */
async function benchEncode(
  m: Extract<ToEncoder, { type: 'bench' }>,
): Promise<Extract<FromEncoder, { type: 'bench' }>> {
  const frames = Math.round((m.seconds * 1000) / 20);
  const frameSamples = 960;
  const input: Float32Array[] = [];
  let seed = 1;
  for (let f = 0; f < frames; f++) {
    const frame = new Float32Array(frameSamples);
    for (let i = 0; i < frameSamples; i++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = f * frameSamples + i;
      frame[i] = 0.4 * Math.sin((2 * Math.PI * 440 * n) / SAMPLE_RATE) + 0.1 * (seed / 2 ** 31 - 1);
    }
    input.push(frame);
  }
  const sizes = new Set<number>();
  const settings = { channels: 1, bitrate: m.bitrate, frameMs: 20, application: m.application };
  const t0 = performance.now();
  if (m.codec === 'webcodecs') {
    let error: Error | null = null;
    const enc = new WebCodecsOpusEncoder(
      settings,
      (packet) => sizes.add(packet.length),
      (e) => (error = e),
    );
    for (const frame of input) enc.encode(frame);
    await enc.finish(1);
    enc.close();
    if (error) throw error;
  } else {
    const enc = OpusCbrEncoder.forPreset(settings, { channels: 1 });
    for (const frame of input) sizes.add(enc.encode(toInt16(frame)).length);
    enc.destroy();
  }
  return {
    type: 'bench',
    codec: m.codec,
    audioSeconds: m.seconds,
    wallMs: performance.now() - t0,
    sizes: [...sizes],
  };
}
