/**
 * Cluster mode, first cut (docs/architecture.md "Storage contract and JetStream mapping"): the
 * node keeps running on its embedded store, which becomes a cache, and this class keeps it in
 * step with the cluster's JetStream store (storage/jetstream-media-storage.ts):
 * - what this node's uploads do (create, blocks, live/complete/cancel, delete) is written through
 *   to JetStream in order, one chain per media (blocks exactly once: Nats-Msg-Id and the
 *   expected last subject sequence);
 * - a media this node does not know is adopted on first request: its row from the media bucket,
 *   its stored blocks read into the local cache, then ONE tail per media feeds every later block
 *   through the local commit path, so the local hub fans it out to however many listeners; the
 *   media bucket is watched (and the row polled every 2 s, a fallback) to complete or cancel it
 *   here too;
 * - JetStream is the source of truth, the local copy a cache: the first request for a media in
 *   this process reconciles its local copy with the cluster (a copy that is ahead of the cluster,
 *   or finished differently, or whose media the cluster no longer has, is dropped and re-adopted),
 *   and a watch on the media bucket removes here a media another node deleted;
 * - a write-through that fails because the store cannot be reached (a NATS server's death and
 *   the Raft election after it) is retried for RETRY_FOR_MS; a retried publish of a block is a
 *   duplicate ack thanks to its Nats-Msg-Id, not a conflict. After that the request is answered
 *   503 (reason CLUSTER_UNAVAILABLE, Retry-After) and the local copy is dropped, so the client's
 *   retry resumes from what the cluster holds.
 * - per-owner quotas (pending, live, stored media, stored bytes) are the cluster's
 *   (cluster-quotas.ts): a create reserves its pending slot and a first block its live slot
 *   before the row moves, and each block is charged (by leases) before it is appended, in the
 *   media's write chain; a refusal drops the local copy and is what settled() throws (429/413).
 * Not done yet: the relay still needs its data dir.
 */
import type { FramedBlock } from '@mxcast/format';
import type { MediaRecord } from '../storage/media-record.ts';
import { JetStreamMediaStorage } from '../storage/jetstream-media-storage.ts';
import {
  StorageError,
  type BlockTail,
  type MediaRow,
  type MediaState,
  type MediaUpdate,
  type StoredBlock,
} from '../storage/media-storage.ts';
import type { RelayClusterConfig, RelayConfig } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import { ClusterQuotas } from './cluster-quotas.ts';
import type { QuotaLimit } from './user-quotas.ts';

/** How often an adopted unfinished media's row is read for a state change, ms: a fallback only,
 * the media bucket's watch (changedElsewhere) reports a completion or cancel at once. */
const STATE_POLL_MS = 2_000;
/** How long a write-through is retried while the store cannot be reached (a leader election
 * takes a few seconds on loopback; NATS's own election timeout is a few seconds too). */
const RETRY_FOR_MS = 20_000;
const RETRY_FIRST_MS = 100;
const RETRY_MAX_MS = 1_000;
/** How long a start waits for a reachable cluster's JetStream to become ready. */
const OPEN_RETRY_MS = 30_000;

/** 503 for a request whose data could not reach the cluster store (docs/protocol.md). */
export function clusterUnavailableError(what: string): RelayError {
  return new RelayError('M_UNKNOWN', `the cluster store cannot be reached: ${what}`, {
    status: 503,
    fields: { 'org.matrix.msc4016.reason': 'CLUSTER_UNAVAILABLE' },
    headers: { 'Retry-After': '1' },
  });
}

/**
 * Opens the cluster store. No server reachable (refused, unknown host) fails at once: the relay
 * refuses to start. Servers that answer but whose JetStream is not ready yet (a cluster starting
 * together with its relays: no meta leader, API timeouts) are tried again for OPEN_RETRY_MS.
 */
