/**
 * The Ogg page checksum (RFC 3533 §6): CRC-32 with generator polynomial 0x04c11db7,
 * NOT reflected, initial value 0 and no final XOR — unlike zlib's crc32. Computed over the
 * whole page with the CRC field itself set to zero.
 */

const TABLE: Uint32Array = buildTable();

function buildTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let r = n << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[n] = r >>> 0;
  }
  return table;
}

/** Continues the Ogg CRC over `bytes`: `oggCrc(b, oggCrc(a))` equals `oggCrc(a‖b)`. Start with 0. */
export function oggCrc(bytes: Uint8Array, previous = 0): number {
  let crc = previous >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    crc = ((crc << 8) ^ (TABLE[((crc >>> 24) ^ (bytes[i] as number)) & 0xff] as number)) >>> 0;
  }
  return crc;
}
