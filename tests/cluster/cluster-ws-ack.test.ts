/**
 * A WebSocket upload in cluster mode acks only what JetStream holds (docs/operations.md
 * "Cluster"), as an HTTP upload's answer does: node A is killed (`kill -9`) the moment an ack
 * arrives, while many blocks sent at once are still on their way; on node B the tus HEAD offset
 * is at least every acknowledged offset and at a block boundary, the upload continues there over
 * WebSocket and the stored stream equals what was sent.
 */
import { expect, it } from 'vitest';
import WebSocket from 'ws';
import { makeStream } from '../../apps/relay/src/testing/relay-fixture.ts';
import { useLoopbackCluster, waitFor } from './cluster-harness.ts';
import { bearer, createMedia, download, getIndex, P, type Media } from './cluster-media.ts';

const cluster = useLoopbackCluster({ relays: 2 });

interface Answer {
  type: string;
  offset?: number;
  blocks?: number;
  errcode?: string;
}

/** A WebSocket upload of `m` to `node` from `offset`, with every answer it gets. */
async function openUpload(node: string, m: Media, token: string, offset: number) {
  const url = `${node.replace(/^http/, 'ws')}${P}/upload/ws/${m.server}/${m.id}?offset=${offset}&access_token=${token}`;
  const ws = new WebSocket(url);
  const answers: Answer[] = [];
  ws.on('message', (data) => answers.push(JSON.parse(String(data)) as Answer));
  ws.on('error', () => {}); // the node is killed under it
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`WebSocket upload to ${node} refused: ${res.statusCode}`)),
    );
    ws.once('error', reject);
  });
  return { ws, answers };
}

it('a node killed right after a WebSocket ack loses nothing acknowledged; the upload continues on another node', async () => {
  const { nodes, token } = cluster();
  const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
  const m = await createMedia(a.url, token);
  const s = makeStream(200, 1000);
  const up = await openUpload(a.url, m, token, 0);
  let killed: Promise<void> | null = null;
  up.ws.on('message', () => {
    // Killed at the first ack past the header pages, synchronously: no later ack can arrive.
    if (!killed && up.answers.some((x) => x.type === 'ack' && (x.blocks ?? 0) >= 20))
      killed = a.kill('SIGKILL');
  });
  // Every block at once, one message each: acks that ran ahead of JetStream would show here.
  up.ws.send(Buffer.concat([s.bytes.subarray(0, s.offsets[0]), s.blocks[0]!]));
  for (const blk of s.blocks.slice(1)) up.ws.send(blk);
  await waitFor('an ack from A', 20_000, () => killed !== null);
  await killed;
  const acks = up.answers.filter((x) => x.type === 'ack');
  const ackedOffset = Math.max(...acks.map((x) => x.offset ?? 0));
  expect(ackedOffset).toBeGreaterThan(0);

  const h = { ...bearer(token), 'Tus-Resumable': '1.0.0' };
  const head = await fetch(`${b.url}${P}/tus/${m.server}/${m.id}`, { method: 'HEAD', headers: h });
  expect(head.status).toBe(200);
  const held = Number(head.headers.get('upload-offset'));
  expect(held).toBeGreaterThanOrEqual(ackedOffset); // nothing acknowledged is lost
  expect([...s.offsets, s.bytes.length]).toContain(held); // at a block boundary

  const rest = await openUpload(b.url, m, token, held);
  if (held < s.bytes.length) rest.ws.send(s.bytes.subarray(held));
  rest.ws.send(JSON.stringify({ type: 'finish' }));
  await waitFor('the complete answer on B', 20_000, () =>
    rest.answers.some((x) => x.type !== 'ack'),
  );
  expect(rest.answers.at(-1)?.type, JSON.stringify(rest.answers.at(-1))).toBe('complete');
  rest.ws.close();
  const got = await download(b.url, m);
  expect(got.status).toBe(200);
  expect(got.bytes.equals(s.bytes)).toBe(true);
  expect((await getIndex(b.url, m)).block_count).toBe(s.blocks.length);
});
