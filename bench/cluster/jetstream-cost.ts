/**
 * The JetStream write and read cost per block (docs/architecture.md "Storage contract and
 * JetStream mapping"), measured through the relay's own cluster store (JetStreamMediaStorage,
 * the code a relay node runs) against the bench's nats-server cluster: voice-sized blocks
 * appended one at a time (publish with `Nats-Msg-Id` and expected-last-subject-sequence, then the
 * ack: the stream's replicas have it), read back one direct get each by index, and read by one
 * live tail (an ordered consumer from block 0). Per block: wall µs, CPU µs of the process running
 * the store (this one: it does nothing else meanwhile) and CPU µs of all nats-server processes
 * together (/proc/PID/stat), less what they burn idle (Raft heartbeats) over the same time.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_LIMITS } from '@mxcast/relay';
import {
  BLOCK_STREAM,
  JetStreamMediaStorage,
} from '../../apps/relay/src/storage/jetstream-media-storage.ts';
import { cpuSeconds } from '../fanout/process-stats.ts';

/**
 * `upload`: not the store alone but a whole relay node taking a live upload (HTTP PUT, block
 * validation, local commit, append to JetStream) in the cluster delay row, per block sent.
 */
export type CostOperation = 'append' | 'read' | 'tail' | 'upload';

export interface CostRow {
  operation: CostOperation;
  blocks: number;
  blockBytes: number;
  replicas: number;
  wallUsPerBlock: number;
  relayCpuUsPerBlock: number;
  /** Every nats-server process together, their idle rate subtracted (not below 0). */
  natsCpuUsPerBlock: number;
}

export interface CostOptions {
  servers: string[];
  natsPids: number[];
  /** The replicas asked for, should this open create the stream. */
  replicas: number;
  /** A server's monitoring port, to read the stream's actual replica count from. */
  monitorPort: number;
  blocks: number;
  blockBytes: number;
}

export const natsCpuUs = (pids: number[]): number =>
  pids.reduce((sum, pid) => sum + cpuSeconds(pid), 0) * 1e6;

const ownCpuUs = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** Runs `work` and returns the per-block figures of it. */
async function measure(
  operation: CostOperation,
  options: CostOptions,
  idleNatsUsPerMs: number,
  work: () => Promise<void>,
): Promise<CostRow> {
  const nats0 = natsCpuUs(options.natsPids);
  const cpu0 = ownCpuUs();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const cpu = ownCpuUs() - cpu0;
  const nats = natsCpuUs(options.natsPids) - nats0 - idleNatsUsPerMs * wallMs;
  const n = options.blocks;
  return {
    operation,
    blocks: n,
    blockBytes: options.blockBytes,
    replicas: options.replicas,
    wallUsPerBlock: (wallMs * 1000) / n,
    relayCpuUsPerBlock: cpu / n,
    natsCpuUsPerBlock: Math.max(0, nats) / n,
  };
}

/** The nats-servers' CPU µs per wall ms while nobody uses them (heartbeats, timers). */
export async function idleRate(pids: number[], ms: number): Promise<number> {
  const c0 = natsCpuUs(pids);
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  return (natsCpuUs(pids) - c0) / (performance.now() - t0);
}

interface Jsz {
  account_details?: { stream_detail?: { name: string; config?: { num_replicas?: number } }[] }[];
}

/**
 * The block stream's replica count as the servers report it (`/jsz?streams=true&config=true`):
 * the stream may have been created before this run asked for any (by a relay node), so the
 * report says what it is, not what was asked.
 */
export async function streamReplicas(monitorPort: number, stream: string): Promise<number | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${monitorPort}/jsz?streams=true&config=true`, {
      signal: AbortSignal.timeout(5000),
    });
    const jsz = (await res.json()) as Jsz;
    for (const account of jsz.account_details ?? [])
      for (const d of account.stream_detail ?? [])
        if (d.name === stream) return d.config?.num_replicas ?? null;
    return null;
  } catch {
    return null;
  }
}

export async function measureJetStreamCost(options: CostOptions): Promise<CostRow[]> {
  const store = await JetStreamMediaStorage.open({
    servers: options.servers,
    replicas: options.replicas,
    // The relay's own stream shape (core/cluster-replica.ts), should this open create it.
    maxBlockBytes: DEFAULT_LIMITS.maxBlockLength + 16,
  });
  try {
    const block = (i: number): Uint8Array => {
      const b = randomBytes(options.blockBytes);
      b.writeUInt32BE(i, 4);
      return b;
    };
    const run = `bench${Date.now().toString(36)}`;
    // Warm-up on another media: connections, the stream's leader, the JIT.
    const warm = `${run}-warm`;
    for (let i = 0; i < 50; i++)
      await store.appendBlock(warm, i, 4 + i * options.blockBytes, block(i));
    for (let i = 0; i < 50; i++) await store.readBlock(warm, i);
    const idle = await idleRate(options.natsPids, 1000);
    const id = `${run}-cost`;
    const blocks = Array.from({ length: options.blocks }, (_, i) => block(i));
    const replicas = (await streamReplicas(options.monitorPort, BLOCK_STREAM)) ?? Number.NaN;
    const measured = { ...options, replicas };
    const rows: CostRow[] = [];
    rows.push(
      await measure('append', measured, idle, async () => {
        for (let i = 0; i < blocks.length; i++)
          await store.appendBlock(id, i, 4 + i * options.blockBytes, blocks[i] as Uint8Array);
      }),
    );
    rows.push(
      await measure('read', measured, idle, async () => {
        for (let i = 0; i < blocks.length; i++) {
          const got = await store.readBlock(id, i);
          if (!got || got.bytes.length !== options.blockBytes)
            throw new Error(`read of block ${i} came back ${got ? got.bytes.length : 'empty'}`);
        }
      }),
    );
    rows.push(
      await measure('tail', measured, idle, async () => {
        let seen = 0;
        let done: () => void = () => undefined;
        const all = new Promise<void>((r) => (done = r));
        const tail = await store.tail(id, 0, () => {
          if (++seen === blocks.length) done();
        });
        const timeout = setTimeout(() => done(), 60_000);
        await all;
        clearTimeout(timeout);
        await tail.stop();
        if (seen < blocks.length) throw new Error(`tail delivered ${seen} of ${blocks.length}`);
      }),
    );
    await store.deleteMedia(id);
    await store.deleteMedia(warm);
    return rows;
  } finally {
    await store.close();
  }
}
