/**
 * Base64 as Matrix uses it: unpadded standard alphabet for `iv` (Matrix spec, "Unpadded Base64"),
 * url-safe unpadded for JWK `k` (RFC 7518 §6.4.1, RFC 7515 §2). Decoders accept either alphabet
 * and optional padding. Works in Node and browsers (atob/btoa), no Buffer.
 */
export function decodeBase64(text: string): Uint8Array | null {
  const std = text.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(std) || std.length % 4 === 1) return null;
  const bin = atob(std + '='.repeat((4 - (std.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function encodeBase64(bytes: Uint8Array, urlSafe = false): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i] as number);
  const b64 = btoa(bin).replace(/=+$/, '');
  return urlSafe ? b64.replace(/\+/g, '-').replace(/\//g, '_') : b64;
}
