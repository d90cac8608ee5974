/**
 * Cluster mode end to end on two relay nodes (two relays in this process, each with its own data
 * dir, one real nats-server with JetStream): an upload to node A is heard live on node B and the
 * finished media is byte-identical there, with the same sha256; tokens are the cluster's (a
 * node's relay.db token is refused). Part 2's tests/ run the 3 × 3 scenarios with processes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServer } from '../testing/nats-server-fixture.ts';
import {
  createMedia,
  downloadUrl,
  getIndex,
  makeStream,
  tusUrl,
  startTestRelay,
  streamingPut,
  until,
  uploadUrl,
  type TestRelay,
} from '../testing/relay-fixture.ts';
import { createClusterToken } from './cluster-token-store.ts';

let nats: NatsServer;
let a: TestRelay;
let b: TestRelay;
let auth: Record<string, string>;

beforeAll(async () => {
  nats = await startNatsServer();
  const options = { serverName: 'cluster.test', cluster: { servers: [nats.url] } };
  a = await startTestRelay(options);
  b = await startTestRelay(options);
  const token = await createClusterToken([nats.url], '@alice:localhost');
  auth = { Authorization: `Bearer ${token}` };
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await nats?.stop();
});

describe('cluster mode: two nodes, one JetStream', () => {
  it('an upload to node A is heard live on node B, byte-identical, with the same sha256', async () => {
    const nodeA = { ...a, auth };
    const m = await createMedia(nodeA);
    const stream = makeStream(40, 200);
    const half = stream.offsets[20] as number;
    const put = streamingPut(uploadUrl(nodeA, m), auth);
    put.push(stream.bytes.subarray(0, half));
    await until(async () => (await getIndex(b, m)).block_count === 20);
    // A listener on B from the start, while the upload is live on A.
    const listen = fetch(downloadUrl(b, m)).then(async (res) => ({
      status: res.status,
      body: Buffer.from(await res.arrayBuffer()),
    }));
    put.push(stream.bytes.subarray(half));
    put.end();
    expect((await put.response).status).toBe(200);
    const heard = await listen;
    expect(heard.status).toBe(200);
    expect(heard.body.equals(stream.bytes)).toBe(true);
    const [ia, ib] = [await getIndex(a, m), await getIndex(b, m)];
    expect(ib).toMatchObject({
      state: 'complete',
      byte_length: stream.bytes.length,
      block_count: 40,
    });
    expect(ib.sha256).toBe(ia.sha256);
    const again = Buffer.from(await (await fetch(downloadUrl(b, m))).arrayBuffer());
    expect(again.equals(stream.bytes)).toBe(true);
  });

  it('a tus upload cut on node C resumes on node B at the offset C stored (HEAD), and completes', async () => {
    const c = await startTestRelay({
      serverName: 'cluster.test',
      cluster: { servers: [nats.url] },
    });
    const h = { ...auth, 'Tus-Resumable': '1.0.0' };
    const nodeC = { ...c, auth };
    const m = await createMedia(nodeC);
    const s = makeStream(12, 150);
    const patch = (t: TestRelay, offset: number, bytes: Uint8Array, extra = {}) =>
      fetch(tusUrl(t, m), {
        method: 'PATCH',
        headers: {
          ...h,
          'Content-Type': 'application/offset+octet-stream',
          'Upload-Offset': String(offset),
          ...extra,
        },
        body: new Uint8Array(bytes),
      });
    const created = await fetch(tusUrl(nodeC, m), {
      method: 'POST',
      headers: { ...h, 'Upload-Defer-Length': '1' },
    });
    expect(created.status).toBe(201);
    const at = s.offsets[6] as number;
    expect((await patch(nodeC, 0, s.bytes.subarray(0, at + 30))).headers.get('upload-offset')).toBe(
      String(at),
    );
    await c.close();
    const head = await fetch(tusUrl(b, m), { method: 'HEAD', headers: h });
    expect([head.status, head.headers.get('upload-offset')]).toEqual([200, String(at)]);
    const last = await patch(b, at, s.bytes.subarray(at), {
      'Upload-Length': String(s.bytes.length),
    });
    expect([last.status, last.headers.get('upload-offset')]).toEqual([204, String(s.bytes.length)]);
    expect((await getIndex(b, m)).state).toBe('complete');
    await until(async () => (await getIndex(a, m)).state === 'complete');
    for (const node of [a, b]) {
      const got = Buffer.from(await (await fetch(downloadUrl(node, m))).arrayBuffer());
      expect(got.equals(s.bytes)).toBe(true);
    }
  });

  it('two uploads of one media racing on nodes A and B: exactly one wins, the other is 409', async () => {
    const m = await createMedia({ ...a, auth });
    const x = makeStream(30, 120);
    const y = makeStream(30, 120);
    const upload = async (t: TestRelay, bytes: Buffer) => {
      const put = streamingPut(uploadUrl(t, m), auth);
      for (let at = 0; at < bytes.length; at += 700) {
        put.push(bytes.subarray(at, at + 700));
        await new Promise((r) => setTimeout(r, 2));
      }
      put.end();
      const res = await put.response;
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    // Both nodes know the media (and tail it) before either upload starts, so both local stores
    // take the first blocks and the race is decided in JetStream.
    await getIndex(a, m);
    await getIndex(b, m);
    const [ra, rb] = await Promise.all([upload(a, x.bytes), upload(b, y.bytes)]);
    expect([ra.status, rb.status].sort()).toEqual([200, 409]);
    const loser = ra.status === 409 ? ra : rb;
    expect(loser.body.errcode).toBe('M_CONFLICT');
    const won = ra.status === 200 ? x.bytes : y.bytes;
    for (const node of [a, b]) {
      await until(async () => (await getIndex(node, m)).state === 'complete', 10_000);
      const got = Buffer.from(await (await fetch(downloadUrl(node, m))).arrayBuffer());
      expect(got.equals(won)).toBe(true);
    }
  });

  it('takes the cluster token on every node and refuses a node-local relay.db one', async () => {
    const onB = await fetch(`${b.url}/_matrix/media/v1/create`, { method: 'POST', headers: auth });
    expect(onB.status).toBe(200);
    const local = await fetch(`${a.url}/_matrix/media/v1/create`, {
      method: 'POST',
      headers: a.auth,
    });
    expect(local.status).toBe(401);
    expect(((await local.json()) as { errcode: string }).errcode).toBe('M_UNKNOWN_TOKEN');
  });
});
