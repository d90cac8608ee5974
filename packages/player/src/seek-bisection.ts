/**
 * A time seek where block sizes vary: the relay's index bounds the bytes, probes (block-probe.ts:
 * Range + resync + authenticate) read granules, and granule-bisector.ts narrows down to a block
 * that starts at least the RFC 7845 §4.6 pre-roll before the target.
 */
import type { BlockCipher, ByteOrder } from '@mxcast/format';
import { probeBlock } from './block-probe.ts';
import { bisectGranule, type BisectResult, type ProbedBlock } from './granule-bisector.ts';
import { PlayerError } from './player-error.ts';
import { fetchIndexWithRetry, type IndexRetryOptions } from './index-fetch-retry.ts';
import type { MediaLocation } from './relay-index.ts';
import { PRE_ROLL_SAMPLES, type PlaybackGeometry } from './stream-geometry.ts';

export interface BisectSeekOptions {
  location: MediaLocation;
  cipher: BlockCipher;
  fetch: typeof fetch;
  geometry: PlaybackGeometry;
  /** Block 2 if already framed (saves a probe). */
  first: ProbedBlock | undefined;
  /** Output sample to play from. */
  target: number;
  byteOrder?: ByteOrder;
  maxBlockLength?: number;
  onRequest?: () => void;
  /** How the index request is retried on transient failures (its own onRequest is ignored). */
  indexRetry?: IndexRetryOptions;
  onResync?: (from: number, to: number) => void;
}

export async function bisectSeek(o: BisectSeekOptions): Promise<BisectResult> {
  const index = await fetchIndexWithRetry(o.location, o.fetch, {
    ...o.indexRetry,
    ...(o.onRequest ? { onRequest: o.onRequest } : {}),
  });
  const probe = (offset: number) =>
    probeBlock(offset, {
      location: o.location,
      cipher: o.cipher,
      fetch: o.fetch,
      ...(o.byteOrder ? { byteOrder: o.byteOrder } : {}),
      ...(o.maxBlockLength ? { maxBlockLength: o.maxBlockLength } : {}),
      ...(o.onRequest ? { onRequest: o.onRequest } : {}),
      ...(o.onResync ? { onResync: o.onResync } : {}),
    });
  const first = o.first ?? (await probe(o.geometry.headerEnd));
  if (!first)
    throw new PlayerError('BAD_REQUEST', 'the broadcast has no audio block yet', { fatal: false });
  const want = BigInt(Math.max(0, o.target + o.geometry.preSkip - PRE_ROLL_SAMPLES));
  return bisectGranule({ probe, first, endOffset: index.byte_length, wantGranule: want });
}
