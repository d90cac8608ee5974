/**
 * `mxcast relay --workers N` (docs/operations.md "Cluster", "Every core"): N relay processes
 * behind one port (node:cluster), each a node of the JetStream cluster. Connections are spread
 * over the workers, what was uploaded through them is served whole, and SIGTERM stops them all.
 * Embedded mode refuses it. After `kill -9` of a worker new connections are still answered and
 * the primary starts a replacement, which takes its share of new connections.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { collect } from '../../apps/relay/src/testing/ws-collector.ts';
import { makeStream, streamingPut } from '../../apps/relay/src/testing/relay-fixture.ts';
import { killAndWait, runMxcast, tempDir } from '../capture/capture-harness.ts';
import { startRelayNode, useLoopbackCluster, waitFor } from './cluster-harness.ts';
import { bearer, createMedia, download, listenUrl, uploadUrl } from './cluster-media.ts';

const cluster = useLoopbackCluster({ relays: 1 });

/** Pids of the relay processes that logged `start` (one per worker). */
function workerPids(stderr: string): number[] {
  return [...stderr.matchAll(/\bstart\b.*\bpid=(\d+)/g)].map((m) => Number(m[1]));
}

/** GET on a connection of its own (no keep-alive pool), resolving with the status. */
function freshStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent: false, timeout: 5000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('timeout', () => reject(new Error(`no answer from ${url} in 5 s`)))
      .on('error', reject);
  });
}

/** Sockets a process holds open (/proc/PID/fd links to `socket:[…]`). */
function sockets(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed meanwhile
    }
  }).length;
}

describe('relay --workers', () => {
  it('refuses more than one worker in embedded mode (one process owns relay.db and the files)', async () => {
    const run = runMxcast(['relay', '--workers', '2', '--port', '0', '--data', tempDir()]);
    const { code, stderr } = await run.done;
    expect(code).toBe(2);
    expect(stderr).toMatch(/--workers needs --cluster/);
  });

  it('two workers share one port: connections spread over both, a broadcast passes whole, SIGTERM stops all', async () => {
    const { nats, token } = cluster();
    const node = await startRelayNode(nats, 'W', { args: ['--workers', '2'] });
    try {
      await waitFor('two workers to start', 20_000, () => workerPids(node.stderr).length >= 2);
      const pids = workerPids(node.stderr);
      expect(new Set(pids).size).toBe(2);
      const before = pids.map(sockets);

      // Eight listeners on one media: round-robin hands each worker its share.
      const m = await createMedia(node.url, token);
      const s = makeStream(20, 100);
      // An upload left open, so the media stays live and its listeners stay connected.
      const put = streamingPut(uploadUrl(node.url, m), bearer(token));
      put.response.catch(() => undefined); // its worker may be the one killed below
      put.push(s.bytes.subarray(0, s.offsets[10]));
      const listeners = Array.from({ length: 8 }, () => collect(listenUrl(node.url, m, '?from=0')));
      await Promise.all(listeners.map((l) => l.opened));
      const gained = pids.map((pid, i) => sockets(pid) - (before[i] as number));
      for (const g of gained)
        expect(g, `sockets gained per worker: ${gained}`).toBeGreaterThanOrEqual(2);
      // Every listener, on either worker, hears the ten blocks live: they are stored.
      await waitFor('ten blocks at every listener', 10_000, () =>
        listeners.every((l) => l.blocks.length >= 10),
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${listeners.map((l) => l.blocks.length).join(' ')}`);
      });
      for (const l of listeners) l.ws.close();

      put.abort();
      const got = await download(node.url, m, `bytes=0-${(s.offsets[10] as number) - 1}`);
      expect(got.status, `Range after the aborted upload: ${got.bytes.length} bytes`).toBe(206);
      expect(
        got.bytes.equals(s.bytes.subarray(0, s.offsets[10])),
        `${got.bytes.length} bytes`,
      ).toBe(true);

      // Fresh connections (no keep-alive pool) go to either worker and are answered.
      for (let i = 0; i < 4; i++) expect(await freshStatus(`${node.url}/health`)).toBe(200);

      // kill -9 of one worker: new connections are still answered (the primary hands them to
      // the live worker), the primary starts a replacement, and the replacement takes its share.
      const victim = pids[0] as number;
      process.kill(victim, 'SIGKILL');
      await waitFor('the killed worker gone', 5000, () => {
        try {
          process.kill(victim, 0);
          return false;
        } catch {
          return true;
        }
      });
      for (let i = 0; i < 4; i++) expect(await freshStatus(`${node.url}/health`)).toBe(200);
      await waitFor('a replacement worker', 20_000, () => workerPids(node.stderr).length >= 3);
      expect(node.stderr).toMatch(new RegExp(`worker ${victim} exited \\(SIGKILL\\)`));
      const replacement = workerPids(node.stderr).at(-1) as number;
      expect(pids).not.toContain(replacement);
      const idle = sockets(replacement);
      // In rounds of 6 (up to 5 s): its start line comes before it listens, and under load the
      // first round may all go to the live worker; it must then take its share of a later round.
      const held: ReturnType<typeof collect>[] = [];
      for (let round = 0; round < 10 && sockets(replacement) - idle < 2; round++) {
        if (round > 0) await new Promise((r) => setTimeout(r, 500));
        const batch = Array.from({ length: 6 }, () => collect(listenUrl(node.url, m, '?from=0')));
        await Promise.all(batch.map((l) => l.opened));
        held.push(...batch);
      }
      expect(sockets(replacement) - idle, 'sockets the replacement took').toBeGreaterThanOrEqual(2);
      for (const l of held) l.ws.close();

      const primary = node.child;
      await killAndWait(primary, 'SIGTERM');
      expect(primary.exitCode).toBe(0);
      for (const pid of workerPids(node.stderr)) {
        expect(() => process.kill(pid, 0), `worker ${pid} still running`).toThrow();
      }
    } finally {
      await node.kill('SIGKILL');
    }
  });
});
