/**
 * CRC-32 as zlib's crc32 computes it (IEEE 802.3 polynomial 0xEDB88320 reflected, initial and
 * final XOR 0xFFFFFFFF). MSC4016 uses it only to confirm a resync point, never for integrity.
 * The portable core is table-driven "slicing by 4" (four 256-entry tables, a 32-bit word per
 * step). In Node (>= 20.16) the native zlib.crc32 is used instead, found at run time through
 * process.getBuiltinModule, so this file imports nothing from Node and bundles for browsers.
 */

type Crc32Function = (bytes: Uint8Array, previous?: number) => number;

const TABLES: Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const t0 = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c >>> 0;
  }
  const tables = [t0];
  for (let i = 1; i < 4; i++) {
    const prev = tables[i - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      t[n] = ((p >>> 8) ^ (t0[p & 0xff] as number)) >>> 0;
    }
    tables.push(t);
  }
  return tables;
}

/**
 * Portable CRC-32 continuing from `previous`: `crc32Portable(b, crc32Portable(a))` equals
 * `crc32Portable(a‖b)`. Start with 0.
 */
export function crc32Portable(bytes: Uint8Array, previous = 0): number {
  const t0 = TABLES[0] as Uint32Array;
  const t1 = TABLES[1] as Uint32Array;
  const t2 = TABLES[2] as Uint32Array;
  const t3 = TABLES[3] as Uint32Array;
  let c = ~previous;
  let i = 0;
  const n = bytes.length;
  const words = n - (n % 4);
  for (; i < words; i += 4) {
    c ^=
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    c =
      (t3[c & 0xff] as number) ^
      (t2[(c >>> 8) & 0xff] as number) ^
      (t1[(c >>> 16) & 0xff] as number) ^
      (t0[c >>> 24] as number);
  }
  for (; i < n; i++) c = (t0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

function nativeCrc32(): Crc32Function | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const zlib = proc?.getBuiltinModule?.('node:zlib') as { crc32?: Crc32Function } | undefined;
  return typeof zlib?.crc32 === 'function' ? zlib.crc32 : undefined;
}

/** Which implementation `crc32` uses here: 'native' (Node's zlib) or 'portable'. */
export const crc32Implementation: 'native' | 'portable' = nativeCrc32() ? 'native' : 'portable';

/** CRC-32 continuing from `previous` (start with 0); native in Node, portable elsewhere. */
export const crc32: Crc32Function = nativeCrc32() ?? crc32Portable;
