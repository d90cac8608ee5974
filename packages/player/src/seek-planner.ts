/**
 * The seek path (docs/player.md "Seeking"): from a time, once the header and the geometry are
 * known, the block to start at — by the geometry's arithmetic (planSeek, one Range request), or
 * by bisecting on granules where block sizes vary (seek-bisection.ts) — with the authenticator
 * allowed exactly that one jump and the decoder told to drop audio before the target.
 */
import type { SourceStart } from './block-source.ts';
import type { PlayerSession } from './player-session.ts';
import { bisectSeek } from './seek-bisection.ts';
import { FIRST_AUDIO_SEQ, OPUS_RATE, planSeek, type PlaybackGeometry } from './stream-geometry.ts';

export async function planTimeSeek(s: PlayerSession, time: number): Promise<SourceStart> {
  const g = s.pipeline.geometry as PlaybackGeometry;
  const target = Math.round(time * OPUS_RATE);
  if (s.planner.variableBlocks && s.source.transport === 'http') return bisectTo(s, target);
  const plan = planSeek(g, target);
  s.auth.allowJump(plan.seq);
  s.pipeline.restartAt(target, target);
  return startAtBlock(s, g, plan.seq);
}

/**
 * Where block `seq` starts: over HTTP at `header_end + (seq − 2) × block_size` (docs/audio.md),
 * marked `computed` as sizes may vary; over WebSocket (or with no size) the seq is enough.
 */
export function startAtBlock(s: PlayerSession, g: PlaybackGeometry, seq: number): SourceStart {
  if (s.source.transport === 'ws' || g.blockSize === null)
    return { kind: 'offset', offset: -1, seq };
  const offset = g.headerEnd + (seq - FIRST_AUDIO_SEQ) * g.blockSize;
  return { kind: 'offset', offset, seq, computed: true };
}

/** Block sizes vary: find the start by bisecting on granules (seek-bisection.ts). */
async function bisectTo(s: PlayerSession, target: number): Promise<SourceStart> {
  // The probes decrypt with the session's cipher: bring it up to every key epoch known now.
  await s.auth.syncKeys();
  const found = await bisectSeek({
    location: s.location,
    cipher: s.cipher,
    fetch: s.fetch,
    geometry: s.pipeline.geometry as PlaybackGeometry,
    first: s.pipeline.firstAudio,
    target,
    ...(s.pipeline.byteOrder ? { byteOrder: s.pipeline.byteOrder } : {}),
    ...(s.options.maxBlockLength ? { maxBlockLength: s.options.maxBlockLength } : {}),
    onRequest: () => s.countRequest(),
    indexRetry: s.indexRetry(),
    onResync: (from, to) => {
      s.countResync();
      s.emit('resync', { from, to });
    },
  });
  s.auth.allowJump(found.seq);
  s.pipeline.restartAt(target, target);
  return { kind: 'offset', offset: found.offset, seq: found.seq };
}
