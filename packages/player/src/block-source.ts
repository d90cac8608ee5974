/**
 * What the player reads blocks from. A source yields whole framed blocks (header + ciphertext,
 * not yet authenticated) from a starting point; the player does the rest (seq checks,
 * decryption, demux, decode). Two implementations: HTTP download with Range
 * (http-block-source.ts) and the relay's WebSocket (ws-block-source.ts).
 */
import type { ByteOrder } from '@mxcast/format';

export interface SourceBlock {
  seq: number;
  /** Byte offset of the block's header in the file; null when the transport does not say (WebSocket). */
  offset: number | null;
  /** Bytes on the wire: header + ciphertext. */
  size: number;
  ciphertext: Uint8Array;
  byteOrder: ByteOrder;
}

/** Where to start reading. */
export type SourceStart =
  /**
   * At a block boundary. `end` (exclusive) bounds the request (`Range: bytes=offset-(end-1)`).
   * `computed`: the offset came from arithmetic on a geometry that may not hold (not from a
   * block already framed), so bytes that do not frame there mean "misaligned", not tampering.
   */
  | { kind: 'offset'; offset: number; seq: number; end?: number; computed?: boolean }
  /**
   * The newest block onward (WebSocket `from=live&headers=1`, HTTP: index then Range); over
   * WebSocket with `fromSeq`, block `fromSeq` onward, which the relay waits for when it is not
   * uploaded yet (`from=<seq>&headers=1`: a live start at the listener's first key epoch,
   * live-key-start.ts).
   */
  | { kind: 'live'; fromSeq?: number };

/** Why a source's iteration stopped without an error. */
export type SourceEnd =
  /** The relay closed the stream normally: it says the media is complete (or cancelled). */
  | { kind: 'ended'; state: 'complete' | 'cancelled' | 'unknown' }
  /** A bounded request got every byte it asked for. */
  | { kind: 'range-done' };

export interface BlockSourceEvents {
  /** Counted for the status line and the seek benchmark (requests per seek). */
  onRequest?: () => void;
  /** The relay's view of the newest block (WS status, index), for the delay-behind-live readout. */
  onLiveEdge?: (blockCount: number) => void;
  /** The relay's `interrupted` flag (WS status, index), when it sends one. */
  onInterrupted?: (interrupted: boolean) => void;
  /**
   * The relay skipped a slow listener to the live edge (WS `skipped`): called in order with the
   * blocks (after those sent before it were yielded); may throw to end the stream.
   */
  onSkipped?: (toSeq: number) => void;
}

export interface BlockSource {
  readonly transport: 'http' | 'ws';
  blocks(start: SourceStart, signal: AbortSignal): AsyncGenerator<SourceBlock, SourceEnd>;
}

/**
 * A computed start offset was not the block the geometry promised (block sizes vary): the
 * player falls back to bisecting on granules. Never thrown for offsets of blocks already framed.
 */
export class MisalignedStart extends Error {
  override readonly name = 'MisalignedStart';
  constructor(
    readonly offset: number,
    readonly seq: number,
    reason: string,
  ) {
    super(`block ${seq} is not at byte ${offset}: ${reason}`);
  }
}
