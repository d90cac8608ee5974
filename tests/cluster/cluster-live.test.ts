/**
 * Any node takes any upload and serves any listener (docs/operations.md "Cluster"): three relay
 * nodes on a three-server JetStream cluster, on loopback. An upload to node A is heard live and
 * byte-identical on B and C over HTTP and WebSocket; Range and `from=<seq>` (the seek of the
 * protocol) answer the same on every node, live and complete; two uploaders racing for one media
 * on two nodes: exactly one wins, the other gets a Matrix error, the stored stream is whole.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAGIC } from '@mxcast/format';
import { makeStream, streamingPut } from '../../apps/relay/src/testing/relay-fixture.ts';
import { collect } from '../../apps/relay/src/testing/ws-collector.ts';
import { useLoopbackCluster, waitFor } from './cluster-harness.ts';
import {
  bearer,
  createMedia,
  download,
  getIndex,
  listenUrl,
  P,
  uploadUrl,
  type MatrixError,
} from './cluster-media.ts';

const cluster = useLoopbackCluster();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('a live upload on node A', () => {
  it('is heard live and byte-identical on B and C over HTTP and WebSocket; Range and from=<seq> agree on every node', async () => {
    const { nodes, token } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const m = await createMedia(a, token);
    const s = makeStream(60, 200);
    const put = streamingPut(uploadUrl(a, m), bearer(token));
    // The magic and two blocks first, so the listeners join a live media.
    put.push(s.bytes.subarray(0, s.offsets[2]));
    await waitForBlocks(b, m, 2);

    const ws = [b, c].map((node) => ({ node, l: collect(listenUrl(node, m, '?from=0')) }));
    const http = [b, c].map((node) => ({ node, body: download(node, m) }));
    await Promise.all(ws.map((w) => w.l.opened));

    // The rest paced, a block every 20 ms: the listeners are following a growing media.
    for (let i = 2; i < s.blocks.length; i++) {
      put.push(s.blocks[i] as Uint8Array);
      if (i === 30) {
        // Mid-broadcast, every node answers a closed Range inside what is stored with the
        // same bytes, and from=<seq> starts at that block.
        for (const node of [a, b, c]) {
          await waitForBlocks(node, m, 20);
          const r = await download(
            node,
            m,
            `bytes=${s.offsets[10]}-${(s.offsets[20] as number) - 1}`,
          );
          expect([node, r.status]).toEqual([node, 206]);
          expect(r.bytes.equals(s.bytes.subarray(s.offsets[10], s.offsets[20]))).toBe(true);
        }
      }
      await sleep(20);
    }
    put.end();
    const res = await put.response;
    expect(res.status, await res.clone().text()).toBe(200);

    for (const h of http) {
      const got = await h.body;
      expect([h.node, got.status]).toEqual([h.node, 200]);
      expect(got.bytes.equals(s.bytes), `HTTP on ${h.node}`).toBe(true);
    }
    for (const w of ws) {
      await Promise.race([w.l.closed, sleep(5000)]);
      w.l.ws.close();
      // Blocks only: the magic is the file's, not a block's.
      expect(
        Buffer.concat(w.l.blocks).equals(s.bytes.subarray(MAGIC.length)),
        `WS on ${w.node}`,
      ).toBe(true);
    }

    // Complete: the same index, Range and seek on every node.
    const indexes = await Promise.all([a, b, c].map((node) => getIndex(node, m)));
    for (const idx of indexes) {
      expect(idx.state).toBe('complete');
      expect(idx.byte_length).toBe(s.bytes.length);
      expect(idx.block_count).toBe(s.blocks.length);
      expect(idx.sha256).toBe(indexes[0]?.sha256);
    }
    for (const node of [a, b, c]) {
      const open = await download(node, m, `bytes=${s.offsets[45]}-`);
      expect([node, open.status]).toEqual([node, 206]);
      expect(open.bytes.equals(s.bytes.subarray(s.offsets[45]))).toBe(true);
      const seek = collect(listenUrl(node, m, '?from=50'));
      await seek.closed;
      expect(seek.blocks.length).toBe(10);
      expect(Buffer.concat(seek.blocks).equals(s.bytes.subarray(s.offsets[50]))).toBe(true);
    }
  });
});

describe('two uploaders racing for one media on two nodes', () => {
  it('exactly one wins, the other gets a Matrix error, the stored stream is whole and the same everywhere', async () => {
    const { nodes, token } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const m = await createMedia(a, token);
    // Two broadcasters' streams: the same geometry, other bytes (their own keys).
    const streams = [makeStream(40, 300), makeStream(40, 300)];
    const results = await Promise.all(
      [a, b].map(async (node, i) => {
        const res = await fetch(uploadUrl(node, m), {
          method: 'PUT',
          headers: bearer(token),
          body: new Uint8Array((streams[i] as (typeof streams)[0]).bytes),
        });
        const body = (await res.json()) as Partial<MatrixError>;
        return { node, status: res.status, body, bytes: (streams[i] as (typeof streams)[0]).bytes };
      }),
    );
    const winners = results.filter((r) => r.status === 200);
    const losers = results.filter((r) => r.status !== 200);
    expect(winners.length, JSON.stringify(results.map((r) => [r.status, r.body]))).toBe(1);
    expect(losers[0]?.status).toBeGreaterThanOrEqual(400);
    expect(losers[0]?.body.errcode).toMatch(/^M_[A-Z_]+$/);
    for (const node of [a, b, c]) {
      // A node other than the winner's learns the completion from the cluster within moments.
      await waitFor(
        `complete on ${node}`,
        5000,
        async () => (await getIndex(node, m)).state === 'complete',
      );
      const idx = await getIndex(node, m);
      expect([node, idx.state, idx.block_count]).toEqual([node, 'complete', 40]);
      const got = await download(node, m);
      expect(got.bytes.equals(winners[0]?.bytes as Buffer), `download on ${node}`).toBe(true);
    }
  });
});

describe('across nodes', () => {
  it('a WebSocket upload to a node that never saw the media is taken; a delete on another node empties every node', async () => {
    const { nodes, token } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    // Created on A, uploaded over WebSocket to B (which adopts it before the handshake).
    const m = await createMedia(a, token);
    const s = makeStream(20, 100);
    const wsUrl = `${b.replace(/^http/, 'ws')}${P}/upload/ws/${m.server}/${m.id}?access_token=${token}`;
    const up = new WebSocket(wsUrl);
    const answers: { type: string; errcode?: string }[] = [];
    up.on('message', (data) => answers.push(JSON.parse(String(data))));
    await new Promise<void>((resolve, reject) => {
      up.once('open', () => resolve());
      up.once('unexpected-response', (_req, res) =>
        reject(new Error(`WebSocket upload to ${b} refused: ${res.statusCode}`)),
      );
      up.once('error', reject);
    });
    up.send(s.bytes);
    up.send(JSON.stringify({ type: 'finish' }));
    await waitFor('complete answer', 10_000, () => answers.some((x) => x.type !== 'ack'));
    expect(answers.at(-1)?.type, JSON.stringify(answers.at(-1))).toBe('complete');
    up.close();
    for (const node of [a, b, c]) {
      const got = await download(node, m);
      expect([node, got.status]).toEqual([node, 200]);
      expect(got.bytes.equals(s.bytes), `download on ${node}`).toBe(true);
    }

    // Deleted on C: gone on A and B too (the media bucket's watch), not only on C.
    const del = await fetch(`${c}${P}/media/${m.server}/${m.id}`, {
      method: 'DELETE',
      headers: bearer(token),
    });
    expect(del.status, await del.clone().text()).toBeLessThan(300);
    for (const node of [a, b, c])
      await waitFor(
        `the media gone on ${node}`,
        5000,
        async () => (await download(node, m)).status === 404,
      );
  });
});

/** Waits until `node`'s index counts at least `count` blocks of `m`. */
async function waitForBlocks(
  node: string,
  m: Parameters<typeof getIndex>[1],
  count: number,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while ((await getIndex(node, m)).block_count < count) {
    if (Date.now() > deadline) throw new Error(`${node} never counted ${count} blocks`);
    await sleep(20);
  }
}
