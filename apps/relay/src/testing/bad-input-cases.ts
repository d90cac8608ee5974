/**
 * The bad-input table (docs/protocol.md "Error codes"): bodies an upload may bring, each with the
 * Matrix error it must get and the bytes that must stay stored (the valid blocks before the
 * fault). One table, run against the embedded relay (core/bad-input.test.ts) and against a node
 * of a relay cluster (tests/cluster/cluster-bad-input.test.ts), so the two cannot drift.
 */
import { encodeBlock } from '@mxcast/format';
import { makeStream } from './relay-fixture.ts';

/** The relays these cases run against set `limits.maxBlockLength` to this (the oversize case). */
export const BAD_INPUT_MAX_BLOCK_LENGTH = 4096;

export interface BadBlockCase {
  name: string;
  body: Buffer;
  status: number;
  errcode: string;
  reason: string;
  kept: Buffer;
}

export const good = makeStream(5, 64);
const prefix = Buffer.from(good.bytes); // magic + blocks 0..4

function corruptCrc(block: Uint8Array): Buffer {
  const b = Buffer.from(block);
  b.writeUInt32BE((b.readUInt32BE(12) ^ 1) >>> 0, 12);
  return b;
}
function oversize(seq: number): Buffer {
  const b = Buffer.from(encodeBlock(seq, new Uint8Array(5000)));
  return b.subarray(0, 16 + 100); // the header announces 5000 > 4096; the bytes need not follow
}

export const blockCases: BadBlockCase[] = [
  {
    name: 'bad magic',
    body: Buffer.from('XXXX' + 'y'.repeat(100)),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'BAD_MAGIC',
    kept: Buffer.alloc(0),
  },
  {
    name: '/dev/zero',
    body: Buffer.alloc(256 * 1024),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'BAD_MAGIC',
    kept: Buffer.alloc(0),
  },
  {
    name: 'zeros after the magic',
    body: Buffer.concat([good.bytes.subarray(0, 4), Buffer.alloc(4096)]),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'BAD_REGISTRATION',
    kept: Buffer.alloc(0),
  },
  {
    name: 'bad CRC in block 5',
    body: Buffer.concat([
      prefix,
      corruptCrc(encodeBlock(5, new Uint8Array(64))),
      encodeBlock(6, new Uint8Array(64)),
    ]),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'BAD_CRC',
    kept: prefix,
  },
  {
    name: 'seq gap after block 4',
    body: Buffer.concat([prefix, encodeBlock(6, new Uint8Array(64))]),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'SEQ_GAP',
    kept: prefix,
  },
  {
    name: 'oversize block 5',
    body: Buffer.concat([prefix, oversize(5)]),
    status: 413,
    errcode: 'M_TOO_LARGE',
    reason: 'LENGTH_OVER_LIMIT',
    kept: prefix,
  },
  {
    name: 'body ending inside block 5',
    body: Buffer.concat([prefix, encodeBlock(5, new Uint8Array(64)).subarray(0, 30)]),
    status: 400,
    errcode: 'M_BAD_BLOCK',
    reason: 'TRUNCATED',
    kept: prefix,
  },
];
