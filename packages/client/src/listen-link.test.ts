import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  encodeBase64,
  encodeBase64Url,
  encryptedFileSecrets,
  parseEncryptedFile,
  type EncryptedFile,
} from '@mxcast/format';
import { streamGeometryOf, type StreamGeometry } from '@mxcast/protocol';
import { ClientError } from './client-error.ts';
import { buildEventContent, OPUS_MIMETYPE, STREAM_KEY } from './event-content.ts';
import { buildListenLink, parseListenLink } from './listen-link.ts';
import { LISTEN_LINK_CASES, tableSecrets } from './testing/listen-link-cases.ts';

function randomFile(): EncryptedFile {
  return {
    v: 'org.matrix.msc4016.v3',
    key: {
      kty: 'oct',
      alg: 'A256GCM',
      k: encodeBase64Url(randomBytes(32)),
      ext: true,
      key_ops: ['encrypt', 'decrypt'],
    },
    iv: encodeBase64(randomBytes(12)),
  };
}

const geometry: StreamGeometry = streamGeometryOf(
  { frameMs: 20, framesPerBlock: 12, bitrate: 32000, blockBytes: 1031 },
  1,
);

describe('listen links', () => {
  it('round-trips mxc, key, iv and geometry through the fragment', () => {
    for (let i = 0; i < 50; i++) {
      const file = randomFile();
      const mxc = `mxc://relay.example:8448/${encodeBase64Url(randomBytes(18))}`;
      const link = buildListenLink('https://relay.example:8448/', { mxc, file, geometry });
      expect(link.startsWith('https://relay.example:8448/listen#')).toBe(true);
      const parsed = parseListenLink(link);
      expect(parsed.relayUrl).toBe('https://relay.example:8448');
      expect(parsed.mxc).toBe(mxc);
      expect(parsed.file).toEqual({ ...file, url: mxc });
      expect(parsed.geometry).toEqual(geometry);
    }
  });

  it('keeps a path prefix before /listen as part of the relay URL, geometry optional', () => {
    const file = randomFile();
    const link = buildListenLink('http://127.0.0.1:9/mx', {
      mxc: 'mxc://localhost/abc_DEF-1',
      file,
    });
    const parsed = parseListenLink(link);
    expect(parsed.relayUrl).toBe('http://127.0.0.1:9/mx');
    expect(parsed.geometry).toBeNull();
    expect(new URL(link).search).toBe('');
  });

  it('names what is wrong with a bad link', () => {
    const good = buildListenLink('http://h', { mxc: 'mxc://h/abc', file: randomFile(), geometry });
    const cases: [string, RegExp][] = [
      ['nonsense', /not a URL/],
      ['ftp://h/listen#mxc=x', /must be http/],
      [good.replace('/listen#', '/play#'), /must end in \/listen/],
      [good.replace(/mxc=[^&]*/, ''), /no mxc/],
      [good.replace(/k=[^&]*/, 'k=AAAA'), /key must be 32 bytes/],
      [good.replace(/iv=[^&]*/, 'iv=%21%21'), /iv must be 12 bytes/],
      [good.replace(/g=[^&]*/, 'g=20%2C12%2C0%2C1%2C1'), /five positive integers/],
      [good.replace(/mxc=[^&]*/, 'mxc=https%3A%2F%2Fx'), /not an mxc URI/],
    ];
    for (const [link, message] of cases) {
      let err: unknown;
      try {
        parseListenLink(link);
      } catch (e) {
        err = e;
      }
      expect(err, link).toBeInstanceOf(ClientError);
      expect((err as ClientError).code).toBe('BAD_ARGUMENT');
      expect((err as ClientError).message).toMatch(message);
    }
  });
});

describe('listen links: one rule for k and iv (docs/listen-link.md)', () => {
  const base = 'http://relay.example/listen';
  const mxc = 'mxc://relay.example/abc';

  it('parses exactly the links whose key and iv parseEncryptedFile accepts, as the same key', () => {
    const { key, iv } = tableSecrets();
    expect(encodeBase64Url(key)).toMatch(/^-_-_/);
    expect(encodeBase64(iv)).toMatch(/^\+\/\+\//);
    for (const c of LISTEN_LINK_CASES) {
      const link = c.link(base, mxc, key, iv);
      let parsed: ReturnType<typeof parseListenLink> | undefined;
      let err: unknown;
      try {
        parsed = parseListenLink(link);
      } catch (e) {
        err = e;
      }
      if (c.refused) {
        expect(err, c.name).toBeInstanceOf(ClientError);
        expect((err as ClientError).code, c.name).toBe('BAD_ARGUMENT');
        expect((err as ClientError).message, c.name).toMatch(/^bad listen link: /);
        expect((err as ClientError).message, c.name).toMatch(c.refused);
      } else {
        expect(err, c.name).toBeUndefined();
        // The file out of a link is what parseEncryptedFile makes of it: canonical, unpadded.
        expect(parsed!.file, c.name).toEqual(parseEncryptedFile(parsed!.file));
        expect(encryptedFileSecrets(parsed!.file), c.name).toEqual({ key, iv });
      }
    }
  });

  it('refuses to build a link it would refuse to parse', () => {
    const file = randomFile();
    const slash = { ...file, key: { ...file.key, k: file.key.k.replace(/.$/, '/') } };
    expect(() => buildListenLink('http://h', { mxc, file: slash })).toThrow(/bad listen link: key/);
    const dash = { ...file, iv: file.iv.replace(/^./, '-') };
    expect(() => buildListenLink('http://h', { mxc, file: dash })).toThrow(/bad listen link: iv/);
  });
});

describe('event content', () => {
  it('carries the file with its url, the mimetype and the stream geometry', () => {
    const file = randomFile();
    const content = buildEventContent({
      title: 'Morning show',
      mxc: 'mxc://localhost/abcdef',
      file,
      preset: 'voice',
      geometry,
    });
    const back = JSON.parse(JSON.stringify(content));
    expect(back.msgtype).toBe('m.audio');
    expect(back.body).toBe('Morning show');
    expect(back.info.mimetype).toBe(OPUS_MIMETYPE);
    expect(back.file).toEqual({ ...file, url: 'mxc://localhost/abcdef' });
    expect(back[STREAM_KEY]).toEqual({ preset: 'voice', ...geometry });
    // A link built from the event's parts parses back to the same file.
    const link = buildListenLink('http://h', {
      mxc: back.file.url,
      file: back.file,
      geometry: back[STREAM_KEY],
    });
    expect(parseListenLink(link).file).toEqual(back.file);
  });
});
