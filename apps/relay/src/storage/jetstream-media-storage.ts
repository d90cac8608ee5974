/**
 * The storage contract (media-storage.ts) on NATS JetStream (docs/architecture.md "Storage contract
 * and JetStream mapping"), so relay nodes keep no media state of their own:
 * - blocks: one stream `MXCAST_BLOCKS`, subject `mxcast.blocks.<mediaId>`, one message per
 *   validated block (headers `Mxcast-Block` = index, `Mxcast-Offset` = byte offset). Exactly once
 *   and in order without locks of ours: `Nats-Msg-Id` = `<mediaId>.<index>` de-duplicates a
 *   retried publish, and `Nats-Expected-Last-Subject-Sequence` = the stream sequence of the
 *   media's previous block makes two racing appends of one index end with one stored, one refused.
 * - media rows: key-value bucket `mxcast-media` (key = media id, JSON row); state transitions are
 *   compare-and-set on the entry's revision.
 * - tokens: bucket `mxcast-tokens` (jetstream-token-bucket.ts).
 * The block index (index → stream sequence and byte offset) is node-local memory, rebuilt from
 * the messages' headers alone (a headers-only ordered consumer) on first use and extended by this
 * node's appends and tails, so reading block i is one direct get by stream sequence.
 */
import { connect, headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import {
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type StoredMsg,
} from '@nats-io/jetstream';
import { KvWatchInclude, Kvm, type KV } from '@nats-io/kv';
import type {
  AppendOutcome,
  BlockTail,
  MediaRow,
  MediaState,
  MediaStorage,
  MediaUpdate,
  StoredBlock,
  TokenRow,
} from './media-storage.ts';
import { StorageError } from './media-storage.ts';
import { JetStreamTokenBucket } from './jetstream-token-bucket.ts';
import { JetStreamQuotaBucket } from './jetstream-quota-bucket.ts';

export const BLOCK_STREAM = 'MXCAST_BLOCKS';
export const MEDIA_BUCKET = 'mxcast-media';
const BLOCK_HDR = 'Mxcast-Block';
const OFFSET_HDR = 'Mxcast-Offset';
/** JetStream's "wrong last sequence": an expected-last check (or a KV revision) lost a race. */
const WRONG_LAST_SEQUENCE = 10071;

export interface JetStreamStorageOptions {
  servers: string[];
  /** Stream and bucket replicas (Raft); default min(3, number of servers given). */
  replicas?: number;
  /** Largest block in bytes (header + ciphertext): the stream's max_msg_size. */
  maxBlockBytes: number;
  /** Media retention in ms (the stream's max_age); 0 keeps blocks until deleted. */
  maxAgeMs?: number;
}

/** A media's block index on this node. */
interface BlockIndex {
  seqs: number[];
  offsets: number[];
  /** End of the last block (0 before the first). */
  end: number;
}

const subject = (id: string): string => `mxcast.blocks.${id}`;

export class JetStreamMediaStorage implements MediaStorage {
  readonly kind = 'cluster' as const;
  private readonly indexes = new Map<string, BlockIndex>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly media: KV,
    private readonly tokens: JetStreamTokenBucket,
    /** Per-owner quota counters (bucket `mxcast-quotas`, jetstream-quota-bucket.ts). */
    readonly quotas: JetStreamQuotaBucket,
  ) {}

  /** Connects and creates the stream and buckets if they do not exist yet (idempotent). */
  static async open(options: JetStreamStorageOptions): Promise<JetStreamMediaStorage> {
    const nc = await connect({
      servers: options.servers,
      name: 'mxcast-relay',
      maxReconnectAttempts: -1,
    });
    try {
      const replicas = options.replicas ?? Math.min(3, options.servers.length);
      const jsm = await jetstreamManager(nc);
      const exists = await jsm.streams.info(BLOCK_STREAM).then(
        () => true,
        () => false,
      );
      if (!exists) {
        await jsm.streams.add({
          name: BLOCK_STREAM,
          subjects: ['mxcast.blocks.>'],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          discard: DiscardPolicy.Old,
          num_replicas: replicas,
          // A block is one message: one larger than the largest block is refused by the server too.
          max_msg_size: options.maxBlockBytes,
          max_age: (options.maxAgeMs ?? 0) * 1_000_000,
          duplicate_window: 120 * 1_000_000_000,
          // Direct gets can be answered by any replica, not only the stream leader.
          allow_direct: true,
        });
      }
      const kvm = new Kvm(nc);
      const media = await kvm.create(MEDIA_BUCKET, { replicas, history: 1 });
      const tokens = await JetStreamTokenBucket.open(nc, replicas);
      const quotas = await JetStreamQuotaBucket.open(nc, replicas);
      return new JetStreamMediaStorage(nc, jetstream(nc), jsm, media, tokens, quotas);
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  async insertMedia(row: MediaRow): Promise<void> {
    try {
      await this.media.create(row.media_id, JSON.stringify(row));
    } catch (err) {
      if (isWrongLast(err)) throw new StorageError('conflict', `media ${row.media_id} exists`);
      throw err;
    }
  }

  async getMedia(id: string): Promise<MediaRow | undefined> {
    const e = await this.media.get(id);
    return e && e.operation === 'PUT' ? e.json<MediaRow>() : undefined;
  }

  async updateMedia(id: string, expect: MediaState, fields: MediaUpdate): Promise<MediaRow> {
    // Compare-and-set on the revision; a lost race with the state unchanged (another field was
    // written) is retried on the new revision, one that changed the state is a conflict.
    for (;;) {
      const e = await this.media.get(id);
      if (!e || e.operation !== 'PUT') throw new StorageError('not_found', `no media ${id}`);
      const row = e.json<MediaRow>();
      if (row.state !== expect)
        throw new StorageError(
          'conflict',
          `media ${id} is ${row.state}, not ${expect}`,
          'STATE_CHANGED',
        );
      const next = { ...row, ...fields };
      try {
        // kv.update's write plus a message id of the base revision: before nats-server 2.9.21
        // the expected-sequence check of a replicated stream was a leader pre-check only, and
        // two moves from one revision could both be stored; the id is de-duplicated in flight,
        // so the second is a duplicate, retried on the new revision.
        const ack = await this.js.publish(`$KV.${MEDIA_BUCKET}.${id}`, JSON.stringify(next), {
          msgID: `${id}.${e.revision}`,
          expect: { lastSubjectSequence: e.revision },
        });
        if (!ack.duplicate) return next;
      } catch (err) {
        if (!isWrongLast(err)) throw err;
      }
    }
  }

  /**
   * Calls `onChange` for every later change of the media bucket (row, or undefined for a delete),
   * from whichever node made it: a KV watch (an ordered consumer the client recreates after a
   * server's loss), so a node learns of deletes and state changes without polling rows.
   */
  async watchMedia(
    onChange: (id: string, row: MediaRow | undefined) => void,
  ): Promise<{ stop(): void }> {
    const w = await this.media.watch({ include: KvWatchInclude.UpdatesOnly });
    void (async () => {
      for await (const e of w) {
        try {
          onChange(e.key, e.operation === 'PUT' ? e.json<MediaRow>() : undefined);
        } catch {
          // A bad row is not this watcher's to report; the next read of it fails loudly.
        }
      }
    })();
    return { stop: () => w.stop() };
  }

  /**
   * Every media row of `owner`: a scan of the whole bucket (one get per media), for the rare
   * recount of a quota counter (core/cluster-quotas.ts), never on a request's common path.
   */
  async ownerRows(owner: string): Promise<MediaRow[]> {
    const rows: MediaRow[] = [];
    for await (const key of await this.media.keys()) {
      const e = await this.media.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const row = e.json<MediaRow>();
      if (row.owner === owner) rows.push(row);
    }
    return rows;
  }

  async deleteMedia(id: string): Promise<void> {
    this.indexes.delete(id);
    await this.jsm.streams.purge(BLOCK_STREAM, { filter: subject(id) });
    await this.media.purge(id);
  }

  async appendBlock(
    id: string,
    index: number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<AppendOutcome> {
    let idx = await this.index(id);
    for (let attempt = 0; ; attempt++) {
      if (index < idx.seqs.length) return this.compareStored(id, index, offset, bytes);
      if (index > idx.seqs.length)
        throw conflict(id, index, `next block is ${idx.seqs.length}, not ${index}`);
      if (offset !== Math.max(idx.end, 4))
        throw conflict(id, index, `block ${index} at ${offset}, stored ${idx.end}`);
      try {
        const ack = await this.js.publish(subject(id), bytes, {
          msgID: `${id}.${index}`,
          expect: { lastSubjectSequence: idx.seqs.at(-1) ?? 0 },
          headers: blockHeaders(index, offset),
        });
        // A duplicate ack means a message with this id is stored: ours (a retry) or a racing
        // uploader's with other bytes; only the bytes can tell.
        if (ack.duplicate) {
          await this.refresh(id, idx);
          return this.compareStored(id, index, offset, bytes);
        }
        addToIndex(idx, index, ack.seq, offset, bytes.length);
        return 'stored';
      } catch (err) {
        // Another node appended since this node's index was built: catch up, decide again once.
        if (!isWrongLast(err) || attempt > 0) {
          if (isWrongLast(err)) throw conflict(id, index, 'another upload appended first');
          throw err;
        }
        idx = await this.refresh(id, idx);
      }
    }
  }

  /** Bytes stored of a media as the stream has them now (magic included; 0 before a block). */
  async storedLength(id: string): Promise<number> {
    return (await this.refresh(id, await this.index(id))).end;
  }

  async blockOffsets(id: string): Promise<number[]> {
    const idx = await this.refresh(id, await this.index(id));
    return [...idx.offsets];
  }

  async readBlock(id: string, index: number): Promise<StoredBlock | undefined> {
    let idx = await this.index(id);
    if (index >= idx.seqs.length) idx = await this.refresh(id, idx);
    const seq = idx.seqs[index];
    if (seq === undefined) return undefined;
    const m = await this.jsm.direct.getMessage(BLOCK_STREAM, { seq });
    if (!m) return undefined;
    return { index, offset: idx.offsets[index] as number, bytes: m.data };
  }

  /**
   * Block `index` by direct gets only (no consumer): by its stream sequence when this node's
   * index holds it, else the subject's next message after the last one indexed, so a catch-up
   * does not depend on a tail or an ordered consumer surviving a NATS server's loss. Undefined
   * when it is not stored (yet).
   */
  async readBlockDirect(id: string, index: number): Promise<StoredBlock | undefined> {
    const idx = await this.index(id);
    while (index >= idx.seqs.length) {
      const m = await this.jsm.direct.getMessage(BLOCK_STREAM, {
        seq: (idx.seqs.at(-1) ?? 0) + 1,
        next_by_subj: subject(id),
      });
      if (!m) return undefined;
      const before = idx.seqs.length;
      addToIndex(
        idx,
        Number(m.header.get(BLOCK_HDR)),
        m.seq,
        Number(m.header.get(OFFSET_HDR)),
        m.data.length,
      );
      if (idx.seqs.length === before) return undefined; // not the next block: a gap, give up
    }
    const m = await this.jsm.direct.getMessage(BLOCK_STREAM, { seq: idx.seqs[index] as number });
    if (!m) return undefined;
    return { index, offset: idx.offsets[index] as number, bytes: m.data };
  }

  async tail(
    id: string,
    fromIndex: number,
    onBlock: (block: StoredBlock) => void,
  ): Promise<BlockTail> {
    const idx = await this.refresh(id, await this.index(id));
    const start = idx.seqs[Math.min(fromIndex, idx.seqs.length - 1)];
    const consumer = await this.js.consumers.get(BLOCK_STREAM, {
      filter_subjects: subject(id),
      ...(start === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: start }),
    });
    const messages = await consumer.consume();
    let stopped = false;
    const done = (async () => {
      for await (const m of messages) {
        const index = Number(m.headers?.get(BLOCK_HDR));
        const offset = Number(m.headers?.get(OFFSET_HDR));
        addToIndex(idx, index, m.seq, offset, m.data.length);
        if (index >= fromIndex && !stopped) onBlock({ index, offset, bytes: m.data });
      }
    })();
    return {
      stop: async () => {
        if (stopped) return;
        stopped = true;
        await messages.close();
        await done.catch(() => undefined);
      },
    };
  }

  insertToken(tokenHash: string, userId: string, now: number): Promise<void> {
    return this.tokens.insert(tokenHash, userId, now);
  }

  tokenUser(tokenHash: string): Promise<string | undefined> {
    return this.tokens.user(tokenHash);
  }

  listTokens(): Promise<TokenRow[]> {
    return this.tokens.list();
  }

  deleteToken(tokenHash: string): Promise<boolean> {
    return this.tokens.delete(tokenHash);
  }

  async close(): Promise<void> {
    this.indexes.clear();
    await this.nc.drain();
  }

  /** The node's index of a media, built from the stream on first use. */
  private async index(id: string): Promise<BlockIndex> {
    const known = this.indexes.get(id);
    if (known) return known;
    const idx = await this.refresh(id, { seqs: [], offsets: [], end: 0 });
    this.indexes.set(id, idx);
    return idx;
  }

  /**
   * Extends an index with the blocks stored after its last one: one direct get of the subject's
   * last message tells whether there are any, then a headers-only ordered consumer reads them.
   */
  private async refresh(id: string, idx: BlockIndex): Promise<BlockIndex> {
    const last = await this.lastMessage(id);
    if (!last || last.seq === idx.seqs.at(-1)) return idx;
    const after = idx.seqs.at(-1);
    const consumer = await this.js.consumers.get(BLOCK_STREAM, {
      filter_subjects: subject(id),
      headers_only: true,
      ...(after === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: after + 1 }),
    });
    const messages = await consumer.consume();
    for await (const m of messages) {
      const size = Number(m.headers?.get('Nats-Msg-Size'));
      addToIndex(
        idx,
        Number(m.headers?.get(BLOCK_HDR)),
        m.seq,
        Number(m.headers?.get(OFFSET_HDR)),
        size,
      );
      if (m.seq >= last.seq) break;
    }
    await messages.close();
    return idx;
  }

  private async lastMessage(id: string): Promise<StoredMsg | null> {
    return this.jsm.direct.getMessage(BLOCK_STREAM, { last_by_subj: subject(id) });
  }

  private async compareStored(
    id: string,
    index: number,
    offset: number,
    bytes: Uint8Array,
  ): Promise<AppendOutcome> {
    const stored = await this.readBlock(id, index);
    if (stored && stored.offset === offset && Buffer.from(stored.bytes).equals(bytes))
      return 'duplicate';
    throw conflict(id, index, `block ${index} is stored with other bytes`);
  }
}

function blockHeaders(index: number, offset: number): MsgHdrs {
  const h = headers();
  h.set(BLOCK_HDR, String(index));
  h.set(OFFSET_HDR, String(offset));
  return h;
}

function addToIndex(
  idx: BlockIndex,
  index: number,
  seq: number,
  offset: number,
  length: number,
): void {
  if (index !== idx.seqs.length) return;
  idx.seqs.push(seq);
  idx.offsets.push(offset);
  idx.end = offset + length;
}

function isWrongLast(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === WRONG_LAST_SEQUENCE;
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}

function conflict(id: string, index: number, why: string): StorageError {
  return new StorageError('conflict', `media ${id} block ${index}: ${why}`, 'BLOCK_CONFLICT');
}
