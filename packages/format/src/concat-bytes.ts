/**
 * The one byte-array concatenation of the project: the container, the capture's tus batches,
 * `mxcast inspect`, the bench and the tests all join byte arrays, and this works in browsers too
 * (no Buffer). Always a fresh ArrayBuffer-backed array (what fetch bodies and WebCrypto take),
 * even for one part.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
