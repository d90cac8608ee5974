import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_INDEX } from '@mxcast/protocol/testing';
import { isPlayerError } from './player-error.ts';
import { downloadUrl, fetchIndex, indexUrl, listenSocketUrl, parseMxcUri } from './relay-index.ts';

// A real HTTP server standing in for a relay (or a proxy) that answers each request in turn.
const answers: string[] = [];
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(answers.shift() ?? '');
});
let relayUrl = '';
beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  relayUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const honest = { ...EMPTY_INDEX, state: 'live', byte_length: 4 };

describe('relay index and URLs (@mxcast/protocol)', () => {
  it('builds the documented URLs from the protocol paths, encoding the server name', () => {
    const loc = { relayUrl: 'https://r.example/', ...parseMxcUri('mxc://[::1]:8448/abc') };
    expect(downloadUrl(loc)).toBe(
      'https://r.example/_matrix/client/v1/media/download/%5B%3A%3A1%5D%3A8448/abc',
    );
    expect(indexUrl(loc)).toBe(
      'https://r.example/_matrix/media/unstable/org.matrix.msc4016/index/%5B%3A%3A1%5D%3A8448/abc',
    );
    expect(listenSocketUrl({ ...loc, accessToken: 't' }, 7, false)).toBe(
      'wss://r.example/_matrix/media/unstable/org.matrix.msc4016/ws/%5B%3A%3A1%5D%3A8448/abc?from=7&access_token=t',
    );
    expect(() => parseMxcUri('mxc://h/a/b')).toThrow(/not an mxc:\/\/server\/id URI/);
  });

  it('accepts the documented index and refuses another shape as a retryable NETWORK error', async () => {
    const loc = { relayUrl, serverName: 'h', mediaId: 'abc' };
    answers.push(JSON.stringify(honest));
    expect(await fetchIndex(loc, fetch)).toEqual(honest);
    answers.push(JSON.stringify({ ...honest, first_offsets: undefined }), 'not json');
    for (const message of [/index: index\.first_offsets/, /index: not JSON/]) {
      const err = await fetchIndex(loc, fetch).catch((e: unknown) => e);
      expect(isPlayerError(err) && err.code).toBe('NETWORK');
      expect(isPlayerError(err) && err.fatal).toBe(false);
      expect((err as Error).message).toMatch(message);
    }
  });
});
