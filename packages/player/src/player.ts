/**
 * The player: join live or seek anywhere in a broadcast, resync, authenticate, demux, decode,
 * and hand PCM to a sink, reconnecting without gap or repeat when the connection drops.
 *
 * It reads in "legs": one request (an HTTP Range or a WebSocket) from a known block. Reading
 * starts with a header leg from byte 0 (OpusHead, OpusTags and, without a declared geometry,
 * the first audio block: docs/audio.md's arithmetic then needs nothing more), then at most one
 * leg to the block a seek needs (stream-geometry.ts). A dropped leg is resumed from the block
 * after the last one that authenticated.
 *
 * This file is the public surface and the loop over legs; the parts are in
 * player-state-machine.ts (the state and its allowed edges), player-session.ts (the context
 * the parts share), leg-planner.ts with live-join-planner.ts and seek-planner.ts (where a leg
 * starts), leg-runner.ts (one leg, ended as a value), block-pipeline.ts (each block) and
 * reconnect-planner.ts (where to resume after a drop). Who writes which field: docs/player.md
 * "Who owns what".
 */
import { createBlockCipher, createScheduleCipher, type EncryptedFile } from '@mxcast/format';
import type { BlockSource, SourceStart } from './block-source.ts';
import { HttpBlockSource } from './http-block-source.ts';
import { LegAborted, runLeg } from './leg-runner.ts';
import { PlayerEmitter, type PlayerState, type PlayerStatus } from './player-events.ts';
import { PlayerError, isPlayerError } from './player-error.ts';
import type { PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';
import { PlayerSession } from './player-session.ts';
import { resumePoint } from './reconnect-planner.ts';
import { watchStall } from './stall-watch.ts';
import { fetchIndex } from './relay-index.ts';
import { WsBlockSource } from './ws-block-source.ts';

export type { DeclaredGeometry, PlayFrom, PlayerOptions, PlayerOutcome } from './player-options.ts';

export class Player extends PlayerEmitter {
  readonly #s: PlayerSession;
  #leg: AbortController | undefined;
  #pendingJump: PlayFrom | undefined;
  #done: Promise<PlayerOutcome> | undefined;
  /** A fatal error from outside (fail()): the loop ends with it at its next step. */
  #failure: PlayerError | undefined;

  constructor(options: PlayerOptions) {
    super();
    if (!options.file && !options.cipher && !options.keys)
      throw new PlayerError('BAD_REQUEST', 'a player needs file, cipher or keys', { fatal: true });
    this.#s = new PlayerSession(
      options,
      (event, value) => this.emit(event, value),
      (s) => Player.#source(s, options),
    );
    this.#s.pipeline.wantsDigest = () => this.listens('digest');
  }

  /** HTTP or WebSocket, its events feeding the session's counters, live edge and authenticator. */
  static #source(s: PlayerSession, options: PlayerOptions): BlockSource {
    const events = {
      onRequest: () => s.countRequest(),
      onLiveEdge: (count: number) => s.sawLiveEdge(count),
      onInterrupted: (interrupted: boolean) => s.sawInterrupted(interrupted),
      onSkipped: (toSeq: number) => {
        // The relay moved this (too slow) listener to the live edge: a jump it announced, and
        // only forward (a skip back would replay blocks: TAMPERED). The gap is not filled: the
        // decoder restarts at the new block and its audio goes out at its own time.
        if (!s.auth.allowSkip(toSeq)) return;
        s.pipeline.restartAt(0);
        s.countResync();
      },
      location: s.location,
      ...(options.maxBlockLength ? { maxBlockLength: options.maxBlockLength } : {}),
    };
    return options.transport === 'ws'
      ? new WsBlockSource({
          ...events,
          answerTimeoutMs: s.answerTimeoutMs,
          ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
        })
      : new HttpBlockSource({ ...events, fetch: (input, init) => s.fetch(input, init) });
  }

  get state(): PlayerState {
    return this.#s.machine.state;
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
    s.countRequest();
    const index = await fetchIndex(s.location, s.fetch);
    s.sawLiveEdge(index.block_count);
    if (index.interrupted !== undefined) s.sawInterrupted(index.interrupted);
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
    this.#s.pipeline.dropQueued();
    this.#leg?.abort(new LegAborted('seek'));
  }

  stop(): void {
    this.#s.requestStop();
    this.#leg?.abort(new LegAborted('stop'));
  }

  /**
   * Ends playback with `error` (made fatal): for a check the player cannot make itself, such as
   * a block that fails the sender's checkpoint (docs/matrix.md), found after it was read.
   */
  fail(error: PlayerError): void {
    this.#failure ??= error;
    this.#leg?.abort(new LegAborted('stop'));
  }

  async #main(from: PlayFrom): Promise<PlayerOutcome> {
    const s = this.#s;
    let outcome: PlayerOutcome;
    try {
      outcome = await this.#run(from);
    } catch (err) {
      const error = isPlayerError(err)
        ? new PlayerError(err.code, err.message, { fatal: true, ...err.details, cause: err })
        : new PlayerError('BAD_STREAM', (err as Error).message ?? String(err), {
            fatal: true,
            cause: err,
          });
      this.emit('error', error);
      outcome = { state: 'error', error };
    }
    await s.pipeline.close();
    s.machine.to(outcome.state);
    return outcome;
  }

  /**
   * The loop over legs: seeks, geometry fallbacks, header legs and reconnects each start a new
   * one, decided from how the last one ended (leg-runner.ts `LegEnd`). Throws only a fatal error.
   */
  async #run(initial: PlayFrom): Promise<PlayerOutcome> {
    const s = this.#s;
    s.machine.to('connecting');
    const keys = s.options.keys;
    if (keys) {
      // Epochs: a ScheduleCipher the authenticator keeps in step with the key source.
      const keyWaitMs = s.options.keyWaitMs;
      s.begin(await createScheduleCipher(keys.epochs), {
        keys,
        ...(keyWaitMs !== undefined ? { keyWaitMs } : {}),
      });
    } else {
      s.begin(s.options.cipher ?? (await createBlockCipher(s.options.file as EncryptedFile)));
    }
    let from: PlayFrom = initial;
    let start: SourceStart = await s.planner.prepare(from);
    let attempt = 0;
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (s.stopped) return { state: 'stopped' };
      const leg = new AbortController();
      this.#leg = leg;
      if (this.#pendingJump) leg.abort(new LegAborted('seek'));
      // A connection silent mid-stream while the relay went on: a drop (stall-watch.ts).
      const watch = watchStall(s, leg, s.answerTimeoutMs);
      const end = await runLeg(
        s.source,
        start,
        leg,
        async (block) => {
          watch.arrived();
          try {
            return await s.pipeline.handle(block);
          } finally {
            watch.handled();
          }
        },
        () => (attempt = 0),
      ).finally(() => watch.stop());
      if (this.#failure) throw this.#failure;
      if (s.stopped) return { state: 'stopped' };
      if (end.kind === 'over') return end.outcome;
      if (end.kind === 'misaligned') {
        // The geometry's arithmetic did not hold (sizes vary): bisect on granules instead.
        s.planner.blockSizesVary();
        start = await s.planner.prepare(from);
        continue;
      }
      // A seek() wins over however the leg ended (it may have cut a request short).
      const userSeek = this.#pendingJump;
      if (userSeek || end.kind === 'jump' || end.kind === 'aborted') {
        this.#pendingJump = undefined;
        if (userSeek) from = userSeek;
        else if (end.kind === 'jump') from = end.from;
        if (userSeek) s.machine.to('seeking');
        s.pipeline.resetOutput();
        start = await s.planner.prepare(from);
        continue;
      }
      if (end.kind === 'source-ended') {
        if (end.end.kind === 'range-done') {
          // A bounded header leg: go on where the caller wanted.
          start = await s.planner.prepare(from);
          continue;
        }
        // The stream ended cleanly without an EOS page: really over, or a relay restart?
        const resume = await resumePoint(s, 'stream ended without EOS', ++attempt, end.end);
        if ('outcome' in resume) return resume.outcome;
        start = resume.start;
        continue;
      }
      const err = end.error;
      if (!isPlayerError(err) || err.fatal) throw err;
      // A dropped connection: resume from the block after the last good one (no gap, no repeat).
      attempt++;
      if (attempt > (s.options.reconnectAttempts ?? 30)) {
        throw new PlayerError(
          'NETWORK',
          `gave up after ${attempt - 1} reconnect attempts: ${err.message}`,
          { fatal: true, ...err.details, cause: err },
        );
      }
      this.emit('error', err);
      const resume = await resumePoint(s, err.message, attempt);
      if ('outcome' in resume) return resume.outcome;
      start = resume.start;
    }
  }
}
