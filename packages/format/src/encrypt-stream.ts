/**
 * Encryption as a WHATWG TransformStream (browsers and Node) and as a plain function: each
 * plaintext chunk becomes exactly one block; the magic goes first (docs/format.md "The container").
 */
import type { BlockCipher } from './block-cipher.ts';
import { BlockWriter } from './block-writer.ts';
import { concatBytes } from './concat-bytes.ts';

export interface EncryptStreamOptions {
  /** Seq of the first block (default 0). */
  startSeq?: number;
  /** Emit the magic before the first block (default true; false when continuing a stream). */
  magic?: boolean;
}

export function createEncryptStream(
  cipher: BlockCipher,
  options: EncryptStreamOptions = {},
): TransformStream<Uint8Array, Uint8Array> {
  const writer = new BlockWriter(cipher, { startSeq: options.startSeq ?? 0 });
  const sync = writer.canWriteSync;
  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      if (options.magic ?? true) controller.enqueue(writer.magic());
    },
    async transform(chunk, controller) {
      controller.enqueue(sync ? writer.writeSync(chunk) : await writer.write(chunk));
    },
  });
}

/** Magic followed by one block per plaintext, as one byte array. */
export async function encryptAll(
  cipher: BlockCipher,
  plaintexts: Iterable<Uint8Array>,
  options: EncryptStreamOptions = {},
): Promise<Uint8Array> {
  const writer = new BlockWriter(cipher, { startSeq: options.startSeq ?? 0 });
  const parts: Uint8Array[] = (options.magic ?? true) ? [writer.magic()] : [];
  for (const p of plaintexts)
    parts.push(writer.canWriteSync ? writer.writeSync(p) : await writer.write(p));
  return concatBytes(parts);
}
