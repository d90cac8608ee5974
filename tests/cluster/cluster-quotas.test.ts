/**
 * Per-owner quotas hold across the nodes of a real cluster (docs/operations.md "Cluster"): three
 * NATS servers and three `mxcast relay --cluster` nodes with small limits. A user at their
 * pending-media limit on node A is refused on B and C; two creates racing on A and B for the last
 * slot end with exactly one created; the live-media limit holds across nodes too, and deleting
 * media gives their slots back. Each refusal is the single relay's 429 with its reason.
 */
import { describe, expect, it } from 'vitest';
import { makeStream } from '../../apps/relay/src/testing/relay-fixture.ts';
import { clusterToken, useLoopbackCluster } from './cluster-harness.ts';
import {
  bearer,
  createMedia,
  getIndex,
  P,
  uploadUrl,
  type Media,
  type MatrixError,
} from './cluster-media.ts';

const MIB = 1024 * 1024;
const cluster = useLoopbackCluster({
  config: {
    limits: { maxPendingMediaPerUser: 2, maxLiveMediaPerUser: 1, maxStoredBytesPerUser: MIB },
  },
});

async function tryCreate(node: string, token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${node}/_matrix/media/v1/create`, {
    method: 'POST',
    headers: bearer(token),
  });
  return { status: res.status, body: await res.json() };
}

function expectQuota(r: { status: number; body: unknown }, reason: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(429);
  const err = r.body as MatrixError;
  expect(err.errcode).toBe('M_LIMIT_EXCEEDED');
  expect(err['org.matrix.msc4016.reason']).toBe(reason);
}

const mediaOf = (uri: string): Media => {
  const [server, id] = uri.slice('mxc://'.length).split('/') as [string, string];
  return { mxc: uri, server, id };
};

async function deleteMedia(node: string, token: string, m: Media): Promise<void> {
  const res = await fetch(`${node}${P}/media/${m.server}/${m.id}`, {
    method: 'DELETE',
    headers: bearer(token),
  });
  expect(res.status, await res.text()).toBeLessThan(300);
}

/** A tus PATCH of magic + blocks without Upload-Length: the media turns live and stays live. */
function patchLive(
  node: string,
  token: string,
  m: Media,
  body: Buffer = makeStream(3, 64).bytes,
): Promise<Response> {
  return fetch(`${node}${P}/tus/${m.server}/${m.id}`, {
    method: 'PATCH',
    headers: {
      ...bearer(token),
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
      'Upload-Offset': '0',
    },
    body: new Uint8Array(body),
  });
}

describe('per-owner quotas across cluster nodes', () => {
  it('stored bytes across nodes: 600 KB uploaded on A, a second upload on B is refused at the quota (413), the blocks that fit kept', async () => {
    const { nats, nodes } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const token = clusterToken(nats, '@bytes:localhost');
    const m1 = await createMedia(a, token);
    const m2 = await createMedia(a, token);
    const block = 60_000 + 16;
    const put = await fetch(uploadUrl(a, m1), {
      method: 'PUT',
      headers: bearer(token),
      body: new Uint8Array(makeStream(10, 60_000).bytes),
    });
    expect(put.status, await put.text()).toBe(200);
    const refused = await patchLive(b, token, m2, makeStream(10, 60_000).bytes);
    const err = (await refused.json()) as MatrixError;
    expect(refused.status, JSON.stringify(err)).toBe(413);
    expect(err.errcode).toBe('M_TOO_LARGE');
    expect(err['org.matrix.msc4016.reason']).toBe('STORED_BYTES_QUOTA');
    const kept = (await getIndex(c, m2)).byte_length;
    expect((kept - 4) % block).toBe(0); // whole blocks
    expect(kept).toBeGreaterThan(4);
    expect(kept).toBeLessThan(4 + 10 * block);
    const total = (await getIndex(c, m1)).byte_length + kept;
    // Up to the limit: m1 complete (its lease given back), m2's blocks until the next one did not fit.
    expect(total).toBeGreaterThan(MIB - block);
    expect(total).toBeLessThanOrEqual(MIB);
    expect((await getIndex(a, m2)).byte_length).toBe(kept);
  });

  it('a user at the pending-media limit on A is refused on B and C; a delete gives the slot back', async () => {
    const { nats, nodes } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const token = clusterToken(nats, '@pending:localhost');
    const first = await createMedia(a, token);
    await createMedia(a, token);
    expectQuota(await tryCreate(b, token), 'PENDING_MEDIA_QUOTA');
    expectQuota(await tryCreate(c, token), 'PENDING_MEDIA_QUOTA');
    expectQuota(await tryCreate(a, token), 'PENDING_MEDIA_QUOTA');
    // Deleted on C (a node that did not create it), the slot is free on B.
    await deleteMedia(c, token, first);
    await createMedia(b, token);
    expectQuota(await tryCreate(a, token), 'PENDING_MEDIA_QUOTA');
    const metrics = await (await fetch(`${b}/metrics`)).text();
    expect(metrics).toMatch(/maxPendingMediaPerUser/);
  });

  it('two creates racing on A and B for the last slot: exactly one is created (10 rounds)', async () => {
    const { nats, nodes } = cluster();
    const [a, b] = nodes.map((n) => n.url) as [string, string];
    const token = clusterToken(nats, '@racer:localhost');
    await createMedia(a, token);
    for (let round = 0; round < 10; round++) {
      const outcomes = await Promise.all([tryCreate(a, token), tryCreate(b, token)]);
      const won = outcomes.filter((o) => o.status === 200);
      expect(won, JSON.stringify(outcomes)).toHaveLength(1);
      expectQuota(
        outcomes.find((o) => o.status !== 200)!,
        'PENDING_MEDIA_QUOTA',
      );
      // The winner's id is known on every node; deleting it frees the slot for the next round.
      const winner = mediaOf((won[0]!.body as { content_uri: string }).content_uri);
      expect((await getIndex(nodes[2]!.url, winner)).state).toBe('pending');
      await deleteMedia(round % 2 ? a : b, token, winner);
    }
  });

  it('the live-media limit holds across nodes: live on A, a first block on B is refused and nothing of it stored', async () => {
    const { nats, nodes } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const token = clusterToken(nats, '@live:localhost');
    const m1 = await createMedia(a, token);
    const m2 = await createMedia(a, token);
    expect((await patchLive(a, token, m1)).status).toBe(204);
    const refused = await patchLive(b, token, m2);
    const err = (await refused.json()) as MatrixError;
    expect(refused.status, JSON.stringify(err)).toBe(429);
    expect(err['org.matrix.msc4016.reason']).toBe('LIVE_MEDIA_QUOTA');
    for (const node of [a, b, c]) {
      const idx = await getIndex(node, m2);
      expect([node, idx.state, idx.byte_length]).toEqual([node, 'pending', 0]);
    }
    // m1 deleted (on C): its live slot is free, and m2 goes live on B.
    await deleteMedia(c, token, m1);
    expect((await patchLive(b, token, m2)).status).toBe(204);
    expect((await getIndex(a, m2)).state).toBe('live');
  });
});
