/**
 * BlockFramer: the key-less, incremental framing state machine of MSC4016 v3 (docs/format.md).
 * Bytes go in as chunks split anywhere; whole blocks come out as views into those chunks (a
 * copy only when a block straddles chunks). It checks magic, registration code, length bounds
 * (before buffering a block), CRC and consecutive seq, and tells the byte order from the first
 * header. It never decrypts: the relay uses it to validate uploads, the reader before decrypting.
 */
import {
  computeBlockCrc,
  detectByteOrder,
  parseBlockHeader,
  type BlockHeader,
} from './block-header.ts';
import {
  BLOCK_HEADER_SIZE,
  DEFAULT_MAX_BLOCK_LENGTH,
  FORMAT_VERSION,
  MAGIC,
  MAGIC_SIZE,
  MAX_SEQ,
  MIN_BLOCK_LENGTH,
  REGISTRATION_CODE,
  type ByteOrder,
} from './format-constants.ts';
import { FormatError } from './format-error.ts';

export interface BlockFramerOptions {
  /** Largest `len` accepted; a larger one is refused before its bytes are buffered. Default 1 MiB. */
  maxBlockLength?: number;
  /** The input starts with the 4-byte magic (a whole file). False when starting at a resync point. */
  expectMagic?: boolean;
  /** Absolute stream offset of the first byte pushed (for `offset` fields and errors). */
  startOffset?: number;
  /** Seq the first block must carry. Default 0 with magic; otherwise whatever the first block has. */
  expectedSeq?: number;
  /** Byte order of the stream; default: told from the first block header. */
  byteOrder?: ByteOrder;
}

export interface FramedBlock {
  seq: number;
  /** Absolute offset of the block's header in the stream. */
  offset: number;
  /** `len`: ciphertext plus tag. */
  length: number;
  crc: number;
  /** Header and ciphertext, as on the wire (a view into the pushed chunk when contiguous). */
  bytes: Uint8Array;
  /** Ciphertext with its 16-byte tag (a view into `bytes`). */
  ciphertext: Uint8Array;
  byteOrder: ByteOrder;
}

type State = 'magic' | 'header' | 'body';

export class BlockFramer {
  readonly maxBlockLength: number;
  #state: State;
  #chunks: Uint8Array[] = [];
  /** Read position inside #chunks[0]. */
  #head = 0;
  #buffered = 0;
  #offset: number;
  #nextSeq: number | undefined;
  #byteOrder: ByteOrder | undefined;
  #header: BlockHeader | undefined;
  #error: FormatError | undefined;

  constructor(options: BlockFramerOptions = {}) {
    const max = options.maxBlockLength ?? DEFAULT_MAX_BLOCK_LENGTH;
    if (!Number.isInteger(max) || max < MIN_BLOCK_LENGTH || max > 0xffffffff) {
      throw new FormatError(
        'BAD_ARGUMENT',
        `maxBlockLength ${max} must be an integer in ${MIN_BLOCK_LENGTH}..4294967295`,
      );
    }
    this.maxBlockLength = max;
    const expectMagic = options.expectMagic ?? true;
    this.#state = expectMagic ? 'magic' : 'header';
    this.#offset = options.startOffset ?? 0;
    this.#nextSeq = options.expectedSeq ?? (expectMagic ? 0 : undefined);
    this.#byteOrder = options.byteOrder;
  }

  /** Absolute offset of the first byte not yet framed (the next block's header, between blocks). */
  get offset(): number {
    return this.#offset;
  }

  /** Seq the next block must carry; undefined until known (no magic and no expectedSeq). */
  get nextSeq(): number | undefined {
    return this.#nextSeq;
  }

  /** Byte order of the stream; undefined until the first header has been seen. */
  get byteOrder(): ByteOrder | undefined {
    return this.#byteOrder;
  }

  /** Bytes pushed but not yet returned in a block. */
  get buffered(): number {
    return this.#buffered;
  }

  /** True when everything pushed so far ends on a block boundary (after the magic, if expected). */
  get atBoundary(): boolean {
    return this.#state === 'header' && this.#buffered === 0;
  }

  /** The first framing error, once one has happened; bytes after `offset` were not accepted. */
  get error(): FormatError | undefined {
    return this.#error;
  }

