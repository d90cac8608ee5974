/**
 * Per-owner quota counters of a cluster (docs/operations.md "Cluster"): the JetStream key-value
 * bucket `mxcast-quotas`, key = sha256 hex of the owner's user id, value = JSON `QuotaDoc`. Every
 * change is a compare-and-set on the entry's revision (create when absent, update at the revision
 * read), retried on a lost race, so two nodes changing one owner's counters at once never both
 * pass the same last slot, with no lock of ours.
 *
 * Pending and live media are kept as sets of media ids, not counts: adding or removing an id is
 * idempotent (a retried write-through cannot count twice), a pending id carries its expiry so an
 * id nobody used stops counting by itself, and the sets can be checked against the media bucket
 * (core/cluster-quotas.ts repairs them). Both are bounded by the limits they count.
 *
 * Why each write also carries `Nats-Msg-Id: <key>.<revision it was based on>`: before
 * nats-server 2.9.21 the expected-last-subject-sequence check of a replicated stream was only a
 * pre-check on the leader, outside Raft, so two writes based on the same revision arriving
 * together could both be stored (Debian ships 2.9.10, where the cluster test saw two creates pass
 * for the last slot). The stream's de-duplication marks a message id in flight before proposing
 * it, so the second write based on that revision is answered as a duplicate and not stored: the
 * writer treats it as a lost race.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiError, jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';

export const QUOTA_BUCKET = 'mxcast-quotas';
/** JetStream's "wrong last sequence": the revision moved under a compare-and-set. */
const WRONG_LAST_SEQUENCE = 10071;

export interface QuotaDoc {
  /** Pending media: id → [unused_expires_at, reserved_at] (ms). Expired ones do not count. */
  pending: Record<string, [number, number]>;
  /** Live media: id → when it turned live (ms). */
  live: Record<string, number>;
  /** Media stored (live, complete or cancelled) until deleted: a count (up to 10 000 by default). */
  stored: number;
  /**
   * Bytes charged: finished media's exact lengths, plus what uploading nodes took ahead for their
   * live media (a lease, so a node writes here once per lease, not once per block).
   */
  bytes: number;
}

export const emptyQuotaDoc = (): QuotaDoc => ({ pending: {}, live: {}, stored: 0, bytes: 0 });

export interface QuotaEntry {
  doc: QuotaDoc;
  /** 0 when the owner has no entry yet. */
  revision: number;
}

export const ownerKey = (owner: string): string => createHash('sha256').update(owner).digest('hex');

function isWrongLast(err: unknown): boolean {
  if (err instanceof JetStreamApiError) return err.code === WRONG_LAST_SEQUENCE;
  return err instanceof Error && /wrong last sequence|key exists/i.test(err.message);
}

export class JetStreamQuotaBucket {
  /** Compare-and-set attempts lost to another writer so far (a contention figure for tests). */
  lostRaces = 0;

  constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
  ) {}

  static async open(nc: NatsConnection, replicas: number): Promise<JetStreamQuotaBucket> {
    return new JetStreamQuotaBucket(
      await new Kvm(nc).create(QUOTA_BUCKET, { replicas, history: 1 }),
      jetstream(nc),
    );
  }

  async read(owner: string): Promise<QuotaEntry> {
    const e = await this.kv.get(ownerKey(owner));
    if (!e || e.operation !== 'PUT') return { doc: emptyQuotaDoc(), revision: 0 };
    return { doc: { ...emptyQuotaDoc(), ...e.json<Partial<QuotaDoc>>() }, revision: e.revision };
  }

  /**
   * Writes `doc` if the owner's entry is still at `revision` (0: absent); false when another
   * writer got there first.
   */
  async replace(owner: string, doc: QuotaDoc, revision: number): Promise<boolean> {
    const key = ownerKey(owner);
    try {
      // The bucket's own subject, as kv.update writes it, plus the message id (see above).
      const ack = await this.js.publish(`$KV.${QUOTA_BUCKET}.${key}`, JSON.stringify(doc), {
        msgID: `${key}.${revision}`,
        expect: { lastSubjectSequence: revision },
      });
      if (!ack.duplicate) return true;
      this.lostRaces++;
      return false;
    } catch (err) {
      if (!isWrongLast(err)) throw err;
      this.lostRaces++;
      return false;
    }
  }

  /**
   * Read, `change`, compare-and-set, again on a lost race. `change` gets a copy it may modify and
   * returns false for "nothing to write"; it may throw (a refusal), which ends the loop.
   */
  async change(owner: string, change: (doc: QuotaDoc) => boolean): Promise<QuotaDoc> {
    for (;;) {
      const { doc, revision } = await this.read(owner);
      if (!change(doc)) return doc;
      if (await this.replace(owner, doc, revision)) return doc;
    }
  }
}
