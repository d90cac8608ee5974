/**
 * One bisection probe over HTTP: `Range: bytes=N-` from an arbitrary byte offset, resync on the
 * framing (findBlockBoundary: registration code, plausible length, CRC), authenticate the block
 * found and read its page's granule. The response is cancelled as soon as one block is found.
 */
import { findBlockBoundary, type BlockCipher, type ByteOrder } from '@mxcast/format';
import { parseOggPage } from '@mxcast/ogg';
import type { ProbedBlock } from './granule-bisector.ts';
import { PlayerError } from './player-error.ts';
import { authHeaders, downloadUrl, httpError, type MediaLocation } from './relay-index.ts';

export interface BlockProbeOptions {
  location: MediaLocation;
  cipher: BlockCipher;
  byteOrder?: ByteOrder;
  maxBlockLength?: number;
  fetch?: typeof fetch;
  onRequest?: () => void;
  /** The framing was found again at `to` after starting at `from`. */
  onResync?: (from: number, to: number) => void;
}

export async function probeBlock(
  offset: number,
  o: BlockProbeOptions,
): Promise<ProbedBlock | null> {
  const fetchFn = o.fetch ?? globalThis.fetch.bind(globalThis);
  const abort = new AbortController();
  o.onRequest?.();
  let res: Response;
  try {
    res = await fetchFn(downloadUrl(o.location), {
      headers: { ...authHeaders(o.location), range: `bytes=${offset}-` },
      signal: abort.signal,
    });
  } catch (err) {
    throw new PlayerError('NETWORK', `probe at byte ${offset}: ${(err as Error).message}`, {
      fatal: false,
      cause: err,
      offset,
    });
  }
  if (res.status === 416) return null;
  if (!res.ok) throw await httpError(res, `probe at byte ${offset}`);
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  let buffer = new Uint8Array(0);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (value) {
        const grown = new Uint8Array(buffer.length + value.length);
        grown.set(buffer);
        grown.set(value, buffer.length);
        buffer = grown;
      }
      const found = findBlockBoundary(buffer, 0, {
        ...(o.byteOrder ? { byteOrder: o.byteOrder } : {}),
        ...(o.maxBlockLength ? { maxBlockLength: o.maxBlockLength } : {}),
      });
      if (found) {
        const size = 16 + found.header.length;
        const ciphertext = buffer.subarray(found.offset + 16, found.offset + size);
        let plaintext: Uint8Array;
        try {
          plaintext = await o.cipher.decrypt(found.header.seq, ciphertext, found.byteOrder);
        } catch {
          throw new PlayerError(
            'TAMPERED',
            `block ${found.header.seq} found by a seek probe failed authentication`,
            { fatal: true, seq: found.header.seq, offset: offset + found.offset },
          );
        }
        o.onResync?.(offset, offset + found.offset);
        let granule: bigint;
        try {
          granule = parseOggPage(plaintext).granule;
        } catch (err) {
          throw new PlayerError(
            'BAD_STREAM',
            `block ${found.header.seq}: ${(err as Error).message}`,
            { fatal: true, cause: err },
          );
        }
        return { seq: found.header.seq, offset: offset + found.offset, size, granule };
      }
      if (done) return null;
    }
  } finally {
    abort.abort();
    reader.releaseLock();
  }
}
