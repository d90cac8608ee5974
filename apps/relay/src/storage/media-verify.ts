/**
 * Checks a finished media file against what the database says about it, without stalling the
 * event loop: the file is read in chunks by async reads (libuv's thread pool), each chunk is hashed
 * (sha256, the completion hash of docs/architecture.md) and, when the block index is not known
 * from the database, walked for block headers only — registration code, seq, length — to rebuild
 * the offsets. No CRC is computed: the CRC only tells a true header from ciphertext when resyncing
 * (docs/architecture.md "Decisions"), and the sha256 covers every byte anyway.
 *
 * Between chunks the event loop runs other work; a chunk's hashing is the longest synchronous
 * step (about a millisecond for 512 KiB).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import {
  BLOCK_HEADER_SIZE,
  MAGIC,
  MAGIC_SIZE,
  REGISTRATION_CODE,
  parseBlockHeader,
  type ByteOrder,
} from '@mxcast/format';
import { OffsetList } from './offset-list.ts';

const CHUNK = 512 * 1024;

export interface VerifyRequest {
  path: string;
  /** The stored length the database records; the file must be exactly this long. */
  byteLength: number;
  /** The completion hash (unpadded base64), or null when there is none to check (cancelled). */
  sha256: string | null;
  /** Rebuild the offsets by walking block headers (when they were not persisted). */
  walk: boolean;
  byteOrder: ByteOrder;
  maxBlockLength: number;
}

export interface VerifyResult {
  /** What is wrong, in a few words for the log and the error; null when the file is intact. */
  damage: string | null;
  /** The walked offsets (when `walk` was asked and the walk succeeded). */
  offsets: OffsetList | null;
}

export async function verifyMediaFile(req: VerifyRequest): Promise<VerifyResult> {
  let fh;
  try {
    fh = await open(req.path, 'r');
  } catch {
    return { damage: 'file missing', offsets: null };
  }
  try {
    const size = (await fh.stat()).size;
    if (size !== req.byteLength) return { damage: sizeDamage(size, req.byteLength), offsets: null };
    const hasher = req.sha256 === null ? null : createHash('sha256');
    const walker = req.walk ? new HeaderWalker(req.byteOrder, req.maxBlockLength) : null;
    const buf = Buffer.allocUnsafe(CHUNK);
    let position = 0;
    while (position < size) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - position), position);
      if (bytesRead === 0) return { damage: sizeDamage(position, req.byteLength), offsets: null };
      const chunk = buf.subarray(0, bytesRead);
      hasher?.update(chunk);
      const walkError = walker?.push(chunk, position) ?? null;
      if (walkError) return { damage: walkError, offsets: null };
      position += bytesRead;
    }
    if (walker) {
      const walkError = walker.finish(size);
      if (walkError) return { damage: walkError, offsets: null };
    }
    if (hasher && hasher.digest('base64').replace(/=+$/, '') !== req.sha256)
      return { damage: 'sha256 does not match the completion hash', offsets: null };
    return { damage: null, offsets: walker?.offsets ?? null };
  } finally {
    await fh.close();
  }
}

/** The damage line for a file of the wrong size. */
export function sizeDamage(size: number, expected: number): string {
  const how = size < expected ? 'shorter' : 'longer';
  return `file is ${size} bytes, ${how} than the ${expected} stored`;
}

/**
 * Follows block headers across chunks: the next header's absolute offset, with the few bytes of a
 * header cut by a chunk boundary carried over.
 */
class HeaderWalker {
  readonly offsets = new OffsetList();
  private next = MAGIC_SIZE;
  private carry: Buffer | null = null;

  constructor(
    private readonly byteOrder: ByteOrder,
    private readonly maxBlockLength: number,
  ) {}

  /** Takes the chunk at absolute `position`; returns what is wrong, or null. */
  push(chunk: Buffer, position: number): string | null {
    if (position === 0) {
      if (chunk.length < MAGIC_SIZE || !chunk.subarray(0, MAGIC_SIZE).equals(MAGIC))
        return 'no MSC4016 magic at offset 0';
    }
    let view = chunk;
    let base = position;
    if (this.carry) {
      view = Buffer.concat([this.carry, chunk]);
      base = position - this.carry.length;
      this.carry = null;
    }
    const end = base + view.length;
    while (this.next + BLOCK_HEADER_SIZE <= end) {
      const h = parseBlockHeader(view, this.next - base, this.byteOrder);
      const seq = this.offsets.length;
      if (h.registration !== REGISTRATION_CODE || h.seq !== seq)
        return `no header of block ${seq} at offset ${this.next}`;
      if (h.length > this.maxBlockLength)
        return `block ${seq} at offset ${this.next} claims ${h.length} bytes, over the limit`;
      this.offsets.push(this.next);
      this.next += BLOCK_HEADER_SIZE + h.length;
    }
    if (this.next < end) this.carry = Buffer.from(view.subarray(this.next - base));
    return null;
  }

  finish(size: number): string | null {
    return this.next === size ? null : `last block ends at ${this.next}, not at ${size}`;
  }
}
