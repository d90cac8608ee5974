/**
 * The few `node:crypto` calls @mxcast/matrix makes, for the browser build only (vite.config.ts
 * resolves `node:crypto` to this file when a packages/matrix module imports it): a synchronous,
 * incremental SHA-256 (checkpoint digests and the file hash must be cut exactly at block
 * boundaries while blocks stream; WebCrypto's digest is one-shot and asynchronous) from
 * @noble/hashes, and random bytes from WebCrypto. Output matches Node's: `digest()` bytes,
 * `digest('base64')`, `randomBytes(n).toString('base64url')`.
 */
import { sha256 } from '@noble/hashes/sha2.js';

type Encoding = 'base64' | 'base64url' | 'hex';

function encode(bytes: Uint8Array, encoding: Encoding): string {
  if (encoding === 'hex') return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  const b64 = btoa(bin);
  return encoding === 'base64'
    ? b64
    : b64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A Uint8Array whose toString takes Node's encodings, like the Buffer it stands in for. */
class Bytes extends Uint8Array {
  override toString(encoding?: Encoding): string {
    return encoding ? encode(this, encoding) : super.toString();
  }
}

export interface Hash {
  update(data: Uint8Array): Hash;
  digest(): Bytes;
  digest(encoding: Encoding): string;
}

export function createHash(algorithm: string): Hash {
  if (algorithm !== 'sha256')
    throw new Error(`createHash: only sha256 in the browser, not ${algorithm}`);
  const h = sha256.create();
  const hash = {
    update(data: Uint8Array) {
      h.update(data);
      return hash;
    },
    digest(encoding?: Encoding) {
      const out = new Bytes(h.digest());
      return encoding ? encode(out, encoding) : out;
    },
  };
  return hash as Hash;
}

export function randomBytes(n: number): Bytes {
  return crypto.getRandomValues(new Bytes(n));
}
