import { describe, expect, it } from 'vitest';
import {
  encryptedFileSecrets,
  generateEncryptedFile,
  parseEncryptedFile,
  type EncryptedFile,
} from './encrypted-file.ts';
import { FormatError } from './format-error.ts';

function errorOf(input: unknown): FormatError {
  try {
    parseEncryptedFile(input);
  } catch (err) {
    if (err instanceof FormatError) return err;
    throw err;
  }
  throw new Error('parsed without error');
}

describe('EncryptedFile', () => {
  it('generates a fresh 256-bit key and 96-bit IV in the Matrix shape', () => {
    const a = generateEncryptedFile();
    const b = generateEncryptedFile('mxc://example.org/abc');
    expect(a.v).toBe('org.matrix.msc4016.v3');
    expect(a.key).toMatchObject({
      kty: 'oct',
      alg: 'A256GCM',
      ext: true,
      key_ops: ['encrypt', 'decrypt'],
    });
    expect(a.key.k).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.iv).toMatch(/^[A-Za-z0-9+/]{16}$/);
    expect(Buffer.from(a.key.k, 'base64url')).toHaveLength(32);
    expect(Buffer.from(a.iv, 'base64')).toHaveLength(12);
    expect(b.url).toBe('mxc://example.org/abc');
    expect(a.key.k).not.toBe(b.key.k);
    expect(a.iv).not.toBe(b.iv);
    expect(parseEncryptedFile(JSON.stringify(a))).toEqual(a);
    const secrets = encryptedFileSecrets(a);
    expect(Buffer.from(secrets.key).toString('base64url')).toBe(a.key.k);
  });

  it('parses the MSC4016 example and an event content with a file key', () => {
    const msc = {
      v: 'org.matrix.msc4016.v3',
      key: {
        alg: 'A256GCM',
        ext: true,
        k: 'cngOuL8OH0W7lxseExjxUyBOavJlomA7N0n1a3RxSUA',
        key_ops: ['encrypt', 'decrypt'],
        kty: 'oct',
      },
      iv: 'HVTXIOuVEax4E+TB',
      url: 'mxc://example.com/raAZzpGSeMjpAYfVdTrQILBI',
    };
    expect(parseEncryptedFile(msc)).toEqual(msc);
    expect(parseEncryptedFile({ msgtype: 'm.audio', body: 'x', file: msc })).toEqual(msc);
    expect(parseEncryptedFile(JSON.stringify({ file: msc }))).toEqual(msc);
  });

  it('names the bad field, without echoing key material', () => {
    const good = generateEncryptedFile();
    const cases: [unknown, RegExp, string?][] = [
      ['{not json', /not JSON/],
      [[1], /field \(root\): expected an object/],
      [{ file: 3 }, /field file:/],
      [
        { ...good, v: 'v2' },
        /field v: expected "org.matrix.msc4016.v3", got "v2"/,
        'UNSUPPORTED_VERSION',
      ],
      [{ ...good, v: undefined }, /field v:/],
      [{ ...good, key: good.key.k }, /field key: expected a JWK object, got string/],
      [{ ...good, key: { ...good.key, kty: 'RSA' } }, /field key.kty: expected "oct", got "RSA"/],
      [{ ...good, key: { ...good.key, alg: 'A128CTR' } }, /field key.alg/],
      [{ ...good, key: { ...good.key, ext: false } }, /field key.ext/],
      [
        { ...good, key: { ...good.key, key_ops: ['encrypt'] } },
        /field key.key_ops: must contain "decrypt"/,
      ],
      [
        { ...good, key: { ...good.key, key_ops: 'encrypt' } },
        /field key.key_ops: expected an array/,
      ],
      [{ ...good, key: { ...good.key, k: 1 } }, /field key.k: expected/],
      [{ ...good, key: { ...good.key, k: 'A'.repeat(22) } }, /field key.k: decodes to 16 bytes/],
      [
        { ...good, key: { ...good.key, k: good.key.k.slice(0, 42) + '+' } },
        /field key.k: not url-safe/,
      ],
      [{ ...good, iv: 'AAAA' }, /field iv: decodes to 3 bytes, expected 12/],
      [{ ...good, iv: 'AAAA_AAAAAAAAAAA' }, /field iv: not base64/],
      [{ ...good, iv: undefined }, /field iv: expected a base64 string/],
      [{ ...good, url: 7 }, /field url: expected a string/],
    ];
    for (const [input, message, code] of cases) {
      const err = errorOf(input);
      expect(err.message).toMatch(message);
      expect(err.code).toBe(code ?? 'BAD_ENCRYPTED_FILE');
      expect(err.message).not.toContain(good.key.k);
    }
  });

  it('accepts padded base64 and copies nothing unknown', () => {
    const good = generateEncryptedFile();
    const padded = { ...good, key: { ...good.key, k: good.key.k + '=' }, extra: 1 };
    const parsed: EncryptedFile = parseEncryptedFile(padded);
    expect(parsed).not.toHaveProperty('extra');
    expect(parsed.key.k).toBe(good.key.k);
    // 12 bytes need no padding: a '=' after them is wrong, not tolerated.
    expect(() => parseEncryptedFile({ ...good, iv: good.iv + '=' })).toThrow(
      /field iv: not base64/,
    );
    expect(encryptedFileSecrets(parsed).key).toEqual(encryptedFileSecrets(good).key);
  });
});
