/**
 * Where the next leg starts for a "play from" (a time or the live edge): the header leg from
 * byte 0 while the header (or, without a declared geometry, the first audio block) is unknown,
 * else the live-join path (live-join-planner.ts) or the seek path (seek-planner.ts).
 *
 * The planner owns what the legs aim at: whether the player is following the live edge, the
 * target a header leg is reading towards, and whether block sizes turned out to vary (then time
 * seeks bisect on granules). Only this file writes them (docs/player.md "Who owns what").
 */
import type { SourceStart } from './block-source.ts';
import { planLiveJoin } from './live-join-planner.ts';
import { wsLiveStart } from './live-key-start.ts';
import type { PlayFrom } from './player-options.ts';
import type { PlayerSession } from './player-session.ts';
import { planTimeSeek } from './seek-planner.ts';
import { OPUS_RATE, planSeek } from './stream-geometry.ts';

export class LegPlanner {
  readonly #s: PlayerSession;
  #live = false;
  /** Set while a header leg runs: where the caller wanted to play from. */
  #headerLegFor: PlayFrom | undefined;
  #variableBlocks = false;

  constructor(session: PlayerSession) {
    this.#s = session;
  }

  /** The current target is the live edge (audio counts as `live`, not `playing`). */
  get live(): boolean {
    return this.#live;
  }

  /** Block sizes turned out to vary: time seeks bisect on granules. */
  get variableBlocks(): boolean {
    return this.#variableBlocks;
  }

  /** A computed offset did not frame as the block it should be (the source's MisalignedStart). */
  blockSizesVary(): void {
    this.#variableBlocks = true;
  }

  async prepare(from: PlayFrom): Promise<SourceStart> {
    const s = this.#s;
    this.#live = 'live' in from;
    if (!s.pipeline.header || !s.pipeline.geometry) {
      if ('live' in from && s.source.transport === 'ws') {
        // One socket: blocks 0 and 1 first (headers=1), then the live edge.
        this.#headerLegFor = undefined;
        s.pipeline.restartAt(0);
        return wsLiveStart(s);
      }
      // The header leg reads from byte 0 until the geometry is known, then continues if the
      // target is near, or leaves for one Range request to it (leaveHeaderLeg).
      this.#headerLegFor = from;
      s.auth.allowJump(0);
      s.pipeline.restartAt(targetSample(from));
      return { kind: 'offset', offset: 0, seq: 0 };
    }
    this.#headerLegFor = undefined;
    if ('live' in from) return planLiveJoin(s);
    return planTimeSeek(s, from.time);
  }

  /**
   * In a header leg, once the geometry is known (block `seq` taught it): the target to leave
   * for when it is more than a few blocks ahead — one Range request rather than reading
   * everything before it — else undefined (the leg goes on).
   */
  leaveHeaderLeg(seq: number): PlayFrom | undefined {
    const from = this.#headerLegFor;
    const g = this.#s.pipeline.geometry;
    if (!from || !g) return undefined;
    this.#headerLegFor = undefined;
    if ('live' in from) return from;
    const plan = planSeek(g, Math.round(from.time * OPUS_RATE));
    return plan.seq > seq + 4 ? from : undefined;
  }
}

/** Output sample the sink's audio starts at; a live header leg delivers nothing (it jumps to the edge). */
function targetSample(from: PlayFrom): number {
  return 'time' in from ? Math.round(from.time * OPUS_RATE) : Number.MAX_SAFE_INTEGER;
}
