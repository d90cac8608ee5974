/**
 * What happens to each block a leg yields: authenticate (the only way to plaintext), demux the
 * Ogg page, set up decoder and playout on OpusHead, learn the geometry from the first audio
 * block (docs/audio.md), decode, trim to `duration`, and hand PCM to the playout.
 *
 * The pipeline owns what the blocks teach (header, geometry, the last good block, block 2 for
 * the bisection, the byte order) and the decode/playout chain with the playback position: only
 * this file writes them, the planners read them (docs/player.md "Who owns what"). Each block's
 * result is a value (`BlockOutcome`), not a thrown signal: go on, leave the leg for another
 * position (a header leg whose target is far), or playback is over (EOS, `duration`).
 */
import type { ByteOrder } from '@mxcast/format';
import { opusPacketSamples, type OpusHead } from '@mxcast/ogg';
import { blockDigest } from './block-digest.ts';
import type { SourceBlock } from './block-source.ts';
import type { ProbedBlock } from './granule-bisector.ts';
import { OggBlockDemuxer } from './ogg-block-demuxer.ts';
import { OpusPageDecoder, type PcmChunk } from './opus-page-decoder.ts';
import { PlayerError } from './player-error.ts';
import type { PlayFrom, PlayerOutcome } from './player-options.ts';
import type { Header, PlayerSession } from './player-session.ts';
import { PlayoutOutput } from './playout-output.ts';
import {
  FIRST_AUDIO_SEQ,
  OPUS_RATE,
  geometryFromBlocks,
  type PlaybackGeometry,
} from './stream-geometry.ts';

/** What a block asks of the leg reading it. */
export type BlockOutcome =
  | { kind: 'next' }
  /** Leave this leg and start one for `from` (a header leg whose target is further on). */
  | { kind: 'jump'; from: PlayFrom }
  /** Playback is over: the EOS page was played, or `duration` reached. */
  | { kind: 'over'; outcome: PlayerOutcome };

const NEXT: BlockOutcome = { kind: 'next' };

export class BlockPipeline {
  readonly #s: PlayerSession;
  readonly #demux = new OggBlockDemuxer();
  #header: Header | undefined;
  #geometry: PlaybackGeometry | undefined;
  #decoder: OpusPageDecoder | undefined;
  #output: PlayoutOutput | undefined;
  /** Output sample before which decoded audio is dropped (seek target, pre-skip). */
  #discardBefore = 0;
  /** Bumped by dropQueued() (a seek): audio decoded for an older position is dropped. */
  #generation = 0;
  #firstAudio: ProbedBlock | undefined;
  #byteOrder: ByteOrder | undefined;
  #last: { seq: number; next: number | null } | undefined;
  #positionSample = 0;
  #endSample: number | undefined;
  /** Whether the player's `digest` event has a listener (set by the Player). */
  wantsDigest: () => boolean = () => false;

  constructor(session: PlayerSession) {
    this.#s = session;
  }

  get header(): Header | undefined {
    return this.#header;
  }
  get geometry(): PlaybackGeometry | undefined {
    return this.#geometry;
  }
  get output(): PlayoutOutput | undefined {
    return this.#output;
  }
  /** Block 2 as framed and authenticated (the bisection's lower bound). */
  get firstAudio(): ProbedBlock | undefined {
    return this.#firstAudio;
  }
  get byteOrder(): ByteOrder | undefined {
    return this.#byteOrder;
  }
  /** Last authenticated block and the offset just past it (null over WebSocket). */
  get last(): { readonly seq: number; readonly next: number | null } | undefined {
    return this.#last;
  }
  /** Output sample just past the audio handed to the sink (or the target of the last seek). */
  get positionSample(): number {
    return this.#positionSample;
  }

  /**
   * A jump (seek, live join, resume, relay skip): a fresh decoder state dropping audio before
   * `discardBefore`; `position` moves the reported position at once (a seek's target).
   */
  restartAt(discardBefore: number, position?: number): void {
    this.#discardBefore = discardBefore;
    this.#decoder?.restart(discardBefore);
    if (position !== undefined) this.#positionSample = position;
  }

  /** A seek: queued audio goes at once, and a block already in flight is not delivered. */
  dropQueued(): void {
    this.#generation++;
    this.#output?.reset();
  }

  /** Leaving a leg for another position: queued audio is from the old one. */
  resetOutput(): void {
    this.#output?.reset();
  }

  /** Waits until every queued frame went to the sink. */
  async drain(): Promise<void> {
    await this.#output?.drain();
  }

  async close(): Promise<void> {
    await this.#output?.close().catch(() => {});
    this.#decoder?.destroy();
  }

