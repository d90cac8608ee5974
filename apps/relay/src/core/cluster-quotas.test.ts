/**
 * Cluster-wide per-owner quotas (cluster-quotas.ts over storage/jetstream-quota-bucket.ts) against
 * a real nats-server with JetStream on a free loopback port; two store handles play two relay
 * nodes. Races are real concurrent compare-and-sets; the repair reads real rows; the cost is
 * measured per reservation (client CPU, nats-server CPU, wall).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encodeBlock } from '@mxcast/format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../testing/nats-server-fixture.ts';
import { JetStreamMediaStorage } from '../storage/jetstream-media-storage.ts';
import type { MediaRow } from '../storage/media-storage.ts';
import { ClusterQuotas } from './cluster-quotas.ts';
import { newMediaId } from './media-id.ts';
import { DEFAULT_LIMITS } from './relay-config.ts';
import { RelayError } from './relay-error.ts';
import type { QuotaLimit } from './user-quotas.ts';

let nats: NatsServer;
let a: JetStreamMediaStorage;
let b: JetStreamMediaStorage;
beforeAll(async () => {
  nats = await startNatsServer();
  const options = { servers: [nats.url], maxBlockBytes: 64 * 1024 };
  a = await JetStreamMediaStorage.open(options);
  b = await JetStreamMediaStorage.open(options);
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await nats?.stop();
});

const limits = {
  ...DEFAULT_LIMITS,
  maxPendingMediaPerUser: 3,
  maxLiveMediaPerUser: 2,
  maxStoredMediaPerUser: 4,
};
let owners = 0;
const newOwner = () => `@quota${++owners}-${Date.now()}:localhost`;
const later = () => Date.now() + 60_000;

function quotas(): { q: ClusterQuotas; refused: QuotaLimit[] } {
  const refused: QuotaLimit[] = [];
  return { q: new ClusterQuotas(limits, (k) => refused.push(k)), refused };
}

function row(owner: string, id: string, state: MediaRow['state'] = 'pending'): MediaRow {
  const now = Date.now();
  return {
    media_id: id,
    owner,
    state,
    created_at: now,
    unused_expires_at: now + 60_000,
    first_byte_at: null,
    completed_at: null,
    byte_length: 0,
    block_count: 0,
    byte_order: null,
    geometry: null,
    sha256: null,
    upload_length: null,
    damage: null,
    block_runs: null,
  };
}

async function reason(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (err) {
    if (!(err instanceof RelayError)) throw err;
    expect(err.code).toBe('M_LIMIT_EXCEEDED');
    expect(err.status).toBe(429);
    return err.fields['org.matrix.msc4016.reason'] as string;
  }
}

describe('cluster quotas (real nats-server)', () => {
  it('pending slots are counted across nodes: 3 on A, the 4th refused on B', async () => {
    const { q, refused } = quotas();
    const owner = newOwner();
    for (let i = 0; i < 3; i++) await q.reservePending(a, owner, newMediaId(), later());
    expect(await reason(q.reservePending(b, owner, newMediaId(), later()))).toBe(
      'PENDING_MEDIA_QUOTA',
    );
    expect(refused).toEqual(['maxPendingMediaPerUser']);
    // A retried reservation of an id already counted is not a second slot.
    const { doc } = await a.quotas.read(owner);
    const first = Object.keys(doc.pending)[0] as string;
    await q.reservePending(b, owner, first, later());
    // An expired pending id stops counting without anyone writing.
    const other = newOwner();
    await q.reservePending(a, other, newMediaId(), Date.now() + 200);
    await q.reservePending(a, other, newMediaId(), later());
    await q.reservePending(a, other, newMediaId(), later());
    await new Promise((r) => setTimeout(r, 300));
    await q.reservePending(b, other, newMediaId(), later());
  });

  it('two nodes racing for the last pending slot: exactly one wins, every time (20 rounds)', async () => {
    const { q } = quotas();
    let lost = 0;
    for (let round = 0; round < 20; round++) {
      const owner = newOwner();
      await q.reservePending(a, owner, newMediaId(), later());
      await q.reservePending(a, owner, newMediaId(), later());
      const lostBefore = a.quotas.lostRaces + b.quotas.lostRaces;
      const outcomes = await Promise.all([
        reason(q.reservePending(a, owner, newMediaId(), later())),
        reason(q.reservePending(b, owner, newMediaId(), later())),
      ]);
      lost += a.quotas.lostRaces + b.quotas.lostRaces - lostBefore;
      expect(outcomes.filter((o) => o === null)).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'PENDING_MEDIA_QUOTA')).toHaveLength(1);
      expect(Object.keys((await a.quotas.read(owner)).doc.pending)).toHaveLength(3);
    }
    console.log(`racing reservations: ${lost} compare-and-set(s) lost and retried in 20 rounds`);
  });

  it('states move the counts: live and stored slots, completion, cancel, delete', async () => {
    const { q } = quotas();
    const owner = newOwner();
    const ids = [newMediaId(), newMediaId(), newMediaId()];
    for (const id of ids) await q.reservePending(a, owner, id, later());
    await q.turnLive(a, owner, ids[0] as string);
    await q.turnLive(b, owner, ids[1] as string);
    await q.turnLive(b, owner, ids[1] as string); // a retried write-through: counted once
    expect(await reason(q.turnLive(a, owner, ids[2] as string))).toBe('LIVE_MEDIA_QUOTA');
    let { doc } = await a.quotas.read(owner);
    expect(Object.keys(doc.live).sort()).toEqual([ids[0], ids[1]].sort());
    expect(Object.keys(doc.pending)).toEqual([ids[2]]);
    expect(doc.stored).toBe(2);
    await q.finished(b, owner, ids[0] as string, 'live', 0);
    await q.turnLive(a, owner, ids[2] as string);
    // A pending media cancelled counts as stored, as on one relay.
    const cancelled = newMediaId();
    await q.reservePending(a, owner, cancelled, later());
    await q.finished(a, owner, cancelled, 'pending', 0);
    ({ doc } = await a.quotas.read(owner));
    expect(doc.stored).toBe(4);
    // The rows agree (as the replica writes them), so the refusal's recount finds 4 too.
    await a.insertMedia({ ...row(owner, ids[0] as string), state: 'complete' });
    await a.insertMedia({ ...row(owner, ids[1] as string), state: 'live' });
    await a.insertMedia({ ...row(owner, ids[2] as string), state: 'live' });
    await a.insertMedia({ ...row(owner, cancelled), state: 'cancelled' });
    expect(await reason(q.reservePending(b, owner, newMediaId(), later()))).toBe(
      'STORED_MEDIA_QUOTA',
    );
    await q.removed(a, owner, ids[0] as string, 'complete', 0);
    await q.removed(a, owner, ids[1] as string, 'live', 0);
    ({ doc } = await a.quotas.read(owner));
    expect(doc.stored).toBe(2);
    expect(Object.keys(doc.live)).toEqual([ids[2]]);
    await q.reservePending(b, owner, newMediaId(), later());
  });

  it('a count left too high by a killed node is repaired at the refusal (pending, live, stored)', async () => {
    const { q, refused } = quotas();
    const owner = newOwner();
    const old = Date.now() - 120_000;
    // Slots reserved two minutes ago whose rows never got written (the node died in between),
    // a live media that completed without its counter moving, and a stored count 3 too high.
    const realLive = newMediaId();
    await a.insertMedia({ ...row(owner, realLive), state: 'complete' });
    const ghosts = [newMediaId(), newMediaId(), newMediaId()];
    const { revision } = await a.quotas.read(owner);
    const written = await a.quotas.replace(
      owner,
      {
        pending: Object.fromEntries(ghosts.map((id) => [id, [later(), old]])),
        live: { [realLive]: old },
        stored: 4,
        bytes: 0,
      },
      revision,
    );
    expect(written).toBe(true);
    // Pending at its limit: the ghosts are checked against their rows and dropped; then stored at
    // its limit (4, of which 1 is real) is recounted from the rows; the create passes.
    await q.reservePending(b, owner, newMediaId(), later());
    expect(refused).toEqual([]);
    const { doc } = await a.quotas.read(owner);
    expect(Object.keys(doc.pending)).toHaveLength(1);
    expect(doc.live).toEqual({});
    expect(doc.stored).toBe(1);
  });

  it('stored bytes across nodes: leases, a block past the quota refused (413), leases back at completion, bytes back at delete', async () => {
    const limit = 10_000;
    const lease = 1000;
    const byteLimits = { ...limits, maxStoredBytesPerUser: limit };
    const refusedA: QuotaLimit[] = [];
    const qa = new ClusterQuotas(byteLimits, (k) => refusedA.push(k), lease);
    const qb = new ClusterQuotas(byteLimits, () => undefined, lease);
    const owner = newOwner();
    const m1 = newMediaId();
    const m2 = newMediaId();
    await a.insertMedia({ ...row(owner, m1), state: 'live' });
    await a.insertMedia({ ...row(owner, m2), state: 'live' });
    const ends = { [m1]: 4, [m2]: 4 };
    const seqs = { [m1]: 0, [m2]: 0 };
    /** One 200-byte block of `id` through node `q`/`s`: charged, then appended for real. */
    const block = async (q: ClusterQuotas, s: JetStreamMediaStorage, id: string) => {
      const bytes = encodeBlock(seqs[id] as number, randomBytes(184));
      const offset = ends[id] as number;
      await q.chargeBytes(s, owner, id, offset, offset + bytes.length);
      await s.appendBlock(id, seqs[id] as number, offset, bytes);
      seqs[id] = (seqs[id] as number) + 1;
      ends[id] = offset + bytes.length;
    };
    // A lease covers the next blocks: one write of the owner's entry, not one per block.
    await block(qa, a, m1);
    const rev = (await a.quotas.read(owner)).revision;
    expect((await a.quotas.read(owner)).doc.bytes).toBe(lease);
    for (let i = 0; i < 3; i++) await block(qa, a, m1); // ends 404, 604, 804: within the lease
    expect((await a.quotas.read(owner)).revision).toBe(rev);
    await block(qb, b, m2);
    expect((await a.quotas.read(owner)).doc.bytes).toBe(2 * lease);
    // Both nodes upload until the quota refuses each of them.
    const outcome = async (q: ClusterQuotas, s: JetStreamMediaStorage, id: string) => {
      for (;;) {
        try {
          await block(q, s, id);
        } catch (err) {
          if (!(err instanceof RelayError)) throw err;
          expect(err.code).toBe('M_TOO_LARGE');
          expect(err.status).toBe(413);
          return err.fields['org.matrix.msc4016.reason'];
        }
      }
    };
    expect(await Promise.all([outcome(qa, a, m1), outcome(qb, b, m2)])).toEqual([
      'STORED_BYTES_QUOTA',
      'STORED_BYTES_QUOTA',
    ]);
    expect(refusedA).toContain('maxStoredBytesPerUser');
    const stored = (ends[m1] as number) + (ends[m2] as number);
    // The blocks that fit are kept; past the limit by at most one lease (a recount at a refusal
    // sees another node's unused lease only as its stored bytes). Near the limit leases shrink,
    // so there are more writes than leases of 1000, fewer than blocks.
    expect(stored).toBeLessThanOrEqual(limit + lease);
    expect(stored).toBeGreaterThan(limit - 2 * 200 - lease);
    expect(await a.storedLength(m1)).toBe(ends[m1]);
    // Completion gives back what the lease held past the media's length; deletes free the rest.
    const before = (await a.quotas.read(owner)).doc.bytes;
    await qa.finished(a, owner, m1, 'live', ends[m1] as number);
    const after = (await a.quotas.read(owner)).doc.bytes;
    expect(after).toBeLessThanOrEqual(before);
    await qa.removed(a, owner, m1, 'complete', ends[m1] as number);
    await qb.removed(b, owner, m2, 'live', await b.storedLength(m2));
    expect((await a.quotas.read(owner)).doc.bytes).toBe(0);
  });

  it('cost of a reservation on loopback (one nats-server): client CPU, server CPU, wall', async () => {
    const n = DEFAULT_LIMITS.maxPendingMediaPerUser;
    const big = new ClusterQuotas({ ...limits, maxPendingMediaPerUser: n }, () => undefined);
    const owner = newOwner();
    const serverCpu0 = procCpuMs(nats.process.pid ?? 0);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await big.reservePending(a, owner, newMediaId(), later());
    const wallUs = ((performance.now() - t0) * 1000) / n;
    const cpu = process.cpuUsage(cpu0);
    const clientUs = (cpu.user + cpu.system) / n;
    const serverUs = ((procCpuMs(nats.process.pid ?? 0) - serverCpu0) * 1000) / n;
    console.log(
      `quota reservation (pending entry ${n} ids at the end): wall ${wallUs.toFixed(0)} µs, client CPU ${clientUs.toFixed(0)} µs, nats-server CPU ${serverUs.toFixed(0)} µs per create; load ${readFileSync('/proc/loadavg', 'utf8').trim()}`,
    );
    expect(Object.keys((await a.quotas.read(owner)).doc.pending)).toHaveLength(n);
  });
});

/** utime + stime of a process from /proc/PID/stat, in ms (clock ticks are 100 Hz on Linux). */
function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
