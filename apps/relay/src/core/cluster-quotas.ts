/**
 * Per-owner quotas across a cluster (docs/operations.md "Cluster"): pending, live and stored
 * media, and stored bytes, counted once for all nodes in the `mxcast-quotas` bucket
 * (storage/jetstream-quota-bucket.ts), each change a compare-and-set on the owner's entry, so two
 * nodes creating for one owner at once cannot both take the last slot. The node's own tallies
 * (user-quotas.ts) still run first; these are the ones that hold across nodes.
 *
 * Order: the counter moves before the media row does (a slot is reserved, then used), so a node
 * killed between the two leaves a count too high, never too low: the owner may be refused early,
 * never let past a limit. Such drift is repaired when it matters, at a refusal: pending and live
 * ids older than a write-through's retries are checked against their rows in `mxcast-media` (at
 * most the limit's number of reads) and dropped when the row says otherwise; the stored count is
 * recounted from the owner's rows (a scan of the bucket, at most once per RECOUNT_EVERY_MS per
 * owner and node), and so are the bytes. Both are written back only if the entry did not change
 * meanwhile.
 *
 * Bytes: a compare-and-set per block would cost more than the block's own append, so the node
 * uploading a live media takes BYTE_LEASE at a time (an eighth of what is left when that is less;
 * a block that does not fit is refused with what was stored before it kept) and
 * gives back what it did not use when the media completes or is cancelled. A lease taken by a
 * node that died, or by the node a capture moved away from, stays charged (at most one lease per
 * such upload) until the recount at the owner's next byte refusal.
 *
 * Upload connections (`maxLiveUploadsPerUser`) stay per node: they are a node's sockets.
 */
import type { JetStreamMediaStorage } from '../storage/jetstream-media-storage.ts';
import type { QuotaDoc } from '../storage/jetstream-quota-bucket.ts';
import type { RelayLimits } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import { bytesQuotaError, countQuotaError, type QuotaLimit } from './user-quotas.ts';

/** An entry younger than this may still be on its way to its row (a write-through retries 20 s). */
const SETTLE_MS = 30_000;
/** A refused owner's pending and live sets are checked against their rows at most this often. */
const REPAIR_EVERY_MS = 10_000;
/** A refused owner's stored count is recounted from the media bucket at most this often. */
const RECOUNT_EVERY_MS = 10 * 60_000;
/** Bytes a node takes ahead for a live media it uploads: one write of the owner's entry per MiB. */
export const BYTE_LEASE = 1024 * 1024;

type CountLimit = Exclude<QuotaLimit, 'maxStoredBytesPerUser'>;

const pendingCount = (doc: QuotaDoc, now: number): number =>
  Object.values(doc.pending).filter(([expires]) => expires >= now).length;

/** Drops pending ids past their expiry: they count no more, and the entry stays small. */
function prune(doc: QuotaDoc, now: number): void {
  for (const [id, [expires]] of Object.entries(doc.pending))
    if (expires < now) delete doc.pending[id];
}

export class ClusterQuotas {
  private readonly repairedAt = new Map<string, number>();
  private readonly recountedAt = new Map<string, number>();
  /** Media this node uploads: the byte offset up to which it has charged their owner. */
  private readonly charged = new Map<string, number>();

  constructor(
    private readonly limits: RelayLimits,
    private readonly onRefusal: (key: QuotaLimit) => void,
    /** BYTE_LEASE, smaller in tests. */
    private readonly byteLease = BYTE_LEASE,
  ) {}

  /** Before a create's row is written: reserves a pending slot for `id`, or throws 429. */
  async reservePending(
    s: JetStreamMediaStorage,
    owner: string,
    id: string,
    expiresAt: number,
  ): Promise<void> {
    await this.checked(s, owner, (doc, now) => {
      prune(doc, now);
      if (doc.pending[id] || doc.live[id] !== undefined) return false; // a retried write-through
      this.refuseAt(
        doc,
        'maxPendingMediaPerUser',
        pendingCount(doc, now),
        'media created and not used yet',
      );
      this.refuseAt(doc, 'maxStoredMediaPerUser', doc.stored, 'media stored');
      doc.pending[id] = [expiresAt, now];
      return true;
    });
  }

