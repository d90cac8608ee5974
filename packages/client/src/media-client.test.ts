import { describe, expect, it } from 'vitest';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { ClientError } from './client-error.ts';
import { MediaClient } from './media-client.ts';
import { parseMxc } from './mxc-uri.ts';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('parseMxc', () => {
  it('splits server name and media id, rejects anything else', () => {
    expect(parseMxc('mxc://localhost:8008/AbC_d-9')).toEqual({
      serverName: 'localhost:8008',
      mediaId: 'AbC_d-9',
      uri: 'mxc://localhost:8008/AbC_d-9',
    });
    for (const bad of ['', 'mxc://', 'mxc://h/', 'mxc://h/a/b', 'http://h/a', 'mxc://h/a b']) {
      expect(() => parseMxc(bad)).toThrow(/not an mxc URI/);
    }
  });
});

describe('MediaClient', () => {
  it('rejects a base URL that is not http(s)', () => {
    expect(() => new MediaClient({ baseUrl: 'ws://h' })).toThrow(/must be http/);
    expect(() => new MediaClient({ baseUrl: 'nope' })).toThrow(/not a URL/);
  });

  it('reports an unreachable relay as NETWORK naming the URL', async () => {
    const port = await closedPort();
    const client = new MediaClient({ baseUrl: `http://127.0.0.1:${port}`, accessToken: 't' });
    const err = await client.create().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).code).toBe('NETWORK');
    expect((err as ClientError).message).toContain(`127.0.0.1:${port}`);
    expect((err as ClientError).message).toMatch(/ECONNREFUSED/);
    const ws = await client.listenSocket('mxc://h/abc').catch((e: unknown) => e);
    expect((ws as ClientError).code).toBe('NETWORK');
  });

  it('builds the tus and listen socket URLs without the token', () => {
    const client = new MediaClient({ baseUrl: 'http://127.0.0.1:1/', accessToken: 'secret' });
    expect(client.tusUrl('mxc://h/abc')).toBe(
      'http://127.0.0.1:1/_matrix/media/unstable/org.matrix.msc4016/tus/h/abc',
    );
    const ws = client.listenSocketUrl('mxc://h/abc', { from: 3, headers: true });
    expect(ws).toBe(
      'ws://127.0.0.1:1/_matrix/media/unstable/org.matrix.msc4016/ws/h/abc?from=3&headers=1',
    );
    expect(ws).not.toContain('secret');
  });

  it('checks the index against the protocol: a wrong answer is BAD_RESPONSE naming the field', async () => {
    // A real HTTP server standing in for a relay (or a proxy) that answers the wrong JSON.
    const answers = [
      '{"state":"live"}',
      '{"state":"streaming","byte_length":0,"block_count":0,"byte_order":null,"header_end":null,"block_size":null,"first_offsets":[],"geometry":null,"sha256":null,"listeners":0,"created_at":1}',
      'not json',
    ];
    const server = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(answers.shift());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const client = new MediaClient({ baseUrl: `http://127.0.0.1:${port}` });
      for (const message of [/index\.byte_length/, /index\.state must be one of/, /not JSON/]) {
        const err = await client.index('mxc://h/abc').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(ClientError);
        expect((err as ClientError).code).toBe('BAD_RESPONSE');
        expect((err as ClientError).message).toMatch(message);
      }
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
