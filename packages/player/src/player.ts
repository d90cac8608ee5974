/**
 * The player: join live or seek anywhere in a broadcast, resync, authenticate, demux, decode,
 * and hand PCM to a sink, reconnecting without gap or repeat when the connection drops.
 *
 * It reads in "legs": one request (an HTTP Range or a WebSocket) from a known block. Reading
 * starts with a header leg from byte 0 (OpusHead, OpusTags and, without a declared geometry,
 * the first audio block: DESIGN.md §4's arithmetic then needs nothing more), then at most one
 * leg to the block a seek needs (stream-geometry.ts). A dropped leg is resumed from the block
 * after the last one that authenticated.
 */
import {
  createBlockCipher,
  type BlockCipher,
  type ByteOrder,
  type EncryptedFile,
} from '@mxcast/format';
import { opusPacketSamples, type OpusHead } from '@mxcast/ogg';
import { BlockAuthenticator } from './block-authenticator.ts';
import {
  MisalignedStart,
  type BlockSource,
  type SourceBlock,
  type SourceEnd,
  type SourceStart,
} from './block-source.ts';
import type { ProbedBlock } from './granule-bisector.ts';
import { bisectSeek } from './seek-bisection.ts';
import { HttpBlockSource } from './http-block-source.ts';
import { OggBlockDemuxer } from './ogg-block-demuxer.ts';
import { OpusPageDecoder, type PcmChunk } from './opus-page-decoder.ts';
import { PlayerEmitter, type PlayerState, type PlayerStatus } from './player-events.ts';
import { PlayerError, isPlayerError } from './player-error.ts';
import { PlayoutOutput } from './playout-output.ts';
import { fetchIndex, parseMxcUri, type MediaLocation } from './relay-index.ts';
import {
  FIRST_AUDIO_SEQ,
  OPUS_RATE,
  blockStartSample,
  geometryFromBlocks,
  planSeek,
  type StreamGeometry,
} from './stream-geometry.ts';
import { WsBlockSource } from './ws-block-source.ts';
import type { PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';

export type { DeclaredGeometry, PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';

/** Thrown inside a leg to move the read position (a seek) without it counting as a failure. */
class Jump {
  constructor(readonly from: PlayFrom) {}
}

interface Header {
  head: OpusHead;
  /** Offset of block 2, once known over HTTP. */
  headerEnd: number | null;
}

export class Player extends PlayerEmitter {
  readonly #o: PlayerOptions;
  readonly #location: MediaLocation;
  readonly #source: BlockSource;
  readonly #now: () => number;
  #state: PlayerState = 'idle';
  #cipher: BlockCipher | undefined;
  #auth: BlockAuthenticator | undefined;
  readonly #demux = new OggBlockDemuxer();
  #header: Header | undefined;
  #geometry: StreamGeometry | undefined;
  #decoder: OpusPageDecoder | undefined;
  #output: PlayoutOutput | undefined;
  #leg: AbortController | undefined;
  #pendingJump: PlayFrom | undefined;
  /** Output sample before which decoded audio is dropped (seek target, pre-skip). */
  #discardBefore = 0;
  /** Bumped by seek(): audio decoded for an older position is dropped. */
  #seekGeneration = 0;
  /** Block sizes turned out to vary: time seeks bisect on granules. */
  #variableBlocks = false;
  /** Block 2 as framed and authenticated (the bisection's lower bound). */
  #firstAudio: ProbedBlock | undefined;
  #byteOrder: ByteOrder | undefined;
  /** Set while a header leg runs: where the caller wanted to play from. */
  #headerLegFor: PlayFrom | undefined;
  #stopped = false;
  #live = false;
  /** Last authenticated block and the offset just past it (null over WebSocket). */
  #last: { seq: number; next: number | null } | undefined;
  #liveEdgeBlocks = 0;
  #positionSample = 0;
  #endSample: number | undefined;
  #stats = { resyncs: 0, reconnects: 0, requests: 0 };
  #done: Promise<PlayerOutcome> | undefined;

  constructor(options: PlayerOptions) {
    super();
    if (!options.file && !options.cipher)
      throw new PlayerError('BAD_REQUEST', 'a player needs file or cipher', true);
    this.#o = options;
    this.#now = options.now ?? (() => performance.now());
    this.#location = {
      relayUrl: options.relayUrl,
      ...parseMxcUri(options.mxc),
      ...(options.accessToken ? { accessToken: options.accessToken } : {}),
    };
    const events = {
      onRequest: () => void this.#stats.requests++,
      onLiveEdge: (count: number) =>
        void (this.#liveEdgeBlocks = Math.max(this.#liveEdgeBlocks, count)),
      onSkipped: (toSeq: number) => {
        // The relay moved this (too slow) listener to the live edge: a jump it announced.
        this.#auth?.allowJump(toSeq);
        this.#restartDecoder(0);
        this.#stats.resyncs++;
      },
      location: this.#location,
      ...(options.maxBlockLength ? { maxBlockLength: options.maxBlockLength } : {}),
    };
    this.#source =
      options.transport === 'ws'
        ? new WsBlockSource({
            ...events,
            ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
          })
        : new HttpBlockSource({ ...events, ...(options.fetch ? { fetch: options.fetch } : {}) });
  }

  get state(): PlayerState {
    return this.#state;
  }

  /** Seconds of audio delivered to the sink, as a position in the broadcast. */
  get position(): number {
    return this.#positionSample / OPUS_RATE;
  }

  status(): PlayerStatus {
    let delay: number | null = null;
    if (this.#geometry && this.#liveEdgeBlocks > FIRST_AUDIO_SEQ) {
      const edge = blockStartSample(this.#geometry, this.#liveEdgeBlocks);
      delay = Math.max(0, (edge - this.#positionSample) / OPUS_RATE);
    }
    return {
      state: this.#state,
      position: this.position,
      delayBehindLive: delay,
      jitterTargetMs: this.#output ? this.#output.jitter.targetMs : 0,
      ...this.#stats,
      lastSeq: this.#last?.seq ?? null,
    };
  }

  /** Starts playback; resolves when it is over (never rejects: errors come as the outcome and `error` events). */
  play(from: PlayFrom = { time: 0 }): Promise<PlayerOutcome> {
    this.#done ??= this.#main(from);
    return this.#done;
  }

  /** Moves playback to `seconds` into the broadcast (or to the live edge). */
  seek(to: number | 'live'): void {
    const from: PlayFrom = to === 'live' ? { live: true } : { time: to };
    if (!this.#done) {
      void this.play(from);
      return;
    }
    this.#pendingJump = from;
    this.#seekGeneration++;
    this.#output?.reset();
    this.#leg?.abort(new Jump(from));
  }

  stop(): void {
    this.#stopped = true;
    this.#leg?.abort(new Jump({ time: 0 }));
  }

  #setState(state: PlayerState): void {
    if (state === this.#state) return;
    const previous = this.#state;
    this.#state = state;
    this.emit('state', { state, previous });
    this.emit('status', this.status());
  }

  async #main(from: PlayFrom): Promise<PlayerOutcome> {
    let outcome: PlayerOutcome;
    try {
      outcome = await this.#run(from);
    } catch (err) {
      const error = isPlayerError(err)
        ? new PlayerError(err.code, err.message, true, err.details)
        : new PlayerError('BAD_STREAM', (err as Error).message ?? String(err), true);
      this.emit('error', error);
      outcome = { state: 'error', error };
    }
    await this.#output?.close().catch(() => {});
    this.#decoder?.destroy();
    this.#setState(outcome.state);
    return outcome;
  }

  async #run(initial: PlayFrom): Promise<PlayerOutcome> {
    this.#setState('connecting');
    this.#cipher = this.#o.cipher ?? (await createBlockCipher(this.#o.file as EncryptedFile));
    this.#auth = new BlockAuthenticator(this.#cipher);
    let from: PlayFrom = initial;
    let start = await this.#prepare(from);
    let attempt = 0;
    for (;;) {
      if (this.#stopped) return { state: 'stopped' };
      let end: SourceEnd;
      try {
        end = await this.#runLeg(start, () => (attempt = 0));
      } catch (err) {
        if (this.#stopped) return { state: 'stopped' };
        if (err instanceof Stop) return err.outcome;
        const userSeek = this.#pendingJump;
        const jump = userSeek ? new Jump(userSeek) : err instanceof Jump ? err : undefined;
        if (err instanceof MisalignedStart) {
          // The geometry's arithmetic did not hold (sizes vary): bisect on granules instead.
          this.#variableBlocks = true;
          start = await this.#prepare(from);
          continue;
        }
        if (jump) {
          this.#pendingJump = undefined;
          from = jump.from;
          if (userSeek) this.#setState('seeking');
          this.#output?.reset();
          start = await this.#prepare(from);
          continue;
        }
        if (!isPlayerError(err) || err.fatal) throw err;
        // A dropped connection: resume from the block after the last good one (no gap, no repeat).
        attempt++;
        if (attempt > (this.#o.reconnectAttempts ?? 30)) {
          throw new PlayerError(
            'NETWORK',
            `gave up after ${attempt - 1} reconnect attempts: ${err.message}`,
            true,
          );
        }
        this.emit('error', err);
        const resume = await this.#resumePoint(err.message, attempt);
        if ('outcome' in resume) return resume.outcome;
        start = resume.start;
        continue;
      }
      if (end.kind === 'range-done') {
        // A bounded header leg: go on where the caller wanted.
        start = await this.#prepare(from);
        continue;
      }
      // The stream ended cleanly without an EOS page: really over, or a relay restart?
      const resume = await this.#resumePoint('stream ended without EOS', ++attempt, end);
      if ('outcome' in resume) return resume.outcome;
      start = resume.start;
    }
  }

  /**
   * Where to read next for `from`: the header leg if the header (or, without a declared
   * geometry, the first audio block) is still unknown, else the planned block.
   */
  async #prepare(from: PlayFrom): Promise<SourceStart> {
    this.#live = 'live' in from;
    if (!this.#header || !this.#geometry) {
      if ('live' in from && this.#source.transport === 'ws') {
        // One socket: blocks 0 and 1 first (headers=1), then the live edge.
        this.#headerLegFor = undefined;
        this.#restartDecoder(0);
        return { kind: 'live' };
      }
      // The header leg reads from byte 0 until the geometry is known, then continues if the
      // target is near, or leaves for one Range request to it (#checkHeaderLeg).
      this.#headerLegFor = from;
      this.#auth?.allowJump(0);
      this.#restartDecoder(this.#targetSample(from));
      return { kind: 'offset', offset: 0, seq: 0 };
    }
    this.#headerLegFor = undefined;
    const g = this.#geometry as StreamGeometry;
    if ('live' in from) {
      if (this.#source.transport === 'ws') {
        this.#auth?.allowJump('any');
        this.#restartDecoder(0);
        return { kind: 'live' };
      }
      const index = await fetchIndex(this.#location, this.#o.fetch ?? fetch);
      this.#stats.requests++;
      this.#liveEdgeBlocks = Math.max(this.#liveEdgeBlocks, index.block_count);
      const seq = Math.max(FIRST_AUDIO_SEQ, index.block_count - 1);
      this.#auth?.allowJump(seq);
      this.#restartDecoder(0);
      if (
        (index.block_size === null || this.#variableBlocks) &&
        index.block_count > FIRST_AUDIO_SEQ
      ) {
        // Sizes vary: the relay's index knows where the newest block starts.
        this.#stats.requests++;
        const at = await fetchIndex(this.#location, this.#o.fetch ?? fetch, undefined, {
          from: seq,
          count: 1,
        });
        const offset = at.offsets?.[0];
        if (offset !== undefined) return { kind: 'offset', offset, seq };
      }
      return this.#startAt(g, seq);
    }
    const target = Math.round(from.time * OPUS_RATE);
    if (this.#variableBlocks && this.#source.transport === 'http') return this.#bisectTo(target);
    const plan = planSeek(g, target);
    this.#auth?.allowJump(plan.seq);
    this.#restartDecoder(target);
    this.#positionSample = target;
    return this.#startAt(g, plan.seq);
  }

  #restartDecoder(discardBefore: number): void {
    this.#discardBefore = discardBefore;
    this.#decoder?.restart(discardBefore);
  }

  #startAt(g: StreamGeometry, seq: number): SourceStart {
    if (this.#source.transport === 'ws' || g.blockSize === null)
      return { kind: 'offset', offset: -1, seq };
    const offset = g.headerEnd + (seq - FIRST_AUDIO_SEQ) * g.blockSize;
    return { kind: 'offset', offset, seq, computed: true };
  }

  /** Block sizes vary: find the start by bisecting on granules (seek-bisection.ts). */
  async #bisectTo(target: number): Promise<SourceStart> {
    const found = await bisectSeek({
      location: this.#location,
      cipher: this.#cipher as BlockCipher,
      fetch: this.#o.fetch ?? fetch,
      geometry: this.#geometry as StreamGeometry,
      first: this.#firstAudio,
      target,
      ...(this.#byteOrder ? { byteOrder: this.#byteOrder } : {}),
      ...(this.#o.maxBlockLength ? { maxBlockLength: this.#o.maxBlockLength } : {}),
      onRequest: () => void this.#stats.requests++,
      onResync: (from, to) => {
        this.#stats.resyncs++;
        this.emit('resync', { from, to });
      },
    });
    this.#auth?.allowJump(found.seq);
    this.#restartDecoder(target);
    this.#positionSample = target;
    return { kind: 'offset', offset: found.offset, seq: found.seq };
  }

  /** Output sample the sink's audio starts at; a live header leg delivers nothing (it jumps to the edge). */
  #targetSample(from: PlayFrom): number {
    return 'time' in from ? Math.round(from.time * OPUS_RATE) : Number.MAX_SAFE_INTEGER;
  }

  /**
   * In a header leg, once the geometry is known: a target more than a few blocks ahead is
   * reached with one Range request rather than by reading everything before it.
   */
  #checkHeaderLeg(seq: number): void {
    const from = this.#headerLegFor;
    if (!from || !this.#geometry) return;
    this.#headerLegFor = undefined;
    if ('live' in from) throw new Jump(from);
    const plan = planSeek(this.#geometry, Math.round(from.time * OPUS_RATE));
    if (plan.seq > seq + 4) throw new Jump(from);
  }

  /** After a drop or an end without EOS: ask the relay whether there is more, and where to resume. */
  async #resumePoint(
    reason: string,
    attempt: number,
    end?: SourceEnd,
  ): Promise<{ start: SourceStart } | { outcome: PlayerOutcome }> {
    const fromSeq = (this.#last?.seq ?? -1) + 1;
    const offset = this.#last?.next ?? 0;
    if (end?.kind === 'ended' && end.state !== 'unknown') {
      return { outcome: await this.#endWithoutEos() };
    }
    this.#stats.reconnects++;
    this.#setState('buffering');
    this.emit('reconnecting', { attempt, fromSeq, offset, reason });
    const base = this.#o.reconnectDelayMs ?? 100;
    await sleep(
      Math.min(this.#o.maxReconnectDelayMs ?? 2000, base * 2 ** Math.min(attempt - 1, 8)),
    );
    if (this.#stopped) return { outcome: { state: 'stopped' } };
    try {
      this.#stats.requests++;
      const index = await fetchIndex(this.#location, this.#o.fetch ?? fetch);
      this.#liveEdgeBlocks = Math.max(this.#liveEdgeBlocks, index.block_count);
      if (
        (index.state === 'complete' || index.state === 'cancelled') &&
        index.block_count <= fromSeq
      ) {
        return { outcome: await this.#endWithoutEos() };
      }
    } catch (err) {
      if (isPlayerError(err) && err.fatal) throw err;
      // relay still down: try the stream anyway, its failure counts as the next attempt
    }
    this.#auth?.allowJump(fromSeq);
    if (!this.#last)
      return { start: await this.#prepare(this.#live ? { live: true } : { time: this.position }) };
    return {
      start: {
        kind: 'offset',
        offset: this.#source.transport === 'ws' ? -1 : offset,
        seq: fromSeq,
      },
    };
  }

  async #endWithoutEos(): Promise<PlayerOutcome> {
    await this.#output?.drain();
    return { state: 'ended-without-finishing' };
  }

  async #runLeg(start: SourceStart, onProgress: () => void): Promise<SourceEnd> {
    const leg = new AbortController();
    this.#leg = leg;
    if (this.#pendingJump) leg.abort(new Jump(this.#pendingJump));
    const blocks = this.#source.blocks(start, leg.signal);
    try {
      for (;;) {
        if (leg.signal.aborted) throw leg.signal.reason;
        const next = await blocks.next();
        if (next.done) return next.value;
        await this.#onBlock(next.value);
        onProgress();
      }
    } catch (err) {
      if (leg.signal.aborted && leg.signal.reason instanceof Jump) throw leg.signal.reason;
      throw err;
    } finally {
      leg.abort(new Error('leg closed'));
      await blocks.return?.(undefined as never).catch(() => {});
    }
  }

  async #onBlock(block: SourceBlock): Promise<void> {
    const generation = this.#seekGeneration;
    const plaintext = await (this.#auth as BlockAuthenticator).open(block);
    const next = block.offset !== null ? block.offset + block.size : null;
    this.#last = { seq: block.seq, next };
    this.#liveEdgeBlocks = Math.max(this.#liveEdgeBlocks, block.seq + 1);
    const page = this.#demux.demux(block.seq, plaintext);
    if (page.kind === 'head') {
      this.#header = { head: page.head, headerEnd: null };
      this.#decoder ??= new OpusPageDecoder({
        channels: page.head.channels,
        preSkip: page.head.preSkip,
        ...(this.#o.createDecoder ? { createDecoder: this.#o.createDecoder } : {}),
      });
      this.#decoder.restart(this.#discardBefore);
      this.#output ??= new PlayoutOutput({
        sink: this.#o.sink,
        pace: this.#o.pace ?? false,
        channels: page.head.channels,
        now: this.#now,
        onPlayoutState: (s) =>
          this.#setState(s === 'buffering' ? 'buffering' : this.#live ? 'live' : 'playing'),
        onPlayed: (endSample) => (this.#positionSample = endSample),
      });
      return;
    }
    if (page.kind === 'tags') {
      if (this.#header) this.#header.headerEnd = next;
      if (this.#live && this.#source.transport === 'ws') this.#auth?.allowJump('any');
      if (this.#o.geometry && !this.#geometry) {
        this.#learnGeometry(block, 0n, 0);
        this.#checkHeaderLeg(block.seq);
      }
      return;
    }
    if (!this.#header || !this.#decoder || !this.#output) {
      throw new PlayerError(
        'BAD_STREAM',
        `audio block ${block.seq} before the OpusHead block`,
        true,
        { seq: block.seq },
      );
    }
    const samples = page.packets.reduce((n, p) => n + opusPacketSamples(p), 0);
    this.#byteOrder = block.byteOrder;
    if (block.seq === FIRST_AUDIO_SEQ && block.offset !== null) {
      this.#firstAudio = {
        seq: block.seq,
        offset: block.offset,
        size: block.size,
        granule: page.granule,
      };
    }
    if (!this.#geometry) {
      this.#learnGeometry(block, page.granule, samples);
      this.#checkHeaderLeg(block.seq);
    }
    this.emit('block', { seq: block.seq, granule: page.granule, eos: page.eos });
    const chunk = this.#decoder.decodePage(block.seq, page.packets, page.granule, page.eos);
    if (this.#state === 'connecting' || this.#state === 'seeking' || this.#state === 'buffering') {
      if (!this.#o.pace) this.#setState(this.#live ? 'live' : 'playing');
    }
    // A seek() that came while this block was in flight: its audio is from the old position.
    if (generation !== this.#seekGeneration) return;
    if (chunk) await this.#deliver(chunk);
    if (page.eos) {
      await this.#output.drain();
      throw new Stop({ state: 'finished' });
    }
  }

  async #deliver(chunk: PcmChunk): Promise<void> {
    let out = chunk;
    if (this.#o.duration !== undefined) {
      this.#endSample ??= out.startSample + Math.round(this.#o.duration * OPUS_RATE);
      const room = this.#endSample - out.startSample;
      if (room <= 0) throw new Stop({ state: 'stopped' });
      if (room < out.pcm.length / out.channels)
        out = { ...out, pcm: out.pcm.subarray(0, room * out.channels) };
    }
    await (this.#output as PlayoutOutput).write(out);
    this.emit('status', this.status());
    if (
      this.#endSample !== undefined &&
      out.startSample + out.pcm.length / out.channels >= this.#endSample
    ) {
      await this.#output?.drain();
      throw new Stop({ state: 'stopped' });
    }
  }

  #learnGeometry(block: SourceBlock, granule: bigint, samples: number): void {
    const header = this.#header as Header;
    this.#geometry = geometryFromBlocks({
      head: header.head,
      headerEnd: header.headerEnd ?? block.offset ?? 0,
      ...(this.#o.geometry ? { declared: this.#o.geometry } : {}),
      firstAudio: { seq: block.seq, size: block.size, granule, samples },
    });
  }
}

class Stop {
  constructor(readonly outcome: PlayerOutcome) {}
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
