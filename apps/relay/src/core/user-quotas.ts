/**
 * Per-user quotas (docs/operations.md "Configuration file"): media created and not yet used,
 * media live, media stored, bytes stored. Without them one token can reserve ids or fill the disk
 * for everyone.
 *
 * Counting is cheap: a user's counts (pending, live, stored) and stored bytes are in-memory
 * tallies, each seeded lazily by one query over the `media(owner, state, …)` index the first time
 * the user needs it, then advanced where the store changes them (a create, a first byte, a
 * block). Any other change to the user's media (completion, cancel, delete, expiry) drops the
 * tallies, re-seeded on next use, and every sweep drops them all (expired ids stop counting), so
 * they never drift for long and no request scans a table.
 *
 * In cluster mode these node-local tallies stay a first, cheap check; the counts that hold across
 * nodes (pending, live, stored media) are the cluster's, in JetStream (core/cluster-quotas.ts).
 */
import type { RelayDatabase } from '../storage/relay-database.ts';
import type { RelayLimits } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import type { RelayMetrics } from './relay-metrics.ts';

/** `org.matrix.msc4016.reason` of each quota refusal, by the limit refused. */
export const QUOTA_REASONS = {
  maxPendingMediaPerUser: 'PENDING_MEDIA_QUOTA',
  maxLiveMediaPerUser: 'LIVE_MEDIA_QUOTA',
  maxStoredMediaPerUser: 'STORED_MEDIA_QUOTA',
  maxStoredBytesPerUser: 'STORED_BYTES_QUOTA',
} as const;

export type QuotaLimit = keyof typeof QUOTA_REASONS;

/** The refusal of the byte quota (413 M_TOO_LARGE, STORED_BYTES_QUOTA), here and in a cluster. */
export function bytesQuotaError(what: string, total: number, limit: number): RelayError {
  return new RelayError(
    'M_TOO_LARGE',
    `${what} would make this user's stored bytes ${total}, over limits.maxStoredBytesPerUser = ${limit}`,
    { fields: { 'org.matrix.msc4016.reason': QUOTA_REASONS.maxStoredBytesPerUser } },
  );
}

/** The refusal of a count quota (429 M_LIMIT_EXCEEDED with its reason), here and in a cluster. */
export function countQuotaError(
  key: Exclude<QuotaLimit, 'maxStoredBytesPerUser'>,
  n: number,
  what: string,
  limit: number,
): RelayError {
  return new RelayError(
    'M_LIMIT_EXCEEDED',
    `this user has ${n} ${what}, the limit is limits.${key} = ${limit}`,
    { fields: { 'org.matrix.msc4016.reason': QUOTA_REASONS[key] } },
  );
}

interface Counts {
  pending: number;
  live: number;
  stored: number;
}

export class UserQuotas {
  /** Bytes stored per user, for users seen uploading since the last sweep. */
  private readonly bytes = new Map<string, number>();
  /** Unexpired pending, live and stored media per user, for users seen since the last sweep. */
  private readonly counts = new Map<string, Counts>();

  constructor(
    private readonly db: RelayDatabase,
    private readonly limits: RelayLimits,
    private readonly metrics: RelayMetrics,
    /**
     * Bytes of `owner`'s media appended but not yet in their rows (the group flush writes
     * byte_length later), so a seed from the database misses none.
     */
    private readonly unflushedBytes: (owner: string) => number,
  ) {}

  /** Before a create: the user's unexpired pending ids and stored media are under their quotas. */
  checkCreate(owner: string, now: number): void {
    const counts = this.countsOf(owner, now);
    this.refuseAtLimit('maxPendingMediaPerUser', counts.pending, 'media created and not used yet');
    this.refuseAtLimit('maxStoredMediaPerUser', counts.stored, 'media stored');
  }

  /** A create passed checkCreate and wrote its row. */
  created(owner: string): void {
    const counts = this.counts.get(owner);
    if (counts) counts.pending++;
  }

  /** Before a pending media's first byte makes it live (and stored). */
  checkFirstByte(owner: string, now: number): void {
    const counts = this.countsOf(owner, now);
    this.refuseAtLimit('maxLiveMediaPerUser', counts.live, 'media live');
    this.refuseAtLimit('maxStoredMediaPerUser', counts.stored, 'media stored');
  }

  /** A pending media got its first byte (after checkFirstByte). */
  turnedLive(owner: string): void {
    const counts = this.counts.get(owner);
    if (!counts) return;
    counts.pending = Math.max(0, counts.pending - 1);
    counts.live++;
    counts.stored++;
  }

  /** Before storing `more` bytes of the user's: throws M_TOO_LARGE past the byte quota. */
  checkBytes(owner: string, more: number, what: string): void {
    const limit = this.limits.maxStoredBytesPerUser;
    const stored = this.storedBytes(owner);
    if (stored + more > limit) {
      this.metrics.countQuotaRefusal('maxStoredBytesPerUser');
      throw bytesQuotaError(what, stored + more, limit);
    }
  }

  /** Bytes of the user's were stored (after checkBytes). */
  addBytes(owner: string, n: number): void {
    const stored = this.bytes.get(owner);
    if (stored !== undefined) this.bytes.set(owner, stored + n);
  }

  /** The user's media changed some other way (completed, cancelled, deleted): re-seed on next use. */
  invalidate(owner: string): void {
    this.bytes.delete(owner);
    this.counts.delete(owner);
  }

  /** Drops every tally (each is re-seeded from the database on its next use). */
  clear(): void {
    this.bytes.clear();
    this.counts.clear();
  }

  private countsOf(owner: string, now: number): Counts {
    let counts = this.counts.get(owner);
    if (!counts) {
      counts = this.db.ownerCounts(owner, now);
      this.counts.set(owner, counts);
    }
    return counts;
  }

  storedBytes(owner: string): number {
    let stored = this.bytes.get(owner);
    if (stored === undefined) {
      stored = this.db.ownerBytes(owner) + this.unflushedBytes(owner);
      this.bytes.set(owner, stored);
    }
    return stored;
  }

  private refuseAtLimit(
    key: Exclude<QuotaLimit, 'maxStoredBytesPerUser'>,
    n: number,
    what: string,
  ) {
    const limit = this.limits[key];
    if (n < limit) return;
    this.metrics.countQuotaRefusal(key);
    throw countQuotaError(key, n, what, limit);
  }

  /** Counts a refusal made by the cluster's counters (core/cluster-quotas.ts) in /metrics. */
  countRefusal(key: QuotaLimit): void {
    this.metrics.countQuotaRefusal(key);
  }
}
