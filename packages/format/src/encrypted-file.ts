/**
 * The EncryptedFile object of MSC4016 v3 (MSC4016 "Detailed proposal"): a JWK for AES-256-GCM
 * and a 96-bit IV. Generated fresh per stream; parsed strictly, each error naming the field.
 */
import { decodeBase64, decodeBase64Url, encodeBase64, encodeBase64Url } from './base64-codec.ts';
import { FILE_IV_SIZE, KEY_SIZE } from './format-constants.ts';
import { FormatError } from './format-error.ts';

export const ENCRYPTED_FILE_VERSION = 'org.matrix.msc4016.v3';

export interface JsonWebKeyAesGcm {
  kty: 'oct';
  alg: 'A256GCM';
  /** The 256-bit key, url-safe base64 without padding (RFC 7518 §6.4.1). */
  k: string;
  ext: true;
  key_ops: string[];
}

export interface EncryptedFile {
  v: typeof ENCRYPTED_FILE_VERSION;
  key: JsonWebKeyAesGcm;
  /** 96-bit IV, standard base64 without padding. */
  iv: string;
  /** The mxc URI, when the object travels in an event. */
  url?: string;
}

function webCrypto(): Crypto {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c?.getRandomValues) {
    throw new FormatError('BAD_ARGUMENT', 'no WebCrypto getRandomValues in this environment');
  }
  return c;
}

/** A fresh 256-bit key and 96-bit IV from the platform's CSPRNG. */
export function generateEncryptedFile(url?: string): EncryptedFile {
  const c = webCrypto();
  const key = c.getRandomValues(new Uint8Array(KEY_SIZE));
  const iv = c.getRandomValues(new Uint8Array(FILE_IV_SIZE));
  const file: EncryptedFile = {
    v: ENCRYPTED_FILE_VERSION,
    key: {
      kty: 'oct',
      alg: 'A256GCM',
      k: encodeBase64Url(key),
      ext: true,
      key_ops: ['encrypt', 'decrypt'],
    },
    iv: encodeBase64(iv),
  };
  if (url !== undefined) file.url = url;
  return file;
}

function bad(field: string, why: string): FormatError {
  return new FormatError('BAD_ENCRYPTED_FILE', `EncryptedFile field ${field}: ${why}`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function describe(x: unknown): string {
  const s = JSON.stringify(x);
  return s === undefined ? String(x) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/**
 * Validates an EncryptedFile given as JSON text or a parsed value. Also accepts an event content
 * with a `file` key (the m.audio/m.file shape). Never echoes key material in an error. `key.k` must
 * be base64url and `iv` standard base64 (docs/format.md); padding is accepted and dropped.
 */
export function parseEncryptedFile(input: unknown): EncryptedFile {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new FormatError(
        'BAD_ENCRYPTED_FILE',
        `EncryptedFile is not JSON: ${(err as Error).message}`,
      );
    }
  }
  if (!isObject(value)) throw bad('(root)', `expected an object, got ${describe(value)}`);
  if (!('v' in value) && 'file' in value) {
    if (!isObject(value.file)) throw bad('file', `expected an object, got ${describe(value.file)}`);
    return parseEncryptedFile(value.file);
  }
  if (value.v !== ENCRYPTED_FILE_VERSION) {
    const code = typeof value.v === 'string' ? 'UNSUPPORTED_VERSION' : 'BAD_ENCRYPTED_FILE';
    throw new FormatError(
      code,
      `EncryptedFile field v: expected "${ENCRYPTED_FILE_VERSION}", got ${describe(value.v)}`,
    );
  }
  const key = value.key;
  if (!isObject(key))
    throw bad('key', `expected a JWK object, got ${key === null ? 'null' : typeof key}`);
  if (key.kty !== 'oct') throw bad('key.kty', `expected "oct", got ${describe(key.kty)}`);
  if (key.alg !== 'A256GCM') throw bad('key.alg', `expected "A256GCM", got ${describe(key.alg)}`);
  if (key.ext !== true) throw bad('key.ext', `expected true, got ${describe(key.ext)}`);
  const ops = key.key_ops;
  if (!Array.isArray(ops) || !ops.every((o) => typeof o === 'string')) {
    throw bad('key.key_ops', `expected an array of strings, got ${describe(ops)}`);
  }
  for (const op of ['encrypt', 'decrypt']) {
    if (!ops.includes(op)) throw bad('key.key_ops', `must contain "${op}"`);
  }
  if (typeof key.k !== 'string') throw bad('key.k', 'expected a url-safe base64 string');
  const k = decodeBase64Url(key.k);
  if (typeof k === 'string') throw bad('key.k', `not url-safe base64 (${k})`);
  if (k.length !== KEY_SIZE)
    throw bad('key.k', `decodes to ${k.length} bytes, expected ${KEY_SIZE}`);
  if (typeof value.iv !== 'string')
    throw bad('iv', `expected a base64 string, got ${describe(value.iv)}`);
  const iv = decodeBase64(value.iv);
  if (typeof iv === 'string') throw bad('iv', `not base64 (${iv})`);
  if (iv.length !== FILE_IV_SIZE) {
    throw bad('iv', `decodes to ${iv.length} bytes, expected ${FILE_IV_SIZE}`);
  }
  if (value.url !== undefined && typeof value.url !== 'string') {
    throw bad('url', `expected a string, got ${describe(value.url)}`);
  }
  // Re-encoded, so whatever was accepted (padding) leaves in the one canonical, unpadded form.
  const file: EncryptedFile = {
    v: ENCRYPTED_FILE_VERSION,
    key: {
      kty: 'oct',
      alg: 'A256GCM',
      k: encodeBase64Url(k),
      ext: true,
      key_ops: [...(ops as string[])],
    },
    iv: encodeBase64(iv),
  };
  if (typeof value.url === 'string') file.url = value.url;
  return file;
}

/** The raw 32-byte key and 12-byte IV of a (parsed) EncryptedFile. */
export function encryptedFileSecrets(file: EncryptedFile): { key: Uint8Array; iv: Uint8Array } {
  const parsed = parseEncryptedFile(file);
  return {
    key: decodeBase64Url(parsed.key.k) as Uint8Array,
    iv: decodeBase64(parsed.iv) as Uint8Array,
  };
}