  /** Before a pending media's first block reaches the cluster: pending → live, stored + 1, or 429. */
  async turnLive(s: JetStreamMediaStorage, owner: string, id: string): Promise<void> {
    await this.checked(s, owner, (doc, now) => {
      prune(doc, now);
      if (doc.live[id] !== undefined) return false;
      this.refuseAt(doc, 'maxLiveMediaPerUser', Object.keys(doc.live).length, 'media live');
      this.refuseAt(doc, 'maxStoredMediaPerUser', doc.stored, 'media stored');
      delete doc.pending[id];
      doc.live[id] = now;
      doc.stored++;
      return true;
    });
  }

  /**
   * Before a block ending at `end` (its offset `offset`) of the owner's media reaches the cluster:
   * charged already by this node's lease, or a new lease is taken, or 413 STORED_BYTES_QUOTA.
   */
  async chargeBytes(
    s: JetStreamMediaStorage,
    owner: string,
    id: string,
    offset: number,
    end: number,
  ): Promise<void> {
    // What came before this node's first block of the media was charged by whoever stored it;
    // the first block of all also carries the magic.
    const charged = this.charged.get(id) ?? (offset <= 4 ? 0 : offset);
    if (end <= charged) return;
    const need = end - charged;
    const limit = this.limits.maxStoredBytesPerUser;
    let grant = 0;
    await this.checked(s, owner, (doc) => {
      if (doc.bytes + need > limit)
        throw bytesQuotaError(`the block at ${offset}`, doc.bytes + need, limit);
      // Ahead of need by a lease, or by an eighth of what is left when that is less, so a node
      // near the limit does not sit on bytes another node's upload could use.
      const spare = Math.floor((limit - doc.bytes - need) / 8);
      grant = need + Math.min(Math.max(0, this.byteLease - need), spare);
      doc.bytes += grant;
      return true;
    });
    this.charged.set(id, charged + grant);
  }

  /**
   * A media completed or was cancelled (from `from`) with `length` bytes: no longer live or
   * pending; the lease this node took past `length` goes back.
   */
  async finished(
    s: JetStreamMediaStorage,
    owner: string,
    id: string,
    from: 'pending' | 'live',
    length: number,
  ): Promise<void> {
    const unused = Math.max(0, (this.charged.get(id) ?? length) - length);
    this.charged.delete(id);
    await s.quotas.change(owner, (doc) => {
      if (from === 'live') {
        if (doc.live[id] === undefined && unused === 0) return false;
        delete doc.live[id];
        doc.bytes = Math.max(0, doc.bytes - unused);
        return true;
      }
      // A pending media cancelled counts as stored (as on one relay), once: only if it was here.
      if (!doc.pending[id]) return false;
      delete doc.pending[id];
      doc.stored++;
      return true;
    });
  }

  /**
   * A media in `state` with `length` bytes stored was deleted (or its unused id expired). A live
   * one this node uploads frees its whole lease.
   */
  async removed(
    s: JetStreamMediaStorage,
    owner: string,
    id: string,
    state: string,
    length: number,
  ): Promise<void> {
    const bytes = Math.max(this.charged.get(id) ?? 0, length);
    this.charged.delete(id);
    await s.quotas.change(owner, (doc) => {
      const wasPending = doc.pending[id] !== undefined;
      delete doc.pending[id];
      delete doc.live[id];
      if (state === 'pending') return wasPending;
      doc.stored = Math.max(0, doc.stored - 1);
      doc.bytes = Math.max(0, doc.bytes - bytes);
      return true;
    });
  }

