/**
 * Seeking where block sizes vary (no constant geometry, constant blocks not kept): bisect the byte
 * range on granule positions. Each probe is one Range request at a byte offset that is usually
 * not a block boundary; the probe resyncs on the framing (registration code + CRC,
 * findBlockBoundary in packages/format), authenticates the block it finds and reads its
 * granule from the Ogg page inside. Granules only grow along a stream (RFC 7845 §4), so the
 * search narrows down to a block that ends at or before the wanted granule, a few blocks from
 * the last such; playback starts at the block after it (first sample at or before the wanted
 * one) and the decoder reads forward from there, discarding up to the target.
 */

/** An authenticated audio block a probe found. `granule` is its page's (end) granule. */
export interface ProbedBlock {
  seq: number;
  offset: number;
  size: number;
  granule: bigint;
}

export interface GranuleBisectOptions {
  /** The first authenticated audio block at or after `offset`, or null if there is none before the end. */
  probe(offset: number): Promise<ProbedBlock | null>;
  /** The first audio block (block 2). */
  first: ProbedBlock;
  /** Bytes the relay has (index `byte_length`). */
  endOffset: number;
  /** Playback must start at a block whose first sample is at or before this granule. */
  wantGranule: bigint;
  /** Safety bound on requests. Default 64. */
  maxProbes?: number;
  /**
   * Stop once the range left is this many bytes or less (default: 4 blocks the size of the last
   * one found): reading a few blocks forward is cheaper than bisecting down to the byte.
   */
  closeEnoughBytes?: number;
}

export interface BisectResult {
  seq: number;
  offset: number;
  probes: number;
}

export async function bisectGranule(options: GranuleBisectOptions): Promise<BisectResult> {
  const { first, wantGranule } = options;
  const max = options.maxProbes ?? 64;
  // Block 2 itself ends after the wanted granule: start there.
  if (first.granule > wantGranule) return { seq: first.seq, offset: first.offset, probes: 0 };
  let lo = first;
  let hi = options.endOffset;
  let probes = 0;
  // Invariant: lo ends at or before wantGranule; no block that starts at or after `hi` does.
  while (hi - (lo.offset + lo.size) > (options.closeEnoughBytes ?? 4 * lo.size) && probes < max) {
    const mid = Math.floor((lo.offset + lo.size + hi) / 2);
    const found = await options.probe(mid);
    probes++;
    if (!found || found.offset >= hi) hi = mid;
    else if (found.granule <= wantGranule) lo = found;
    else hi = mid;
  }
  return { seq: lo.seq + 1, offset: lo.offset + lo.size, probes };
}
