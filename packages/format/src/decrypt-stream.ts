/**
 * Decryption as a WHATWG TransformStream and as a plain function: MXC v3 bytes in, split
 * anywhere; one DecryptedBlock per block out. Framing is checked by BlockFramer before any
 * decryption; a block is emitted only after its GCM tag verifies, and the first failure errors
 * the stream, so nothing of a bad block or after it is ever emitted (docs/format.md).
 */
import type { BlockCipher } from './block-cipher.ts';
import { BlockFramer, type BlockFramerOptions, type FramedBlock } from './block-framer.ts';
import { FormatError } from './format-error.ts';

export interface DecryptedBlock {
  seq: number;
  /** Absolute offset of the block's header in the stream. */
  offset: number;
  plaintext: Uint8Array;
}

export type DecryptStreamOptions = BlockFramerOptions;

/** Adds the block's stream offset to a cipher error (the cipher knows only the seq). */
function located(err: unknown, block: FramedBlock): unknown {
  if (err instanceof FormatError && err.offset === undefined) {
    return new FormatError(err.code, `${err.message} at offset ${block.offset}`, {
      seq: block.seq,
      offset: block.offset,
      cause: err.cause,
    });
  }
  return err;
}

/** Sync when the backend can (node:crypto): no promise per block on the hot path. */
function openSync(cipher: BlockCipher, block: FramedBlock): DecryptedBlock | undefined {
  if (!cipher.sync) return undefined;
  try {
    const plaintext = cipher.sync.decrypt(block.seq, block.ciphertext, block.byteOrder);
    return { seq: block.seq, offset: block.offset, plaintext };
  } catch (err) {
    throw located(err, block);
  }
}

async function open(cipher: BlockCipher, block: FramedBlock): Promise<DecryptedBlock> {
  try {
    const plaintext = await cipher.decrypt(block.seq, block.ciphertext, block.byteOrder);
    return { seq: block.seq, offset: block.offset, plaintext };
  } catch (err) {
    throw located(err, block);
  }
}

export function createDecryptStream(
  cipher: BlockCipher,
  options: DecryptStreamOptions = {},
): TransformStream<Uint8Array, DecryptedBlock> {
  const framer = new BlockFramer(options);
  return new TransformStream<Uint8Array, DecryptedBlock>({
    async transform(chunk, controller) {
      for (const block of framer.push(chunk)) {
        controller.enqueue(openSync(cipher, block) ?? (await open(cipher, block)));
      }
    },
    flush() {
      framer.finish();
    },
  });
}

/**
 * Decrypts a whole stream held in memory (or fed as chunks). Resolves to every block in order,
 * or rejects with the first error, having returned nothing.
 */
export async function decryptAll(
  cipher: BlockCipher,
  input: Uint8Array | Iterable<Uint8Array>,
  options: DecryptStreamOptions = {},
): Promise<DecryptedBlock[]> {
  const framer = new BlockFramer(options);
  const out: DecryptedBlock[] = [];
  const chunks = input instanceof Uint8Array ? [input] : input;
  for (const chunk of chunks) {
    for (const block of framer.push(chunk)) {
      out.push(openSync(cipher, block) ?? (await open(cipher, block)));
    }
  }
  framer.finish();
  return out;
}
