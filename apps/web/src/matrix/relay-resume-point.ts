/**
 * Where a resumed room broadcast goes on when its saved state is behind the relay (docs/web.md
 * "Reload and resume"): the secret-storage copy is written every few seconds and the CLI's at its
 * checkpoint rhythm, so the relay's stored offset (tus HEAD) is often past the saved point and
 * past the few boundaries saved after it. room-broadcast-resume.ts tries the exact saved points
 * first (resume-points.ts), then these.
 */
import type { MediaClient } from '@mxcast/client';
import type { ResumePoint } from '../broadcast/resume-points.ts';
import type { WebResumeState } from '../broadcast/resume-store.ts';

/**
 * A state older than the relay's stored offset (the secret-storage copy is written every few
 * seconds, the CLI's at its checkpoint rhythm): audio blocks are CBR, all `block_size` bytes
 * (docs/format.md), each one Ogg page of `frames_per_block` frames, so the point after k more
 * blocks is the saved one moved by k. Only from a point past the two header pages, and only when
 * the relay's offset is a whole number of blocks further; else null.
 */
export function pointAfter(relayOffset: number, state: WebResumeState): ResumePoint | null {
  const g = state.geometry;
  const frameSamples = (g.sample_rate * g.frame_ms) / 1000;
  const from = [
    {
      nextSeq: state.nextSeq,
      offset: state.offset,
      serial: state.serial,
      pageSeq: state.pageSeq,
      granule: state.granule,
    },
    ...(state.ahead ?? []),
  ]
    .filter((p) => p.nextSeq >= 2 && p.offset <= relayOffset)
    .sort((a, b) => b.offset - a.offset)[0];
  if (!from || !(g.block_size > 0)) return null;
  const gap = relayOffset - from.offset;
  if (gap % g.block_size !== 0) return null;
  const k = gap / g.block_size;
  return {
    nextSeq: from.nextSeq + k,
    offset: relayOffset,
    serial: from.serial,
    pageSeq: from.pageSeq + k,
    granule: String(BigInt(from.granule) + BigInt(k * g.frames_per_block * frameSamples)),
  };
}

/**
 * The last resort, for a saved point still within the header pages (a backup stored before the
 * first audio block was acked): the relay's index counts the blocks it holds, and with every
 * audio block one page of `frames_per_block` frames the point after block n is seq n, page n,
 * granule (n − 2) blocks — the way `mxcast capture --resume` continues (docs/capture.md).
 */
export async function pointFromIndex(
  client: MediaClient,
  state: WebResumeState,
  offset: number,
): Promise<ResumePoint | null> {
  const index = await client.index(state.mxc).catch(() => null);
  if (!index || index.byte_length !== offset || index.block_count < 2) return null;
  const g = state.geometry;
  const perBlock = (g.frames_per_block * g.sample_rate * g.frame_ms) / 1000;
  return {
    nextSeq: index.block_count,
    offset,
    serial: state.serial,
    pageSeq: index.block_count,
    granule: String(BigInt(index.block_count - 2) * BigInt(perBlock)),
  };
}
