/**
 * Media ids: 24 url-safe base64 characters from 18 random bytes (144 bits ≥ the 128
 * docs/protocol.md promises). Anything not matching MEDIA_ID_PATTERN is answered 404 before it gets
 * near a file name, which is what keeps path tricks (`..`, `%2F`, NUL) out of the data dir.
 */
import { randomBytes } from 'node:crypto';

export const MEDIA_ID_PATTERN = /^[A-Za-z0-9_-]{22,64}$/;

export function newMediaId(): string {
  return randomBytes(18).toString('base64url');
}

export function isMediaId(id: string): boolean {
  return MEDIA_ID_PATTERN.test(id);
}
