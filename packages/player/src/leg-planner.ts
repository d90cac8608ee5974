/**
 * Where the next leg starts for a "play from" (a time or the live edge): the header leg from
 * byte 0 while the header (or, without a declared geometry, the first audio block) is unknown,
 * else the live-join path (live-join-planner.ts) or the seek path (seek-planner.ts).
 */
import type { SourceStart } from './block-source.ts';
import { Jump } from './leg-runner.ts';
import { planLiveJoin } from './live-join-planner.ts';
import type { PlayFrom } from './player-options.ts';
import type { PlayerSession } from './player-session.ts';
import { planTimeSeek } from './seek-planner.ts';
import { OPUS_RATE, planSeek } from './stream-geometry.ts';

export async function prepareLeg(s: PlayerSession, from: PlayFrom): Promise<SourceStart> {
  s.live = 'live' in from;
  if (!s.header || !s.geometry) {
    if ('live' in from && s.source.transport === 'ws') {
      // One socket: blocks 0 and 1 first (headers=1), then the live edge.
      s.headerLegFor = undefined;
      s.restartDecoder(0);
      return { kind: 'live' };
    }
    // The header leg reads from byte 0 until the geometry is known, then continues if the
    // target is near, or leaves for one Range request to it (checkHeaderLeg).
    s.headerLegFor = from;
    s.auth?.allowJump(0);
    s.restartDecoder(targetSample(from));
    return { kind: 'offset', offset: 0, seq: 0 };
  }
  s.headerLegFor = undefined;
  if ('live' in from) return planLiveJoin(s);
  return planTimeSeek(s, from.time);
}

/**
 * In a header leg, once the geometry is known: a target more than a few blocks ahead is
 * reached with one Range request rather than by reading everything before it.
 */
export function checkHeaderLeg(s: PlayerSession, seq: number): void {
  const from = s.headerLegFor;
  if (!from || !s.geometry) return;
  s.headerLegFor = undefined;
  if ('live' in from) throw new Jump(from);
  const plan = planSeek(s.geometry, Math.round(from.time * OPUS_RATE));
  if (plan.seq > seq + 4) throw new Jump(from);
}

/** Output sample the sink's audio starts at; a live header leg delivers nothing (it jumps to the edge). */
function targetSample(from: PlayFrom): number {
  return 'time' in from ? Math.round(from.time * OPUS_RATE) : Number.MAX_SAFE_INTEGER;
}