  async handle(block: SourceBlock): Promise<BlockOutcome> {
    const s = this.#s;
    const generation = this.#generation;
    const plaintext = await s.auth.open(block);
    // Only an authenticated block is vouched for: a verifier of the sender's checkpoints gets it
    // before it is played (docs/matrix.md "Checkpoints and completion").
    if (this.wantsDigest())
      s.emit('digest', { seq: block.seq, sha256: await blockDigest(block.ciphertext) });
    const next = block.offset !== null ? block.offset + block.size : null;
    this.#last = { seq: block.seq, next };
    s.sawLiveEdge(block.seq + 1, false);
    const page = this.#demux.demux(block.seq, plaintext);
    if (page.kind === 'head') {
      this.#header = { head: page.head, headerEnd: null };
      this.#setUpOutput(page.head);
      return NEXT;
    }
    if (page.kind === 'tags') {
      if (this.#header) this.#header = { ...this.#header, headerEnd: next };
      if (s.planner.live && s.source.transport === 'ws') s.auth.allowJump('any');
      if (s.options.geometry && !this.#geometry) {
        this.#learnGeometry(block, 0n, 0);
        return this.#afterGeometry(block.seq);
      }
      return NEXT;
    }
    const decoder = this.#decoder;
    if (!this.#header || !decoder || !this.#output) {
      throw new PlayerError('BAD_STREAM', `audio block ${block.seq} before the OpusHead block`, {
        fatal: true,
        seq: block.seq,
      });
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
      const leave = this.#afterGeometry(block.seq);
      if (leave.kind !== 'next') return leave;
    }
    s.emit('block', { seq: block.seq, granule: page.granule, eos: page.eos });
    const decoded = decoder.decodePage(block.seq, page.packets, page.granule, page.eos);
    let chunk: PcmChunk | null;
    if (decoded instanceof Promise) {
      // An asynchronous decoder (WebCodecs): a seek() during the decode makes this page stale.
      chunk = await decoded;
      if (generation !== this.#generation) return NEXT;
    } else chunk = decoded;
    const state = s.machine.state;
    if (state === 'connecting' || state === 'seeking' || state === 'buffering') {
      if (!s.options.pace) s.machine.to(s.planner.live ? 'live' : 'playing');
    }
    // A seek() that came while this block was in flight: its audio is from the old position.
    if (generation !== this.#generation) return NEXT;
    if (chunk) {
      const over = await this.#deliver(chunk);
      if (over) return over;
    }
    if (page.eos) {
      await this.#output.drain();
      return { kind: 'over', outcome: { state: 'finished' } };
    }
    return NEXT;
  }

  #setUpOutput(head: OpusHead): void {
    const s = this.#s;
    const { channels, preSkip } = head;
    this.#decoder ??= new OpusPageDecoder({
      channels,
      preSkip,
      head,
      ...(s.options.createDecoder ? { createDecoder: s.options.createDecoder } : {}),
    });
    this.#decoder.restart(this.#discardBefore);
    this.#output ??= new PlayoutOutput({
      sink: s.options.sink,
      pace: s.options.pace ?? false,
      channels,
      now: s.now,
      // The paced playout's timer may fire while playback is ending: `tryTo`, never a throw.
      onPlayoutState: (state) =>
        s.machine.tryTo(state === 'buffering' ? 'buffering' : s.planner.live ? 'live' : 'playing'),
      onPlayed: (endSample) => (this.#positionSample = endSample),
    });
  }

  /** In a header leg, once the geometry is known: stay, or leave for the caller's target. */
  #afterGeometry(seq: number): BlockOutcome {
    const from = this.#s.planner.leaveHeaderLeg(seq);
    return from ? { kind: 'jump', from } : NEXT;
  }

  /** Hands a chunk to the playout, cut at `duration`; `over` once that is reached. */
  async #deliver(chunk: PcmChunk): Promise<BlockOutcome | undefined> {
    const s = this.#s;
    const output = this.#output as PlayoutOutput;
    let out = chunk;
    if (s.options.duration !== undefined) {
      this.#endSample ??= out.startSample + Math.round(s.options.duration * OPUS_RATE);
      const room = this.#endSample - out.startSample;
      if (room <= 0) return { kind: 'over', outcome: { state: 'stopped' } };
      if (room < out.pcm.length / out.channels)
        out = { ...out, pcm: out.pcm.subarray(0, room * out.channels) };
    }
    await output.write(out);
    s.emit('status', s.status());
    const end = this.#endSample;
    if (end !== undefined && out.startSample + out.pcm.length / out.channels >= end) {
      await output.drain();
      return { kind: 'over', outcome: { state: 'stopped' } };
    }
    return undefined;
  }

  #learnGeometry(block: SourceBlock, granule: bigint, samples: number): void {
    const header = this.#header as Header;
    this.#geometry = geometryFromBlocks({
      head: header.head,
      headerEnd: header.headerEnd ?? block.offset ?? 0,
      ...(this.#s.options.geometry ? { declared: this.#s.options.geometry } : {}),
      firstAudio: { seq: block.seq, size: block.size, granule, samples },
    });
  }
}
