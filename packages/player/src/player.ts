/**
 * The player: join live or seek anywhere in a broadcast, resync, authenticate, demux, decode,
 * and hand PCM to a sink, reconnecting without gap or repeat when the connection drops.
 *
 * It reads in "legs": one request (an HTTP Range or a WebSocket) from a known block. Reading
 * starts with a header leg from byte 0 (OpusHead, OpusTags and, without a declared geometry,
 * the first audio block: DESIGN.md §4's arithmetic then needs nothing more), then at most one
 * leg to the block a seek needs (stream-geometry.ts). A dropped leg is resumed from the block
 * after the last one that authenticated.
 *
 * This file is the public surface and the loop over legs; the parts are in player-session.ts
 * (shared state, states and events), leg-planner.ts with live-join-planner.ts and
 * seek-planner.ts (where a leg starts), leg-runner.ts (one leg), block-pipeline.ts (each
 * block) and reconnect-planner.ts (where to resume after a drop).
 */
import { createBlockCipher, type EncryptedFile } from '@mxcast/format';
import { BlockAuthenticator } from './block-authenticator.ts';
import { MisalignedStart, type BlockSource, type SourceEnd } from './block-source.ts';
import { handleBlock } from './block-pipeline.ts';
import { HttpBlockSource } from './http-block-source.ts';
import { prepareLeg } from './leg-planner.ts';
import { Jump, Stop, runLeg } from './leg-runner.ts';
import { PlayerEmitter, type PlayerState, type PlayerStatus } from './player-events.ts';
import { PlayerError, isPlayerError } from './player-error.ts';
import type { PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';
import { PlayerSession } from './player-session.ts';
import { resumePoint } from './reconnect-planner.ts';
import { fetchIndex } from './relay-index.ts';
import { WsBlockSource } from './ws-block-source.ts';

export type { DeclaredGeometry, PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';

export class Player extends PlayerEmitter {
  readonly #s: PlayerSession;
  #leg: AbortController | undefined;
  #pendingJump: PlayFrom | undefined;
  #done: Promise<PlayerOutcome> | undefined;

  constructor(options: PlayerOptions) {
    super();
    if (!options.file && !options.cipher)
      throw new PlayerError('BAD_REQUEST', 'a player needs file or cipher', true);
    const s = new PlayerSession(options, (event, value) => this.emit(event, value));
    this.#s = s;
    const events = {
      onRequest: () => void s.stats.requests++,
      onLiveEdge: (count: number) => s.sawLiveEdge(count),
      onSkipped: (toSeq: number) => {
        // The relay moved this (too slow) listener to the live edge: a jump it announced, and
        // only forward (a skip back would replay blocks: TAMPERED). The gap is not filled: the
        // decoder restarts at the new block and its audio goes out at its own time.
        if (!s.auth?.allowSkip(toSeq)) return;
        s.restartDecoder(0);
        s.stats.resyncs++;
      },
      location: s.location,
      ...(options.maxBlockLength ? { maxBlockLength: options.maxBlockLength } : {}),
    };
    const source: BlockSource =
      options.transport === 'ws'
        ? new WsBlockSource({
            ...events,
            ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
          })
        : new HttpBlockSource({ ...events, ...(options.fetch ? { fetch: options.fetch } : {}) });
    s.source = source;
  }

  get state(): PlayerState {
    return this.#s.state;
  }

  /** Seconds of audio delivered to the sink, as a position in the broadcast. */
  get position(): number {
    return this.#s.position;
  }

  status(): PlayerStatus {
    return this.#s.status();
  }

  /**
   * Asks the relay's index where the live edge is now (one request, no retry; a failure rejects
   * and changes nothing). A player started at a time learns the edge from nothing else over
   * HTTP, so a caller showing `delayBehindLive` calls this before each reading.
   */
  async refreshLiveEdge(): Promise<void> {
    const s = this.#s;
    s.stats.requests++;
    const index = await fetchIndex(s.location, s.fetch);
    s.sawLiveEdge(index.block_count);
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
    this.#s.seekGeneration++;
    this.#s.output?.reset();
    this.#leg?.abort(new Jump(from));
  }

  stop(): void {
    this.#s.stopped = true;
    this.#leg?.abort(new Jump({ time: 0 }));
  }

  async #main(from: PlayFrom): Promise<PlayerOutcome> {
    const s = this.#s;
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
    await s.output?.close().catch(() => {});
    s.decoder?.destroy();
    s.setState(outcome.state);
    return outcome;
  }

  /** The loop over legs: seeks, geometry fallbacks, header legs and reconnects each start a new one. */
  async #run(initial: PlayFrom): Promise<PlayerOutcome> {
    const s = this.#s;
    s.setState('connecting');
    s.cipher = s.options.cipher ?? (await createBlockCipher(s.options.file as EncryptedFile));
    s.auth = new BlockAuthenticator(s.cipher);
    let from: PlayFrom = initial;
    let start = await prepareLeg(s, from);
    let attempt = 0;
    for (;;) {
      if (s.stopped) return { state: 'stopped' };
      let end: SourceEnd;
      try {
        const leg = new AbortController();
        this.#leg = leg;
        if (this.#pendingJump) leg.abort(new Jump(this.#pendingJump));
        end = await runLeg(
          s.source,
          start,
          leg,
          (block) => handleBlock(s, block),
          () => (attempt = 0),
        );
      } catch (err) {
        if (s.stopped) return { state: 'stopped' };
        if (err instanceof Stop) return err.outcome;
        const userSeek = this.#pendingJump;
        const jump = userSeek ? new Jump(userSeek) : err instanceof Jump ? err : undefined;
        if (err instanceof MisalignedStart) {
          // The geometry's arithmetic did not hold (sizes vary): bisect on granules instead.
          s.variableBlocks = true;
          start = await prepareLeg(s, from);
          continue;
        }
        if (jump) {
          this.#pendingJump = undefined;
          from = jump.from;
          if (userSeek) s.setState('seeking');
          s.output?.reset();
          start = await prepareLeg(s, from);
          continue;
        }
        if (!isPlayerError(err) || err.fatal) throw err;
        // A dropped connection: resume from the block after the last good one (no gap, no repeat).
        attempt++;
        if (attempt > (s.options.reconnectAttempts ?? 30)) {
          throw new PlayerError(
            'NETWORK',
            `gave up after ${attempt - 1} reconnect attempts: ${err.message}`,
            true,
          );
        }
        this.emit('error', err);
        const resume = await resumePoint(s, err.message, attempt);
        if ('outcome' in resume) return resume.outcome;
        start = resume.start;
        continue;
      }
      if (end.kind === 'range-done') {
        // A bounded header leg: go on where the caller wanted.
        start = await prepareLeg(s, from);
        continue;
      }
      // The stream ended cleanly without an EOS page: really over, or a relay restart?
      const resume = await resumePoint(s, 'stream ended without EOS', ++attempt, end);
      if ('outcome' in resume) return resume.outcome;
      start = resume.start;
    }
  }
}
