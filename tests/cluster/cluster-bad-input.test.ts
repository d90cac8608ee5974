/**
 * The bad-input table (apps/relay/src/testing/bad-input-cases.ts, the same rows the embedded relay
 * is tested with) against node A of a relay cluster: each body gets its Matrix error, and the
 * valid blocks before the fault are stored, byte for byte, as every other node serves them. Plus
 * the owner and tus offset checks across nodes: the cluster, not one node, knows who owns a media
 * and where its upload stands.
 */
import { describe, expect, it } from 'vitest';
import {
  BAD_INPUT_MAX_BLOCK_LENGTH,
  blockCases,
  good,
} from '../../apps/relay/src/testing/bad-input-cases.ts';
import { clusterToken, useLoopbackCluster } from './cluster-harness.ts';
import {
  bearer,
  createMedia,
  download,
  getIndex,
  P,
  uploadUrl,
  type MatrixError,
} from './cluster-media.ts';

const cluster = useLoopbackCluster({
  config: { limits: { maxBlockLength: BAD_INPUT_MAX_BLOCK_LENGTH } },
});

describe('the bad-input table on a cluster node', () => {
  for (const c of blockCases) {
    it(`${c.name} → ${c.status} ${c.errcode} (${c.reason}), valid blocks before it kept on every node`, async () => {
      const { nodes, token } = cluster();
      const [a, b, cNode] = nodes.map((n) => n.url) as [string, string, string];
      const m = await createMedia(a, token);
      const res = await fetch(uploadUrl(a, m), {
        method: 'PUT',
        headers: bearer(token),
        body: new Uint8Array(c.body),
      });
      const err = (await res.json()) as MatrixError;
      expect(res.status).toBe(c.status);
      expect(err.errcode).toBe(c.errcode);
      expect(err['org.matrix.msc4016.reason']).toBe(c.reason);
      if (c.reason !== 'BAD_MAGIC') expect(err.error).toMatch(/block \d+ at offset \d+/);
      for (const node of [a, b, cNode]) {
        const idx = await getIndex(node, m);
        expect([node, idx.byte_length]).toEqual([node, c.kept.length]);
        if (c.kept.length === 0) {
          expect(idx.state).toBe('pending');
          continue;
        }
        expect(idx.state).toBe('live');
        const got = await download(node, m, `bytes=0-${c.kept.length - 1}`);
        expect(got.bytes.equals(c.kept), `bytes on ${node}`).toBe(true);
      }
    });
  }
});

describe('ownership and tus offsets across nodes', () => {
  it("another user's upload is 403 on any node; a tus PATCH at a stale offset is 409 on another node, bytes unchanged", async () => {
    const { nodes, token, nats } = cluster();
    const [a, b, c] = nodes.map((n) => n.url) as [string, string, string];
    const other = clusterToken(nats, '@other:localhost');
    const m = await createMedia(a, token);
    for (const node of [b, c]) {
      const res = await fetch(uploadUrl(node, m), {
        method: 'PUT',
        headers: bearer(other),
        body: new Uint8Array(good.bytes),
      });
      expect([node, res.status, ((await res.json()) as MatrixError).errcode]).toEqual([
        node,
        403,
        'M_FORBIDDEN',
      ]);
    }
    const tus = (node: string) => `${node}${P}/tus/${m.server}/${m.id}`;
    const h = {
      ...bearer(token),
      'Tus-Resumable': '1.0.0',
      'Content-Type': 'application/offset+octet-stream',
    };
    const first = await fetch(tus(a), {
      method: 'PATCH',
      headers: { ...h, 'Upload-Offset': '0' },
      body: new Uint8Array(good.bytes),
    });
    expect(first.status).toBe(204);
    const head = await fetch(tus(b), { method: 'HEAD', headers: h });
    expect(head.headers.get('upload-offset')).toBe(String(good.bytes.length));
    const stale = await fetch(tus(c), {
      method: 'PATCH',
      headers: { ...h, 'Upload-Offset': '0' },
      body: new Uint8Array(good.bytes),
    });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as MatrixError).errcode).toBe('M_CONFLICT');
    for (const node of [a, b, c]) {
      expect((await getIndex(node, m)).byte_length).toBe(good.bytes.length);
      expect(
        (await download(node, m, `bytes=0-${good.bytes.length - 1}`)).bytes.equals(good.bytes),
      ).toBe(true);
    }
  });
});