async function openStore(
  cluster: RelayClusterConfig,
  config: RelayConfig,
): Promise<JetStreamMediaStorage> {
  const until = Date.now() + OPEN_RETRY_MS;
  for (;;) {
    try {
      return await JetStreamMediaStorage.open({
        servers: cluster.servers,
        replicas: cluster.replicas,
        maxBlockBytes: config.limits.maxBlockLength + 16,
      });
    } catch (err) {
      const unreachable = /refused|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH/i.test(
        `${(err as Error).message} ${(err as { code?: string }).code ?? ''}`,
      );
      if (unreachable || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** `p`, or a rejection after `ms`. */
function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A failure a retry may cure: anything but the contract's own verdicts (conflict, not found). */
function retryable(err: unknown): boolean {
  return !(err instanceof StorageError && err.kind !== 'unavailable');
}

/** What the replica needs from the media store (implemented by MediaStore). */
export interface ReplicaHost {
  /** Inserts the local cache row of an adopted media (state pending, no bytes). */
  adoptRow(row: MediaRow): MediaRecord | undefined;
  /** Stores blocks that came from the cluster (not written back to it). */
  mirrorBlocks(rec: MediaRecord, blocks: FramedBlock[]): void;
  mirrorState(rec: MediaRecord, row: MediaRow): Promise<void>;
  /** This node's upload of `rec` lost a race in the cluster: its local copy is wrong, drop it. */
  lostRace(rec: MediaRecord): void;
  /** The local record of `id`, if this node has one (memory or its database). */
  localRecord(id: string): MediaRecord | undefined;
  /** Another node deleted the media: remove it here too (not written back). */
  removedElsewhere(rec: MediaRecord): void;
  log(line: string): void;
  /** The node's quota tallies: a refusal by the cluster's counters is counted in /metrics. */
  readonly quotas?: { countRefusal(key: QuotaLimit): void };
}

interface Adopted {
  tail: BlockTail | null;
  poll: NodeJS.Timeout | null;
}

export class ClusterReplica {
  readonly ready: Promise<JetStreamMediaStorage>;
  /** One write chain per media: its blocks and states reach JetStream in the order they happened. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly adopted = new Map<string, Adopted>();
  private readonly adopting = new Map<string, Promise<void>>();
  /** Set while the host applies a change that came from the cluster: not written back. */
  applying = false;
  private closed = false;
  /** Records whose upload here lost to another node's (JetStream refused a block as a conflict). */
  private readonly lost = new WeakSet<MediaRecord>();
  /** Races lost per media id: the routes' answer turns into 409 when it grew during a request. */
  private readonly racesLost = new Map<string, number>();
  /** Write-throughs given up per media id after RETRY_FOR_MS (the store unreachable). */
  private readonly failures = new Map<string, number>();
  /** Ids whose local copy is in step with the cluster in this process (created or reconciled). */
  private readonly synced = new Set<string>();
  private watch: { stop(): void } | null = null;
  /** Ids whose missing blocks a poll is reading directly (pollState). */
  private readonly catchingUp = new Set<string>();
  /** Per-owner media quotas counted in JetStream (cluster-quotas.ts). */
  private readonly quotas: ClusterQuotas;
  /** Quota refusals by media id, with when, not yet answered: settled() throws each once. */
  private readonly refusals = new Map<string, { err: RelayError; at: number }>();

  constructor(
    cluster: RelayClusterConfig,
    config: RelayConfig,
    private readonly host: ReplicaHost,
  ) {
    this.quotas = new ClusterQuotas(config.limits, (key) => host.quotas?.countRefusal(key));
    this.ready = openStore(cluster, config).catch((err: Error) => {
      throw new Error(
        `cluster: cannot open JetStream at ${cluster.servers.join(',')}: ${err.message}`,
      );
    });
    this.ready.catch((err: Error) => host.log(err.message));
    void this.ready.then(
      async (s) => {
        const w = await s.watchMedia((id, row) => this.changedElsewhere(id, row));
        if (this.closed) w.stop();
        else this.watch = w;
      },
      () => undefined,
    );
  }

  created(row: MediaRow): void {
    this.synced.add(row.media_id);
    this.chain(row.media_id, async (s, attempt) => {
      // The owner's pending slot first (a refusal writes no row), then the row.
      if (
        !(await this.quotaPassed(row.media_id, () =>
          this.quotas.reservePending(s, row.owner, row.media_id, row.unused_expires_at),
        ))
      )
        return;
      // A retried create whose first attempt was stored but not acknowledged finds its own row.
      await s.insertMedia(row).catch((err: unknown) => {
        if (!(attempt > 0 && err instanceof StorageError && err.kind === 'conflict')) throw err;
      });
    });
  }

  /** True while `id` is tailed from the cluster here (adopted, unfinished). */
  isFollowing(id: string): boolean {
    return this.adopted.get(id)?.tail != null;
  }

  /** True when `id`'s local copy was created or reconciled with the cluster in this process. */
  isSynced(id: string): boolean {
    return this.synced.has(id);
  }

  appended(rec: MediaRecord, blocks: readonly FramedBlock[]): void {
    if (this.applying || this.lost.has(rec)) return;
    const copies = blocks.map((b) => ({ seq: b.seq, offset: b.offset, bytes: b.bytes.slice() }));
    this.chain(
      rec.id,
      async (s) => {
        // After a lost race nothing more of this upload may reach the stream (its next block
        // could fit behind the winner's and mix two streams).
        for (const b of copies) {
          if (this.lost.has(rec)) return;
          // The owner's bytes across the cluster (a lease per MiB, cluster-quotas.ts); a block
          // past the quota is refused with what was stored before it kept.
          const end = b.offset + b.bytes.length;
          const charge = () => this.quotas.chargeBytes(s, rec.owner, rec.id, b.offset, end);
          if (!(await this.quotaPassed(rec.id, charge, rec))) return;
          await s.appendBlock(rec.id, b.seq, b.offset, b.bytes);
        }
      },
      rec,
    );
  }

  /** True once this node's upload of `rec` lost a race (its next block is refused with 409). */
  hasLost(rec: MediaRecord): boolean {
    return this.lost.has(rec);
  }

  racesLostOn(id: string): number {
    return this.racesLost.get(id) ?? 0;
  }

  /** Waits for every write chain running now (after a create: its row is in the bucket). */
  async settledAll(): Promise<void> {
    await Promise.all([...this.chains.values()]);
  }

  /**
   * Waits until everything this node wrote for `id` so far is in JetStream (or refused); throws
   * 503 when a write-through was given up meanwhile (the store unreachable for RETRY_FOR_MS).
   */
  async settled(id: string): Promise<void> {
    const failedBefore = this.failures.get(id) ?? 0;
    for (let p = this.chains.get(id); p; p = this.chains.get(id)) {
      await p;
      if (this.chains.get(id) === p) break;
    }
    // A refusal is answered once, to the request waiting now: the one whose create or upload
    // made it (its handler may have seen the dropped copy first and chosen another error).
    const refused = this.refusals.get(id);
    if (refused) {
      this.refusals.delete(id);
      throw refused.err;
    }
    if ((this.failures.get(id) ?? 0) > failedBefore)
      throw clusterUnavailableError(`media ${id} not stored`);
  }

  moved(rec: MediaRecord, expect: MediaState, fields: MediaUpdate): void {
    if (this.applying) return;
    if (this.lost.has(rec)) return;
    // Two racing uploads both turn a media live; the blocks decide which one wins, not this.
    // A retry whose first attempt was stored but not acknowledged finds the state moved: done.
    const benign = (err: unknown, attempt: number) =>
      err instanceof StorageError &&
      err.reason === 'STATE_CHANGED' &&
      (attempt > 0 || (expect === 'pending' && fields.state === 'live'));
    this.chain(
      rec.id,
      async (s, attempt) => {
        // A first block takes the owner's live slot before the row says live (cluster-quotas.ts).
        if (
          expect === 'pending' &&
          fields.state === 'live' &&
          !(await this.quotaPassed(rec.id, () => this.quotas.turnLive(s, rec.owner, rec.id), rec))
        )
          return;
        await s.updateMedia(rec.id, expect, fields).then(
          () => undefined,
          (err: unknown) => {
            if (!benign(err, attempt)) throw err;
          },
        );
        if (fields.state === 'complete' || fields.state === 'cancelled')
          await this.quotas.finished(
            s,
            rec.owner,
            rec.id,
            expect === 'pending' ? 'pending' : 'live',
            fields.byte_length ?? 0,
          );
      },
      rec,
    );
  }

  deleted(id: string): void {
    this.stopAdopted(id);
    this.synced.delete(id);
    if (this.applying) return;
    this.chain(id, async (s) => {
      const row = await s.getMedia(id);
      const finished = row?.state === 'complete' || row?.state === 'cancelled';
      const length = !row ? 0 : finished ? row.byte_length : await s.storedLength(id);
      await s.deleteMedia(id);
      if (row) await this.quotas.removed(s, row.owner, id, row.state, length);
    });
  }

  /**
   * Runs a quota step; false when it refused: the refusal is kept for settled(), and the media's
   * local copy goes (nothing of it reached the cluster: its row or its first block waited on this).
   */
  private async quotaPassed(
    id: string,
    step: () => Promise<void>,
    rec?: MediaRecord,
  ): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      if (!(err instanceof RelayError)) throw err;
      const now = Date.now();
      for (const [k, v] of this.refusals) if (now - v.at > 60_000) this.refusals.delete(k);
      this.refusals.set(id, { err, at: now });
      this.synced.delete(id);
      const local = rec ?? this.host.localRecord(id);
      if (local && !this.lost.has(local)) {
        this.lost.add(local);
        this.stopAdopted(id);
        this.applying = true;
        try {
          this.host.lostRace(local);
        } finally {
          this.applying = false;
        }
      }
      return false;
    }
  }

  /**
   * Makes `id` known locally if the cluster has it: row, stored blocks, then a tail and a state
   * poll. Concurrent requests for one id share one adoption.
   */
  adopt(id: string): Promise<void> {
    let p = this.adopting.get(id);
    if (!p) {
      p = this.doAdopt(id).finally(() => this.adopting.delete(id));
      this.adopting.set(id, p);
    }
    return p;
  }

  async tokenUser(tokenHash: string): Promise<string | undefined> {
    return (await this.ready).tokenUser(tokenHash);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watch?.stop();
    for (const id of [...this.adopted.keys()]) this.stopAdopted(id);
    await Promise.allSettled([...this.chains.values()]);
    const s = await this.ready.catch(() => null);
    await s?.close();
  }

  private async doAdopt(id: string): Promise<void> {
    const s = await this.ready;
    const row = await s.getMedia(id);
    if (this.closed) return;
    const local = this.host.localRecord(id);
    if (local && !(await this.inStep(s, local, row))) {
      this.host.log(
        `cluster: local copy of ${id} (${local.state}) differs from the cluster's: dropped`,
      );
      this.applying = true;
      try {
        if (row) this.host.lostRace(local);
        else this.host.removedElsewhere(local);
      } finally {
        this.applying = false;
      }
    }
    if (!row) return;
    const rec = this.host.adoptRow(row);
    if (!rec) return;
    const byteOrder = row.byte_order ?? 'be';
    const count = (await s.blockOffsets(id)).length;
    for (let i = rec.blockCount; i < count; i++) {
      const b = await s.readBlock(id, i);
      if (b) this.feed(rec, b, byteOrder);
    }
    this.stopAdopted(id);
    const entry: Adopted = { tail: null, poll: null };
    this.adopted.set(id, entry);
    if (row.state === 'live' || row.state === 'pending') {
      entry.tail = await s.tail(id, rec.blockCount, (b) => this.feed(rec, b, byteOrder));
      entry.poll = setInterval(() => void this.pollState(s, rec), STATE_POLL_MS);
      entry.poll.unref();
    }
    await this.pollState(s, rec);
    this.synced.add(id);
  }

  /**
   * Whether a local copy found on first request can be kept: the cluster has the media, and the
   * copy is not ahead of it (a node killed mid-upload may have stored a block the cluster never
   * got) nor finished differently. An unfinished copy whose last block sits where the cluster's
   * does is kept and completed from the stream (checked by offset, not bytes: a capture resends
   * the same ciphertext).
   */
  private async inStep(
    s: JetStreamMediaStorage,
    local: MediaRecord,
    row: MediaRow | undefined,
  ): Promise<boolean> {
    if (!row) return false;
    if (local.state === 'complete' || local.state === 'cancelled')
      return (
        local.state === row.state &&
        local.blockCount === row.block_count &&
        (row.state !== 'complete' || local.sha256 === row.sha256)
      );
    // This node's upload under way: its copy is what it wrote through.
    if (local.uploader !== null || local.blockCount === 0) return true;
    const offsets = await s.blockOffsets(local.id);
    const last = local.blockCount - 1;
    return last < offsets.length && offsets[last] === local.offsets.at(last);
  }

  /** The media bucket's watch: a delete by another node, or a state change of an adopted media. */
  private changedElsewhere(id: string, row: MediaRow | undefined): void {
    if (this.closed || (row && !this.adopted.has(id))) return;
    const rec = this.host.localRecord(id);
    if (!rec) return;
    if (!row) {
      this.stopAdopted(id);
      this.synced.delete(id);
      this.applying = true;
      try {
        this.host.removedElsewhere(rec);
      } finally {
        this.applying = false;
      }
      return;
    }
    if (this.adopted.has(id) && (row.state === 'complete' || row.state === 'cancelled'))
      void this.ready.then((s) => this.pollState(s, rec)).catch(() => undefined);
  }

  /** One block from the cluster into the local cache, if it is the next one (the tail also
   * brings back this node's own appends, which are stored already). */
  private feed(rec: MediaRecord, b: StoredBlock, byteOrder: 'be' | 'le'): void {
    if (b.index !== rec.blockCount) return;
    const framed: FramedBlock = {
      seq: b.index,
      offset: b.offset,
      length: b.bytes.length - 16,
      crc: 0,
      bytes: b.bytes,
      ciphertext: b.bytes.subarray(16),
      byteOrder,
    };
    this.applying = true;
    try {
      this.host.mirrorBlocks(rec, [framed]);
    } catch (err) {
      this.host.log(`cluster: block ${b.index} of ${rec.id} not stored here: ${String(err)}`);
    } finally {
      this.applying = false;
    }
  }

  private async pollState(s: JetStreamMediaStorage, rec: MediaRecord): Promise<void> {
    const row = await s.getMedia(rec.id).catch(() => undefined);
    if (!row) return;
    if (row.state === 'complete' || row.state === 'cancelled') {
      // Finish only once every block the row counts is here. The tail brings them; one that
      // stalled (its consumer lost with a NATS server, recreated late) is not waited for: the
      // missing blocks are read directly, by index, once per poll.
      if (row.state === 'complete' && rec.blockCount < row.block_count) {
        if (this.catchingUp.has(rec.id)) return;
        this.catchingUp.add(rec.id);
        try {
          const byteOrder = row.byte_order ?? 'be';
          // Direct gets only, each bounded: a consumer stuck after a server's loss must not
          // hold the catch-up (and with it the completion) forever.
          while (rec.blockCount < row.block_count && this.adopted.has(rec.id)) {
            const b = await bounded(s.readBlockDirect(rec.id, rec.blockCount), 5_000).catch(
              () => undefined,
            );
            if (!b) break;
            this.feed(rec, b, byteOrder);
          }
        } finally {
          this.catchingUp.delete(rec.id);
        }
        if (rec.blockCount < row.block_count) return;
      }
      this.stopAdopted(rec.id);
      if (rec.state === row.state) return;
      // Only the synchronous part runs flagged: the store writes its hooks before its first await,
      // and an upload's own hooks may run while the flush is awaited.
      this.applying = true;
      let done: Promise<void>;
      try {
        done = this.host.mirrorState(rec, row);
      } finally {
        this.applying = false;
      }
      await done;
    }
  }

  private stopAdopted(id: string): void {
    const a = this.adopted.get(id);
    if (!a) return;
    this.adopted.delete(id);
    if (a.poll) clearInterval(a.poll);
    void a.tail?.stop();
  }

  private chain(
    id: string,
    step: (s: JetStreamMediaStorage, attempt: number) => Promise<void>,
    rec?: MediaRecord,
  ): void {
    const prev = this.chains.get(id) ?? Promise.resolve();
    const next = prev
      // Nothing more of an upload that lost its race: a state move queued behind its refused
      // block (its completion) would overwrite the winner's.
      .then(async () => (rec && this.lost.has(rec) ? undefined : this.retried(id, step)))
      .catch((err: unknown) => {
        const what = err instanceof StorageError ? `${err.kind}: ${err.message}` : String(err);
        this.host.log(`cluster: write-through of ${id} failed (${what})`);
        if (retryable(err) && !this.closed) {
          // Given up: the local copy now holds what the cluster does not. Drop it, so the
          // client's retry (503) resumes from what the cluster holds.
          this.failures.set(id, (this.failures.get(id) ?? 0) + 1);
          this.synced.delete(id);
          this.stopAdopted(id);
          if (rec && !this.lost.has(rec)) {
            this.lost.add(rec);
            this.host.lostRace(rec);
          }
          return;
        }
        if (
          rec &&
          err instanceof StorageError &&
          err.reason === 'BLOCK_CONFLICT' &&
          !this.lost.has(rec)
        ) {
          this.lost.add(rec);
          this.racesLost.set(id, this.racesLostOn(id) + 1);
          this.stopAdopted(id);
          this.host.lostRace(rec);
        }
      });
    this.chains.set(id, next);
    void next.then(() => {
      if (this.chains.get(id) === next) this.chains.delete(id);
    });
  }

  /** One write-through step, again with backoff while the store cannot be reached. */
  private async retried(
    id: string,
    step: (s: JetStreamMediaStorage, attempt: number) => Promise<void>,
  ): Promise<void> {
    const s = await this.ready;
    const until = Date.now() + RETRY_FOR_MS;
    let wait = RETRY_FIRST_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await step(s, attempt);
      } catch (err) {
        if (!retryable(err) || this.closed || Date.now() + wait > until) throw err;
        if (attempt === 0)
          this.host.log(`cluster: write-through of ${id} retried (${(err as Error).message})`);
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, RETRY_MAX_MS);
      }
    }
  }
}
