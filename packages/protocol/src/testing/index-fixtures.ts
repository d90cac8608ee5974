/**
 * Test-only media indexes (docs/protocol.md "Index"), shared by the protocol's validator tests
 * and the player's index client tests. Never imported by the library.
 */
import type { MediaIndex } from '../media-index.ts';

/** A media created and not written yet: no bytes, no blocks, nothing learnt from a stream. */
export const EMPTY_INDEX: MediaIndex = {
  state: 'pending',
  byte_length: 0,
  block_count: 0,
  byte_order: null,
  header_end: null,
  block_size: null,
  first_offsets: [],
  geometry: null,
  sha256: null,
  listeners: 0,
  created_at: 1,
};
