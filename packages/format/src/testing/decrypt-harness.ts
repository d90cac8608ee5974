/**
 * Test-only: runs bytes (split into parts) through createDecryptStream and records what came out
 * before the stream stopped, and how it stopped.
 */
import type { BlockCipher } from '../block-cipher.ts';
import {
  createDecryptStream,
  type DecryptedBlock,
  type DecryptStreamOptions,
} from '../decrypt-stream.ts';
import { FormatError } from '../format-error.ts';

export interface DecryptRun {
  blocks: DecryptedBlock[];
  error: FormatError | null;
}

export async function runDecrypt(
  cipher: BlockCipher,
  parts: readonly Uint8Array[],
  options?: DecryptStreamOptions,
): Promise<DecryptRun> {
  const source = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const p of parts) controller.enqueue(p);
      controller.close();
    },
  });
  const blocks: DecryptedBlock[] = [];
  try {
    const reader = source.pipeThrough(createDecryptStream(cipher, options)).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { blocks, error: null };
      blocks.push(value);
    }
  } catch (err) {
    // Anything but a FormatError is a crash, and must fail the test.
    if (!(err instanceof FormatError)) throw err;
    return { blocks, error: err };
  }
}

/** Every chunk of a ReadableStream (the DOM typings lack its async iterator). */
export async function readAll<T>(stream: ReadableStream<T>): Promise<T[]> {
  const reader = stream.getReader();
  const out: T[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out.push(value);
  }
}
