/**
 * The in-memory state of one media while the relay knows it: its row's fields, where each block
 * starts, the running sha256, the open file and the live fan-out hub. The store (media-store.ts)
 * is the only writer; routes and listeners read it.
 */
import type { Hash } from 'node:crypto';
import type { ByteOrder } from '@mxcast/format';
import { MediaHub } from '../fanout/media-hub.ts';
import { ListenerTally, type ListenerKind } from './listener-tally.ts';
import type { MediaFile } from './media-file.ts';
import { OffsetList } from './offset-list.ts';
import type { MediaState } from './relay-database.ts';

/** The stream geometry a broadcaster may declare at create: the protocol's wire type. */
import type { DeclaredStreamGeometry, ListenMessage } from '@mxcast/protocol';

export class MediaRecord {
  state: MediaState = 'pending';
  firstByteAt: number | null = null;
  /** When the last block was stored by this process (core/live-idle-watch.ts); null before. */
  lastBlockAt: number | null = null;
  /** Live and its upload silent past limits.interruptedAfterMs (core/live-idle-watch.ts). */
  interrupted = false;
  completedAt: number | null = null;
  /** Stored bytes: magic + whole valid blocks (never a partial block). */
  byteLength = 0;
  byteOrder: ByteOrder | null = null;
  sha256: string | null = null;
  /** tus Upload-Length, once declared. */
  uploadLength: number | null = null;
  offsets = new OffsetList();
  hasher: Hash | null = null;
  file: MediaFile | null = null;
  readonly hub: MediaHub;
  /** The upload session currently writing (one at a time). */
  uploader: object | null = null;
  /** This media's listeners (live and catching up), counted with the relay's totals by join(). */
  private readonly tally = new ListenerTally();
  /** Called on every state change and on the first byte (waiters for timeout_ms). */
  readonly changeWaiters = new Set<() => void>();
  /** Last time a request looked this media up (evicting idle finished records). */
  lastAccess = Date.now();
  /** Whether the byte length changed since it was last written to the database. */
  dbDirty = false;
  /** What is wrong with the stored file (docs/operations.md "Damage and repair"); null if intact. */
  damage: string | null = null;
  /**
   * While a reloaded finished media's file is being checked (sha256, block index) off the event
   * loop: readers wait for it (MediaStore.requireReadable) so no unchecked byte is served as whole.
   */
  checking: Promise<void> | null = null;

  constructor(
    readonly id: string,
    readonly owner: string,
    readonly createdAt: number,
    readonly unusedExpiresAt: number,
    readonly geometry: DeclaredStreamGeometry | null,
    /** Listeners per event-loop turn of a fan-out (media-hub.ts); the default when omitted. */
    fanoutSliceSize?: number,
    /** The relay's listener totals (MediaStore), moved with this media's by join(). */
    private readonly totals: ListenerTally | null = null,
  ) {
    this.hub = new MediaHub(fanoutSliceSize);
  }

  get blockCount(): number {
    return this.offsets.length;
  }

  /** Listeners over WebSocket and HTTP (the owner's acknowledgement socket is not one). */
  get listeners(): number {
    return this.tally.listeners;
  }

  get wsListeners(): number {
    return this.tally.ws;
  }

  get httpListeners(): number {
    return this.tally.http;
  }

  /** The one place a listener is counted: here and in the relay's totals. Returns its leave. */
  join(kind: ListenerKind): () => void {
    return this.tally.join(kind, this.totals);
  }

  notifyChange(): void {
    const waiters = [...this.changeWaiters];
    this.changeWaiters.clear();
    for (const w of waiters) w();
    this.hub.status(this.statusMessage());
  }

  /** The listeners' `status` message (docs/protocol.md), built once for all of them. */
  statusMessage(): Buffer {
    const { state, listeners, blockCount } = this;
    const status = { type: 'status', state, listeners, block_count: blockCount } as const;
    // `interrupted` only while live (docs/protocol.md "Interrupted broadcasts").
    const message: ListenMessage =
      state === 'live' ? { ...status, interrupted: this.interrupted } : status;
    return Buffer.from(JSON.stringify(message));
  }
}