  /**
   * Adds bytes and returns every block they complete. The chunk must not be modified afterwards:
   * returned blocks may be views into it. When the chunk holds good blocks and then a fault, the
   * good blocks are returned, `error` is set at once and the next push()/finish() throws it;
   * a fault with no good block before it in this chunk throws at once. After an error, every
   * call throws that error again, and `offset` stays at the end of the last good block.
   */
  push(chunk: Uint8Array): FramedBlock[] {
    if (this.#error) throw this.#error;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: FramedBlock[] = [];
    try {
      for (;;) {
        if (this.#state === 'magic') {
          if (this.#buffered < MAGIC_SIZE) break;
          this.#checkMagic(this.#peek(MAGIC_SIZE));
          this.#consume(MAGIC_SIZE);
          this.#state = 'header';
        } else if (this.#state === 'header') {
          if (this.#buffered < BLOCK_HEADER_SIZE) break;
          this.#header = this.#readHeader(this.#peek(BLOCK_HEADER_SIZE));
          this.#state = 'body';
        } else {
          const header = this.#header as BlockHeader;
          const total = BLOCK_HEADER_SIZE + header.length;
          if (this.#buffered < total) break;
          out.push(this.#frame(header, this.#peek(total)));
          this.#consume(total);
          this.#header = undefined;
          this.#state = 'header';
        }
      }
    } catch (err) {
      this.#error = err as FormatError;
      this.#chunks = [];
      this.#buffered = 0;
      // Blocks complete before the fault are good: hand them out, and report the fault on the
      // next call (it is already visible in `error`). Errors thus surface in stream order.
      if (out.length === 0) throw err;
    }
    return out;
  }

  /** Declares the end of input; throws TRUNCATED when it ends inside the magic or a block. */
  finish(): void {
    if (this.#error) throw this.#error;
    if (this.#state === 'header' && this.#buffered === 0) return;
    const where = this.#state === 'magic' ? 'the magic' : `block ${this.#nextSeq ?? '?'}`;
    const need =
      this.#state === 'magic'
        ? MAGIC_SIZE
        : BLOCK_HEADER_SIZE + (this.#header ? this.#header.length : 0);
    this.#error = new FormatError(
      'TRUNCATED',
      `stream ended inside ${where} at offset ${this.#offset}: have ${this.#buffered} of ${this.#state === 'header' ? `at least ${need}` : need} bytes`,
      { seq: this.#nextSeq, offset: this.#offset },
    );
    throw this.#error;
  }

  #checkMagic(magic: Uint8Array): void {
    const same = (i: number) => magic[i] === MAGIC[i];
    if (same(0) && same(1) && same(2) && !same(3)) {
      throw new FormatError(
        'UNSUPPORTED_VERSION',
        `magic says MXC version ${magic[3]}, only version ${FORMAT_VERSION} is supported`,
        { offset: this.#offset },
      );
    }
    if (!(same(0) && same(1) && same(2) && same(3))) {
      throw new FormatError(
        'BAD_MAGIC',
        `stream starts with ${hex(magic)}, not the MXC v3 magic ${hex(MAGIC)}`,
        {
          offset: this.#offset,
        },
      );
    }
  }

  #readHeader(bytes: Uint8Array): BlockHeader {
    const offset = this.#offset;
    const order = this.#byteOrder ?? detectByteOrder(bytes, 0);
    const header = parseBlockHeader(bytes, 0, order);
    if (header.registration !== REGISTRATION_CODE) {
      throw new FormatError(
        'BAD_REGISTRATION',
        `block header at offset ${offset} starts with ${hex(bytes.subarray(0, 4))}, not the registration code ff ff ff ff`,
        { seq: this.#nextSeq, offset },
      );
    }
    if (header.length < MIN_BLOCK_LENGTH) {
      throw new FormatError(
        'LENGTH_UNDER_MIN',
        `block at offset ${offset} has length ${header.length}, under the ${MIN_BLOCK_LENGTH}-byte GCM tag`,
        { seq: this.#nextSeq, offset },
      );
    }
    if (header.length > this.maxBlockLength) {
      throw new FormatError(
        'LENGTH_OVER_LIMIT',
        `block at offset ${offset} has length ${header.length}, over the limit of ${this.maxBlockLength}`,
        { seq: this.#nextSeq, offset },
      );
    }
    this.#byteOrder = order;
    return header;
  }

  #frame(header: BlockHeader, bytes: Uint8Array): FramedBlock {
    const offset = this.#offset;
    const actual = computeBlockCrc(bytes);
    // Legacy little-endian streams carry crc = 0 (docs/format.md "Byte-order detection"); a zero
    // CRC is only accepted there.
    const crcOk = header.crc === actual || (header.byteOrder === 'le' && header.crc === 0);
    if (!crcOk) {
      throw new FormatError(
        'BAD_CRC',
        `block at offset ${offset} has CRC ${hex32(header.crc)}, computed ${hex32(actual)}`,
        { seq: this.#nextSeq, offset },
      );
    }
    const expected = this.#nextSeq;
    if (expected !== undefined && header.seq !== expected) {
      throw new FormatError(
        'SEQ_GAP',
        `block at offset ${offset} has seq ${header.seq}, expected ${expected > MAX_SEQ ? 'none after seq 4294967295' : expected}`,
        { seq: header.seq, offset },
      );
    }
    this.#nextSeq = header.seq + 1;
    return {
      seq: header.seq,
      offset,
      length: header.length,
      crc: header.crc,
      bytes,
      ciphertext: bytes.subarray(BLOCK_HEADER_SIZE),
      byteOrder: header.byteOrder,
    };
  }

  /** The next `n` buffered bytes: a view when they sit in one chunk, else a copy. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    const out = new Uint8Array(n);
    let filled = 0;
    let pos = this.#head;
    for (const chunk of this.#chunks) {
      const take = Math.min(n - filled, chunk.length - pos);
      out.set(chunk.subarray(pos, pos + take), filled);
      filled += take;
      pos = 0;
      if (filled === n) break;
    }
    return out;
  }

  #consume(n: number): void {
    this.#buffered -= n;
    this.#offset += n;
    let left = n;
    while (left > 0) {
      const first = this.#chunks[0] as Uint8Array;
      const avail = first.length - this.#head;
      if (avail > left) {
        this.#head += left;
        return;
      }
      left -= avail;
      this.#chunks.shift();
      this.#head = 0;
    }
  }
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function hex32(n: number): string {
  return '0x' + n.toString(16).padStart(8, '0');
}
