/**
 * Base64 (RFC 4648 §4) and base64url (§5) without padding, as the Matrix spec writes
 * EncryptedFile.iv (unpadded standard) and the JWK `k` (unpadded url-safe, RFC 7518 §6.4).
 * Decoding is strict about the alphabet (a `/` in a JWK `k`, or a `-` in an `iv`, is refused:
 * docs/format.md "EncryptedFile") and tolerant of correct trailing '=' padding. No Node imports.
 * The one codec of the workspace: @mxcast/client and the apps use these.
 */

const STD = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n =
      ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out +=
      alphabet[n >>> 18] +
      (alphabet[(n >>> 12) & 63] as string) +
      (alphabet[(n >>> 6) & 63] as string) +
      (alphabet[n & 63] as string);
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = (bytes[i] as number) << 16;
    out += (alphabet[n >>> 18] as string) + (alphabet[(n >>> 12) & 63] as string);
  } else if (rest === 2) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out +=
      (alphabet[n >>> 18] as string) +
      (alphabet[(n >>> 12) & 63] as string) +
      (alphabet[(n >>> 6) & 63] as string);
  }
  return out;
}

/**
 * Returns the bytes, or a reason the text is not valid in this alphabet. Padding is optional, but
 * when present it must be right (RFC 4648 §3.2: it makes the length a multiple of 4).
 */
function decode(text: string, alphabet: string): Uint8Array | string {
  const body = text.replace(/={1,2}$/, '');
  if (body.length % 4 === 1) return `length ${body.length} is not a valid base64 length`;
  if (body.length !== text.length && text.length % 4 !== 0)
    return `padding makes the length ${text.length}, not a multiple of 4`;
  const out = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (let i = 0; i < body.length; i++) {
    const v = alphabet.indexOf(body[i] as string);
    if (v < 0) return `character ${JSON.stringify(body[i])} at ${i} is not in the alphabet`;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if ((acc & ((1 << bits) - 1)) !== 0) return 'non-zero trailing bits';
  return out;
}

export const encodeBase64 = (bytes: Uint8Array): string => encode(bytes, STD);
export const encodeBase64Url = (bytes: Uint8Array): string => encode(bytes, URL);
export const decodeBase64 = (text: string): Uint8Array | string => decode(text, STD);
export const decodeBase64Url = (text: string): Uint8Array | string => decode(text, URL);
