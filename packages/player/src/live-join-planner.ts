/**
 * The live-join path (docs/player.md "Joining live"), once the header and the geometry are
 * known: over WebSocket `from=live` (any first seq allowed, the relay picks the edge); over
 * HTTP the relay's index gives `block_count`, and the player starts at the newest complete
 * block — where block sizes vary, a second index request says where that block starts. Index
 * requests are retried on transient failures (index-fetch-retry.ts). A key source that withholds
 * the edge's epoch (a `joined` newcomer) moves the start to the first block it can open, waited
 * for when not uploaded yet (live-key-start.ts).
 */
import type { SourceStart } from './block-source.ts';
import { liveStartSeq, waitForBlock, wsLiveStart } from './live-key-start.ts';
import type { PlayerSession } from './player-session.ts';
import { startAtBlock } from './seek-planner.ts';
import { FIRST_AUDIO_SEQ, type PlaybackGeometry } from './stream-geometry.ts';

export async function planLiveJoin(s: PlayerSession): Promise<SourceStart> {
  const g = s.pipeline.geometry as PlaybackGeometry;
  if (s.source.transport === 'ws') {
    s.auth.allowJump('any');
    s.pipeline.restartAt(0);
    return wsLiveStart(s);
  }
  let index = await s.fetchIndex();
  s.sawLiveEdge(index.block_count);
  const edge = Math.max(FIRST_AUDIO_SEQ, index.block_count - 1);
  const seq = await liveStartSeq(s, edge);
  if (seq > edge) index = await waitForBlock(s, seq, g.samplesPerBlock);
  s.auth.allowJump(seq);
  s.pipeline.restartAt(0);
  if (
    (index.block_size === null || s.planner.variableBlocks) &&
    index.block_count > FIRST_AUDIO_SEQ
  ) {
    // Sizes vary: the relay's index knows where the newest block starts.
    const at = await s.fetchIndex({ from: seq, count: 1 });
    const offset = at.offsets?.[0];
    if (offset !== undefined) return { kind: 'offset', offset, seq };
  }
  return startAtBlock(s, g, seq);
}
