/**
 * Decryption as a WHATWG TransformStream and as a plain function: MXC v3 bytes in, split
 * anywhere; one DecryptedBlock per block out. Framing is checked by BlockFramer before any
 * decryption; a block is emitted only after its GCM tag verifies, and the first failure errors
 * the stream, so nothing of a bad block or after it is ever emitted (DESIGN.md §2).
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

async function open(cipher: BlockCipher, block: FramedBlock): Promise<DecryptedBlock> {
  try {
    const plaintext = cipher.decryptSync
      ? cipher.decryptSync(block.seq, block.ciphertext, block.byteOrder)
      : await cipher.decrypt(block.seq, block.ciphertext, block.byteOrder);
    return { seq: block.seq, offset: block.offset, plaintext };
  } catch (err) {
    if (err instanceof FormatError && err.offset === undefined) {
      throw new FormatError(err.code, `${err.message} at offset ${block.offset}`, {
        seq: block.seq,
        offset: block.offset,
        cause: err.cause,
      });
    }
    throw err;
  }
}

export function createDecryptStream(
  cipher: BlockCipher,
  options: DecryptStreamOptions = {},
): TransformStream<Uint8Array, DecryptedBlock> {
  const framer = new BlockFramer(options);
  return new TransformStream<Uint8Array, DecryptedBlock>({
    async transform(chunk, controller) {
      for (const block of framer.push(chunk)) controller.enqueue(await open(cipher, block));
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
    for (const block of framer.push(chunk)) out.push(await open(cipher, block));
  }
  framer.finish();
  return out;
}
