/**
 * @mxcast/client against a real relay (docs/protocol.md): create with geometry, streaming PUT,
 * tus HEAD/PATCH, index, download with Range, the listen socket, delete, and ClientError codes.
 * Ciphertexts are random bytes: the relay checks framing only.
 */
import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { ClientError, MediaClient, type ListenEvent } from '@mxcast/client';
import { encodeBlock, MAGIC } from '@mxcast/format';
import { SMALL_GEOMETRY as geometry, useClientRelay } from './client-fixture.ts';

const t = useClientRelay();

function blocks(from: number, count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => encodeBlock(from + i, randomBytes(100)));
}

async function codeOf(p: Promise<unknown>): Promise<ClientError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ClientError);
  return err as ClientError;
}

describe('MediaClient against the relay', () => {
  it('streams a PUT from an async iterable while a listen socket receives every block live', async () => {
    const { mxc } = await t.client.create(geometry);
    expect(mxc).toMatch(/^mxc:\/\/localhost\/[A-Za-z0-9_-]{22,}$/);
    const socket = await t.client.listenSocket(mxc, { from: 0 });
    const parts = [MAGIC, ...blocks(0, 10)];
    async function* body() {
      for (const p of parts) {
        yield p;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    const result = await t.client.uploadStream(mxc, body());
    expect(result.contentUri).toBe(mxc);
    expect(result.sha256).toMatch(/^[A-Za-z0-9+/]{43}$/);

    const got: ListenEvent[] = [];
    for await (const ev of socket) {
      got.push(ev);
      if (ev.type === 'end') break;
    }
    socket.close();
    const received = got
      .filter((e) => e.type === 'block')
      .map((e) => (e as { bytes: Uint8Array }).bytes);
    expect(received.map((b) => Buffer.from(b).toString('hex'))).toEqual(
      parts.slice(1).map((b) => Buffer.from(b).toString('hex')),
    );
    expect(got.some((e) => e.type === 'status')).toBe(true);
    expect(got.at(-1)).toEqual({ type: 'end', state: 'complete' });

    const index = await t.client.index(mxc);
    expect(index).toMatchObject({ state: 'complete', block_count: 10, block_size: 116, geometry });
    const res = await t.client.download(mxc, { offset: 4 + 116 * 3, end: 4 + 116 * 4 - 1 });
    expect(res.status).toBe(206);
    expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(parts[4]!))).toBe(true);
  });

  it('continues a cut-off upload through tus: HEAD offset, PATCH, conflict on a wrong offset', async () => {
    const { mxc } = await t.client.create();
    const first = Buffer.concat([MAGIC, ...blocks(0, 3)]);
    // A PUT whose body errors mid-way: the relay keeps the whole blocks it got.
    const cut = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(first);
        c.enqueue(encodeBlock(3, randomBytes(100)).subarray(0, 50));
        setTimeout(() => c.error(new Error('connection lost')), 50);
      },
    });
    const err = await codeOf(t.client.uploadStream(mxc, cut));
    expect(err.code).toBe('NETWORK');
    const { offset } = await t.client.tusOffset(mxc);
    expect(offset).toBe(first.length);

    const wrong = await codeOf(t.client.tusPatch(mxc, offset + 1, blocks(3, 1)[0]!));
    expect(wrong.code).toBe('M_CONFLICT');
    expect(wrong.status).toBe(409);

    const rest = Buffer.concat(blocks(3, 2));
    const next = await t.client.tusPatch(mxc, offset, rest, { final: true });
    expect(next).toBe(offset + rest.length);
    expect((await t.client.index(mxc)).state).toBe('complete');
  });

  it('deleteMedia cancels a live upload; errors carry errcode and status', async () => {
    const { mxc } = await t.client.create();
    await t.client.tusPatch(mxc, 0, Buffer.concat([MAGIC, ...blocks(0, 2)]));
    await t.client.deleteMedia(mxc);
    expect((await t.client.index(mxc)).state).toBe('cancelled');

    const anonymous = new MediaClient({ baseUrl: t.relay.url });
    const missing = await codeOf(anonymous.create());
    expect(missing.code).toBe('M_MISSING_TOKEN');
    expect(missing.status).toBe(401);
    const badToken = new MediaClient({ baseUrl: t.relay.url, accessToken: 'nope' });
    const unknown = await codeOf(badToken.create());
    expect(unknown.code).toBe('M_UNKNOWN_TOKEN');
    expect(unknown.message).toMatch(/create media: 401 M_UNKNOWN_TOKEN/);
    const notFound = await codeOf(t.client.index('mxc://localhost/AAAAAAAAAAAAAAAAAAAAAAAA'));
    expect(notFound.code).toBe('M_NOT_FOUND');
    expect(notFound.status).toBe(404);
  });
});
