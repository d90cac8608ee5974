/**
 * The storage contract: what the relay's core needs from wherever media are kept. Two
 * implementations run the same contract suite (media-storage.contract.test.ts, the way
 * tus-node-server runs one suite over every store): the embedded one (SQLite rows + append-only
 * files, embedded-media-storage.ts) and the cluster one (NATS JetStream: a block stream and
 * key-value buckets, jetstream-media-storage.ts). docs/architecture.md "Storage contract and
 * JetStream mapping" says how each operation maps onto each engine.
 *
 * Every call is async: the cluster store answers after a round trip to the engine (a publish ack,
 * a key-value revision), and the embedded one keeps the same shape so the core cannot tell which
 * one it has.
 */
import type { MediaRow, MediaState, TokenRow } from './relay-database.ts';

export type { MediaRow, MediaState, TokenRow };

/**
 * A refusal by the store, named so the core can map it to its Matrix error (storage sits below
 * core and cannot throw RelayError): `conflict` → 409 M_CONFLICT (reason in `reason`),
 * `not_found` → 404 M_NOT_FOUND, `unavailable` → the engine cannot be reached (503).
 */
export class StorageError extends Error {
  constructor(
    readonly kind: 'conflict' | 'not_found' | 'unavailable',
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = 'StorageError';
  }
}

/** A stored block: its index in the media (0 = first block), byte offset in the file, bytes. */
export interface StoredBlock {
  index: number;
  offset: number;
  /** The whole framed block (16-byte header + ciphertext), as the upload sent it. */
  bytes: Uint8Array;
}

/** What appendBlock did: stored the block, or found it already stored byte for byte (a retry). */
export type AppendOutcome = 'stored' | 'duplicate';

/** A live tail of one media's blocks; stop() ends it (idempotent). */
export interface BlockTail {
  stop(): Promise<void>;
}

/** The fields of a media row a state transition may change (never its id or owner). */
export type MediaUpdate = Partial<Omit<MediaRow, 'media_id' | 'owner' | 'created_at'>>;

export interface MediaStorage {
  /** `embedded` or `cluster`: for logs and /metrics only; the core never branches on it. */
  readonly kind: 'embedded' | 'cluster';

  /** Stores a new pending media row. Throws StorageError conflict if the id exists. */
  insertMedia(row: MediaRow): Promise<void>;
  getMedia(id: string): Promise<MediaRow | undefined>;
  /**
   * Applies `fields` if the stored state is still `expect` (compare-and-set: two nodes cannot
   * both move one media, e.g. both complete it); returns the new row. Throws StorageError
   * not_found when the media is gone and conflict when its state moved on.
   */
  updateMedia(id: string, expect: MediaState, fields: MediaUpdate): Promise<MediaRow>;
  /** Deletes the row and every stored block (idempotent). */
  deleteMedia(id: string): Promise<void>;

  /**
   * Appends the block `index` at byte `offset` (the first block at 4, after the MSC4016 magic),
   * exactly once and in order: `index` must be the next one. A retry of a stored block with the
   * same bytes is `duplicate` (nothing written); any other index, or other bytes at a stored
   * index (a racing uploader), is StorageError conflict (reason BLOCK_CONFLICT)
   * and writes nothing.
   */
  appendBlock(id: string, index: number, offset: number, bytes: Uint8Array): Promise<AppendOutcome>;
  /** The byte offset of every stored block, in order (the index downloads seek in). */
  blockOffsets(id: string): Promise<number[]>;
  /** One stored block by index (one read), or undefined past the end. */
  readBlock(id: string, index: number): Promise<StoredBlock | undefined>;
  /**
   * Calls `onBlock` with every block from `fromIndex` on, in order, then with each new one as it
   * is appended (by this process or, in a cluster, by any node), until stop().
   */
  tail(id: string, fromIndex: number, onBlock: (block: StoredBlock) => void): Promise<BlockTail>;

  insertToken(tokenHash: string, userId: string, now: number): Promise<void>;
  tokenUser(tokenHash: string): Promise<string | undefined>;
  listTokens(): Promise<TokenRow[]>;
  /** Deletes one token; true if it existed. */
  deleteToken(tokenHash: string): Promise<boolean>;

  close(): Promise<void>;
}