  /**
   * A compare-and-set change that may refuse; a refusal first repairs the owner's entry (rate
   * limited) and tries again, so a count left too high by a killed node refuses no one.
   */
  private async checked(
    s: JetStreamMediaStorage,
    owner: string,
    change: (doc: QuotaDoc, now: number) => boolean,
  ): Promise<void> {
    // Twice at most: a repair of one count can uncover another at its limit (pending ids of a
    // dead node dropped, then its stored count still too high).
    for (let repairs = 0; ; repairs++) {
      try {
        await s.quotas.change(owner, (doc) => change(doc, Date.now()));
        return;
      } catch (err) {
        if (!(err instanceof RelayError)) throw err;
        const limit = refusedLimit(err);
        if (repairs >= 2 || !(await this.repair(s, owner, limit))) {
          this.onRefusal(limit);
          throw err;
        }
      }
    }
  }

  private refuseAt(doc: QuotaDoc, key: CountLimit, n: number, what: string): void {
    const limit = this.limits[key];
    if (n >= limit) throw countQuotaError(key, n, what, limit);
  }

  /**
   * Checks the owner's entry against the media bucket; true when it changed something (worth
   * trying the refused change again).
   */
  private async repair(
    s: JetStreamMediaStorage,
    owner: string,
    limit: QuotaLimit,
  ): Promise<boolean> {
    const now = Date.now();
    const recount =
      (limit === 'maxStoredMediaPerUser' || limit === 'maxStoredBytesPerUser') &&
      due(this.recountedAt, owner, now, RECOUNT_EVERY_MS);
    if (!recount && !due(this.repairedAt, owner, now, REPAIR_EVERY_MS)) return false;
    const { doc, revision } = await s.quotas.read(owner);
    if (revision === 0) return false;
    let changed = false;
    const check = async (
      ids: [string, number][],
      state: 'pending' | 'live',
      set: Record<string, unknown>,
    ) => {
      for (const [id, since] of ids) {
        if (since > now - SETTLE_MS) continue;
        const row = await s.getMedia(id);
        if (!row || row.state !== state) {
          delete set[id];
          changed = true;
        }
      }
    };
    await check(
      Object.entries(doc.pending).map(([id, [, at]]) => [id, at]),
      'pending',
      doc.pending,
    );
    await check(Object.entries(doc.live), 'live', doc.live);
    if (recount) {
      const rows = await s.ownerRows(owner);
      // Live ids whose row still says pending are turning live now (the counter moves first).
      const moving = rows.filter(
        (r) => r.state === 'pending' && doc.live[r.media_id] !== undefined,
      );
      const stored = rows.filter((r) => r.state !== 'pending').length + moving.length;
      if (stored !== doc.stored) {
        doc.stored = stored;
        changed = true;
      }
      // Finished media by their length, live ones by what the stream holds, plus this node's
      // own leases ahead (other nodes' leases are not known here: they come back at their
      // completion, so the count may end a lease or two low for a while, never high).
      let bytes = 0;
      for (const r of rows) {
        if (r.state === 'complete' || r.state === 'cancelled') bytes += r.byte_length;
        else if (r.state === 'live')
          bytes += Math.max(await s.storedLength(r.media_id), this.charged.get(r.media_id) ?? 0);
      }
      if (bytes !== doc.bytes) {
        doc.bytes = bytes;
        changed = true;
      }
    }
    // Written only at the revision read before the checks: a change meanwhile wins.
    return changed && (await s.quotas.replace(owner, doc, revision));
  }
}

function refusedLimit(err: RelayError): QuotaLimit {
  const reason = err.fields['org.matrix.msc4016.reason'];
  if (reason === 'STORED_BYTES_QUOTA') return 'maxStoredBytesPerUser';
  if (reason === 'LIVE_MEDIA_QUOTA') return 'maxLiveMediaPerUser';
  if (reason === 'STORED_MEDIA_QUOTA') return 'maxStoredMediaPerUser';
  return 'maxPendingMediaPerUser';
}

/** True (and noted) when `owner` was last seen in `at` longer than `every` ago. */
function due(at: Map<string, number>, owner: string, now: number, every: number): boolean {
  const last = at.get(owner);
  if (last !== undefined && now - last < every) return false;
  if (at.size > 10_000) for (const [k, t] of at) if (now - t >= every) at.delete(k);
  at.set(owner, now);
  return true;
}
