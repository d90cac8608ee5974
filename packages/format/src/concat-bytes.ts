/**
 * The one byte-array concatenation of the project: the container, the capture's tus batches,
 * `mxcast inspect` and the tests all join byte arrays, and this works in browsers too (no
 * Buffer). One part is returned as it is, not copied.
 */
export function concatBytes(
  parts: readonly Uint8Array[],
  size = parts.reduce((n, p) => n + p.length, 0),
): Uint8Array {
  if (parts.length === 1 && (parts[0] as Uint8Array).length === size) return parts[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
